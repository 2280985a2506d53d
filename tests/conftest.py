"""Test fixtures. The whole suite runs on SQLite (default) or on PostgreSQL when
FANGKONG_TEST_DATABASE_URL is set (CI runs both). Tests commit for real, like production;
every table is emptied after each test that touched the database."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

_TMP = Path(tempfile.mkdtemp(prefix="fangkong-test-"))
DB_URL = os.environ.get("FANGKONG_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}"
os.environ["FANGKONG_ENV"] = "test"
os.environ["FANGKONG_DATABASE_URL"] = DB_URL
os.environ["FANGKONG_DATA_DIR"] = str(_TMP / "data")
os.environ["FANGKONG_INPROCESS_WORKER"] = "false"
os.environ.setdefault("FANGKONG_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")

from fangkong.auth.actor import Actor, system_actor  # noqa: E402
from fangkong.config import Settings, get_settings  # noqa: E402
from fangkong.db.base import Base  # noqa: E402
from fangkong.db.engine import make_engine  # noqa: E402
from fangkong.db.session import make_session_factory  # noqa: E402

TODAY = dt.date(2026, 11, 23)
PASSWORD = "correct-horse-42"

# A small slice of the real division tree, plus local communities and grids.
AREAS: list[tuple[str, str, str]] = [
    ("11", "北京市", "province"),
    ("1101", "市辖区", "city"),
    ("110105", "朝阳区", "county"),
    ("110105001", "建外街道", "township"),
    ("51", "四川省", "province"),
    ("5101", "成都市", "city"),
    ("510104", "锦江区", "county"),
    ("510105", "青羊区", "county"),
    ("510104020", "春熙路街道", "township"),
    ("510104021", "书院街街道", "township"),
    ("510105001", "少城街道", "township"),
    ("510104020001", "和平社区", "community"),
    ("510104020002", "东风社区", "community"),
    ("510104021001", "书院社区", "community"),
    ("510105001001", "宽巷子社区", "community"),
    ("510104020001001", "第1网格", "grid"),
    ("510104020001002", "第2网格", "grid"),
]


def is_postgres() -> bool:
    return DB_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    from fangkong.db import migrate

    eng = make_engine(url=DB_URL)
    if is_postgres():
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _own_movement_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets an empty movement store (Parquet files are not in the database)."""
    monkeypatch.setenv("FANGKONG_MOVEMENT_DIR", str(tmp_path / "movement"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield make_session_factory(engine)
    _empty(engine)


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if is_postgres():
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            conn.execute(text("UPDATE app_user SET person_id = NULL"))
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as s:
        yield s


@pytest.fixture
def areas(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    from fangkong.area.codes import parent_of

    with factory.begin() as s:
        s.execute(
            insert(Base.metadata.tables["area"]),
            [
                {
                    "code": c,
                    "name": n,
                    "level": lv,
                    "parent_code": parent_of(c),
                    "local": lv in ("community", "grid"),
                    "created_at": dt.datetime.now(dt.UTC),
                }
                for c, n, lv in AREAS
            ],
        )
    return AREAS


@pytest.fixture
def system() -> Actor:
    return system_actor("test")


class Users:
    """Creates accounts and logs them in."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def create(
        self, username: str, *roles: str, area: str | None = "5101", person_id: int | None = None
    ) -> Actor:
        from fangkong.auth import service as auth

        with self.factory.begin() as s:
            user = auth.create_user(
                session=s,
                actor=system_actor("test"),
                data=auth.NewUser(
                    username=username,
                    display_name=username,
                    password=PASSWORD,
                    roles=roles,
                    area_code=area,
                    person_id=person_id,
                ),
            )
            return auth.actor_of(user)


@pytest.fixture
def users(factory: sessionmaker[Session]) -> Users:
    return Users(factory)


@pytest.fixture
def app(engine: Engine, settings: Settings, factory: sessionmaker[Session]) -> Any:
    from fangkong.api.app import create_app

    return create_app(settings, engine=engine, worker=False)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def login(client: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    resp = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def person_payload(**overrides: Any) -> dict[str, Any]:
    """A valid person (resident ID built for the given or default birth date)."""
    from fangkong.person.identity import make_resident_id

    birth = overrides.pop("birth", dt.date(1985, 6, 1))
    sex = overrides.pop("sex_for_id", "female")
    seq = overrides.pop("seq", 1)
    data = {
        "name": "张三丰",
        "area_code": "510104020001001",
        "id_number": make_resident_id("510104", birth, seq, sex=sex),
        "phone": "13800138000",
        "address": "和平社区3栋2单元501室",
    }
    data.update(overrides)
    return data
