"""The movement store this installation reads (Parquet folders under the movement dir) and the
tracing engine chosen in the settings."""

from __future__ import annotations

from fangkong.config import Settings, get_settings
from fangkong.contact.finding import Movement, movement_store
from fangkong.tracing import ports


def default(settings: Settings | None = None) -> Movement:
    settings = settings or get_settings()
    options: dict[str, object] = {}
    if settings.tracing_engine == "spark":
        options["master"] = settings.spark_master
    return movement_store(settings.resolved_movement_dir, ports.engine(settings.tracing_engine, **options))
