"""testing rounds repeat automatically

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# Plain ALTERs, no batch mode: SQLite adds a column with a constant default, adds and drops an
# index and (3.35+) drops a plain column in place. Rebuilding nat_round (what batch mode would
# do) fails on SQLite once tubes and samples refer to its rows.


def upgrade() -> None:
    # Existing rounds stay as they are (off): the worker does not start repeating old series.
    op.add_column(
        "nat_round", sa.Column("auto_repeat", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("uq_nat_round_series_id_seq", "nat_round", ["series_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_nat_round_series_id_seq", table_name="nat_round")
    op.drop_column("nat_round", "auto_repeat")
