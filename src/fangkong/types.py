"""Shared annotated types for API parameters and schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_ID = 2_147_483_647  # integer primary keys (PostgreSQL int4)

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=500, description="page size")]
After = Annotated[int, Field(ge=0, le=MAX_ID, description="keyset cursor: `next_after` of the previous page")]
AreaCodeParam = Annotated[str, Field(min_length=2, max_length=15, pattern=r"^\d+$")]


def _sane_date(value: dt.date) -> dt.date:
    if not dt.date(1900, 1, 1) <= value <= dt.date(2200, 12, 31):
        raise ValueError("a date between 1900-01-01 and 2200-12-31")
    return value


# A calendar day as a search bound (turned into local midnight, so far-off years would overflow).
DayParam = Annotated[dt.date, AfterValidator(_sane_date)]
