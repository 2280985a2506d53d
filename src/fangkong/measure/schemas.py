"""API shapes for person categories, measures and explanations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fangkong.policy.schema import Category, ContactSetting


class CategoryAssign(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Category
    clock_at: dt.datetime | dt.date = Field(
        description="the clock's start event (last exposure, arrival, …); a date, or a time "
        "(naive times are local time)"
    )
    setting: ContactSetting | None = None
    place: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=200, description="e.g. the case it came from")
    close_contact_positive: bool = False


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    category: str
    clock_at: dt.datetime
    setting: str | None
    place: str | None
    source: str | None
    close_contact_positive: bool
    status: str
    created_at: dt.datetime


class MeasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    kind: str
    start: dt.date
    end: dt.date
    test_dates: list[str]
    category: str
    rule_id: str
    profile_id: str
    version: int
    checksum: str
    reason_zh: str
    reason_en: str
    status: str


class Explanation(BaseModel):
    person_id: int
    as_of: dt.datetime
    profile: str
    version: int
    checksum: str
    categories: list[CategoryOut]
    measures: list[dict[str, Any]]
    health_code: str
    decisions: list[dict[str, Any]]


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=4, max_length=500)
