"""policy activations, person categories, measures, decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:07:19.198040
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fangkong.db.base
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_activation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.String(length=48), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('resolved', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('activated_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_policy_activation_actor_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_activation'))
    )
    with op.batch_alter_table('policy_activation', schema=None) as batch_op:
        batch_op.create_index('ix_policy_activation_effective_from', ['effective_from', 'id'], unique=False)

    op.create_table('measure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('test_dates', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('rule_id', sa.String(length=120), nullable=False),
    sa.Column('profile_id', sa.String(length=48), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('reason_zh', sa.Text(), nullable=False),
    sa.Column('reason_en', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_measure_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measure'))
    )
    with op.batch_alter_table('measure', schema=None) as batch_op:
        batch_op.create_index('ix_measure_person_status', ['person_id', 'status'], unique=False)
        batch_op.create_index('ix_measure_status_end', ['status', 'end'], unique=False)

    op.create_table('person_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('clock_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('setting', sa.String(length=16), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('close_contact_positive', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_person_category_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_category'))
    )
    with op.batch_alter_table('person_category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_category_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_person_category_status', ['status', 'person_id'], unique=False)

    op.create_table('policy_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=120), nullable=False),
    sa.Column('profile_id', sa.String(length=48), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('reason_zh', sa.Text(), nullable=False),
    sa.Column('reason_en', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('decided_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_policy_decision_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_decision'))
    )
    with op.batch_alter_table('policy_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_decision_person_id'), ['person_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('policy_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_decision_person_id'))

    op.drop_table('policy_decision')
    with op.batch_alter_table('person_category', schema=None) as batch_op:
        batch_op.drop_index('ix_person_category_status')
        batch_op.drop_index(batch_op.f('ix_person_category_person_id'))

    op.drop_table('person_category')
    with op.batch_alter_table('measure', schema=None) as batch_op:
        batch_op.drop_index('ix_measure_status_end')
        batch_op.drop_index('ix_measure_person_status')

    op.drop_table('measure')
    with op.batch_alter_table('policy_activation', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_activation_effective_from')

    op.drop_table('policy_activation')
