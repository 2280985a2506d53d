"""API shapes for investigations."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fangkong.types import MAX_ID

Step = Literal["on_site", "core_facts", "report"]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Step
    at: dt.datetime | None = Field(default=None, description="default now; naive times are local")
    summary: str | None = Field(default=None, max_length=20_000, description="report: the conclusions")
    source_of_infection: str | None = Field(default=None, max_length=2000)


class EntryIn(BaseModel):
    """One line of the timeline: a place (with times), a person met, a trip, or a note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["place", "person", "trip", "note"]
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    place_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    place_text: str | None = Field(default=None, max_length=300)
    person_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    person_text: str | None = Field(default=None, max_length=200)
    relation: str | None = Field(default=None, max_length=32)
    mode: Literal["flight", "train", "coach"] | None = None
    number: str | None = Field(default=None, max_length=16)
    carriage: str | None = Field(default=None, max_length=8)
    seat: str | None = Field(default=None, max_length=8)
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _complete(self) -> EntryIn:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end: must not be before start")
        if self.kind == "place" and not (self.place_id or self.place_text):
            raise ValueError("place_text: a place entry needs a venue (place_id) or a description")
        if self.kind == "person" and not (self.person_id or self.person_text):
            raise ValueError("person_text: a person entry needs a registered person (person_id) or a name")
        if self.kind == "trip" and not (self.mode and self.number):
            raise ValueError("number: a trip needs the mode and the flight/train/coach number")
        return self


class InvestigationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    notified_at: dt.datetime
    on_site_due: dt.datetime
    core_facts_due: dt.datetime
    report_due: dt.datetime
    on_site_at: dt.datetime | None
    core_facts_at: dt.datetime | None
    report_at: dt.datetime | None
    status: str
    lead: str | None
    profile_id: str
    summary: str | None
    source_of_infection: str | None


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    start: dt.datetime | None
    end: dt.datetime | None
    place_id: int | None
    place_text: str | None
    person_id: int | None
    person_text: str | None
    relation: str | None
    mode: str | None
    number: str | None
    carriage: str | None
    seat: str | None
    notes: str | None
    recorded_by: str
