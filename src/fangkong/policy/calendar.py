"""Day counting, in local calendar days (pure).

The period of a measure is counted from the local calendar date of its clock's start event.
With `day_one: after_start` (the national convention) day 1 is the first calendar day after
that date; with `start_day` it is that date itself. A measure of N days ends at the end of its
day N; test days use the same numbering.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

DEFAULT_TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def local_date(at: dt.date | dt.datetime, tz: dt.tzinfo = DEFAULT_TZ) -> dt.date:
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            raise ValueError("clock times must be timezone-aware (or plain dates)")
        return at.astimezone(tz).date()
    return at


def day_one(start: dt.date, convention: str) -> dt.date:
    return start + dt.timedelta(days=1) if convention == "after_start" else start


def day_date(first: dt.date, n: int) -> dt.date:
    """The date of day `n` (1-based) of a period whose day 1 is `first`."""
    return first + dt.timedelta(days=n - 1)


def spread(tests: int, days: int) -> list[int]:
    """`tests` test days spread over `days` days, first and last day included (3天2检 → 1, 3)."""
    if tests <= 1:
        return [1]
    return sorted({round(1 + i * (days - 1) / (tests - 1)) for i in range(tests)})
