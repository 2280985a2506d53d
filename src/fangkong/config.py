"""Settings, read from the environment (prefix FANGKONG_) and an optional .env file.

Nothing is read at import time: call `get_settings()` (cached) or build `Settings(...)`
explicitly in tests.
"""

from __future__ import annotations

import functools
import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fangkong.errors import ConfigError

DEV_SECRET = "dev-insecure-secret-change-me"

Language = Literal["zh-CN", "en"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FANGKONG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/fangkong.db"
    )
    secret_key: str = DEV_SECRET
    timezone: str = "Asia/Shanghai"
    language: Language = "zh-CN"
    host: str = "127.0.0.1"
    port: int = 8000
    # Login protection
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    login_rate_per_minute: int = 20
    api_token_hours: int = 12
    web_session_hours: int = 12
    # Run domain-event handlers in a thread inside the web server (demo / small installs).
    inprocess_worker: bool = True
    # Swab registration waits this long after a swab for others to share its commit (group
    # commit); longer batches cost fewer statements per swab, at that much latency.
    intake_linger_ms: float = Field(default=4.0, ge=0, le=200)
    # Writer threads of swab registration (PostgreSQL; SQLite has one writer at a time anyway).
    # More than one pays when the database is far away (long round trips) and its CPU spare.
    intake_writers: int = Field(default=1, ge=1, le=8)
    # FastAPI's native OpenTelemetry traces/metrics/logs through the global providers.
    opentelemetry: bool = False
    movement_dir: Path | None = None
    # The city this installation serves: persons living outside it become assistance requests
    # (协查函); its centre picks the UTM zone of the tracing grid.
    city_code: str = "5101"
    city_lon: float = Field(default=104.066, ge=-180, le=180)
    city_lat: float = Field(default=30.657, ge=-90, le=90)
    tracing_engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[*]"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "prod" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ConfigError(
                "FANGKONG_SECRET_KEY must be set to a random value of at least 32 characters "
                "outside dev (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fangkong.db').resolve()}"

    @property
    def resolved_movement_dir(self) -> Path:
        return self.movement_dir or (self.data_dir / "movement")

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@functools.cache
def get_settings() -> Settings:
    return Settings()
