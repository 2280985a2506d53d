"""API shapes for venues."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fangkong.fields import AreaCodeIn, Located
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.types import MAX_ID


class _PlaceFields(Located):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, description="one of the 20 key place categories")
    area_code: AreaCodeIn | None = Field(default=None, max_length=15)
    address: str | None = Field(default=None, max_length=300)
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)
    responsible_unit_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    venue_code: str | None = Field(default=None, min_length=4, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")

    @field_validator("venue_code")
    @classmethod
    def _venue_code(cls, v: str | None) -> str | None:
        return v.upper() if v else v

    @field_validator("category")
    @classmethod
    def _category(cls, v: str | None) -> str | None:
        if v is not None and v not in PLACE_CATEGORIES:
            raise ValueError(f"unknown place category {v!r}; see docs/registry.md for the 20 codes")
        return v


class PlaceCreate(_PlaceFields):
    name: str = Field(min_length=1, max_length=200)
    category: str
    area_code: AreaCodeIn = Field(max_length=15)


class PlaceUpdate(_PlaceFields):
    """PATCH: only the fields given change (required fields cannot be set to null)."""


class PlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    category: str
    area_code: str
    address: str | None
    lon: float | None
    lat: float | None
    capacity: int | None
    responsible_unit_id: int | None
    venue_code: str
    created_at: dt.datetime
    updated_at: dt.datetime


class PlacePage(BaseModel):
    items: list[PlaceOut]
    next_after: int | None
