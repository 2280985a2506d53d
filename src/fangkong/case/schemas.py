"""API shapes for cases."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fangkong.types import MAX_ID

Classification = Literal["suspected", "asymptomatic", "confirmed"]
Origin = Literal["local", "imported", "unknown"]
FoundBy = Literal[
    "screening",
    "fever_clinic",
    "contact_under_control",
    "arrival_test",
    "key_group_testing",
    "community_report",
    "self_report",
    "other",
]
CareStatus = Literal[
    "not_isolated",
    "home_isolation",
    "central_isolation",
    "makeshift_hospital",
    "designated_hospital",
    "discharged",
]
Outcome = Literal["recovered", "died", "excluded"]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person_id: int = Field(ge=1, le=MAX_ID)
    classification: Classification
    origin: Origin = "unknown"
    onset_date: dt.date | None = None
    first_positive_at: dt.datetime | None = Field(default=None, description="naive times are local")
    found_by: FoundBy = "other"
    care_status: CareStatus = "not_isolated"
    care_place: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _anchor(self) -> CaseCreate:
        if self.classification == "asymptomatic" and self.onset_date is not None:
            raise ValueError("onset_date: an asymptomatic infection has no onset")
        if self.classification != "suspected" and self.onset_date is None and self.first_positive_at is None:
            raise ValueError("first_positive_at: give the first positive sampling time (or an onset date)")
        return self


class CaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    origin: Origin | None = None
    onset_date: dt.date | None = None
    care_status: CareStatus | None = None
    care_place: str | None = Field(default=None, max_length=200)
    outcome: Outcome | None = None
    notes: str | None = Field(default=None, max_length=2000)


class Reclassify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classification: Classification
    reason: str = Field(min_length=4, max_length=500)
    onset_date: dt.date | None = Field(
        default=None, description="when an asymptomatic infection develops symptoms"
    )


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_no: str
    person_id: int
    area_code: str
    classification: str
    origin: str
    onset_date: dt.date | None
    first_positive_at: dt.datetime | None
    found_by: str
    care_status: str
    care_place: str | None
    outcome: str | None
    reported_at: dt.datetime
    created_at: dt.datetime


class CaseChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    field: str
    old: str | None
    new: str | None
    reason: str | None
    actor_name: str
    at: dt.datetime


class CasePage(BaseModel):
    items: list[CaseOut]
    next_after: int | None
