"""Settings: defaults, the refused default secret outside dev, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fangkong.config import DEV_SECRET, Settings
from fangkong.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "FANGKONG_DATABASE_URL",
        "FANGKONG_DATA_DIR",
        "FANGKONG_ENV",
        "FANGKONG_SECRET_KEY",
        "FANGKONG_MOVEMENT_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.env == "dev" and s.timezone == "Asia/Shanghai" and s.language == "zh-CN"
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'fangkong.db'}"
    assert s.resolved_movement_dir == Path("data/movement")


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGKONG_DATABASE_URL", "postgresql://u@db/fk")
    assert Settings().resolved_database_url == "postgresql://u@db/fk"


@pytest.mark.parametrize("secret", [DEV_SECRET, "short-secret"])
def test_production_refuses_weak_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("FANGKONG_ENV", "prod")
    monkeypatch.setenv("FANGKONG_SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="FANGKONG_SECRET_KEY"):
        Settings()


def test_production_accepts_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGKONG_ENV", "prod")
    monkeypatch.setenv("FANGKONG_SECRET_KEY", "x" * 40)
    assert Settings().env == "prod"


@pytest.mark.parametrize(
    "var,value",
    [("FANGKONG_TIMEZONE", "Mars/Olympus"), ("FANGKONG_LANGUAGE", "fr"), ("FANGKONG_ENV", "staging")],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings()


def test_postgres_urls_use_psycopg3() -> None:
    from fangkong.db.engine import normalize_url

    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_url("postgres://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
