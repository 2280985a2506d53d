"""Local time helpers: the platform stores UTC and shows/counts in the configured zone."""

from __future__ import annotations

import datetime as dt

from fangkong.config import get_settings


def local_today() -> dt.date:
    return dt.datetime.now(get_settings().tz).date()


def to_local(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(get_settings().tz)


def parse_local(value: str) -> dt.datetime:
    """ISO 8601; a naive time is local time of the settings' zone. Returns aware UTC."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=get_settings().tz)
    return parsed.astimezone(dt.UTC)
