"""Storage: migrations match the models; SQLite is tuned; datetimes stay UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from fangkong.audit.models import AuditEntry
from fangkong.db import migrate
from fangkong.db.base import Base
from tests.conftest import is_postgres


def test_migrations_match_models(engine: Any) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
    assert migrate.current_revision(engine) == migrate.head_revision(engine)


def test_sqlite_pragmas(engine: Any) -> None:
    if is_postgres():
        assert engine.dialect.driver == "psycopg"
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_foreign_keys_enforced(factory: Any) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    with factory() as s, pytest.raises(IntegrityError):
        s.execute(
            text(
                "INSERT INTO area (code, name, level, parent_code, local, created_at) "
                "VALUES ('5999', 'x', 'city', '59', false, CURRENT_TIMESTAMP)"
            )
        )
        s.commit()


def test_datetimes_round_trip_as_utc(factory: Any) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    at = dt.datetime(2022, 7, 1, 9, 30, tzinfo=shanghai)
    with factory() as s:
        s.add(AuditEntry(at=at, actor_name="t", action="x", resource_type="y"))
        s.commit()
    with factory() as s:
        back = s.scalar(select(AuditEntry.at))
    assert back == at and back.tzinfo is not None and back.utcoffset() == dt.timedelta(0)


def test_naive_datetimes_are_refused(factory: Any) -> None:
    import pytest
    from sqlalchemy.exc import StatementError

    with factory() as s, pytest.raises(StatementError, match="naive"):
        s.add(AuditEntry(at=dt.datetime(2022, 7, 1), actor_name="t", action="x", resource_type="y"))
        s.commit()


def test_upgrade_on_empty_database_and_downgrade(tmp_path: Any) -> None:
    from fangkong.db.engine import make_engine

    eng = make_engine(url=f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate.upgrade(eng)
    assert migrate.current_revision(eng) == migrate.head_revision(eng)
    from alembic import command

    cfg = migrate.alembic_config(eng)
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with eng.connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables <= {"alembic_version"}
    eng.dispose()
