"""API shapes for venues."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fangkong.area import codes
from fangkong.errors import FangkongError
from fangkong.place.categories import PLACE_CATEGORIES


def _area(v: Any) -> Any:
    if v is None:
        return None
    try:
        return codes.normalize(v)
    except FangkongError as exc:
        raise ValueError(exc.details[0].reason) from None


class _PlaceFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, description="one of the 20 key place categories")
    area_code: str | None = Field(default=None, max_length=15)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)
    responsible_unit_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    venue_code: str | None = Field(default=None, min_length=4, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")

    @field_validator("area_code", mode="before")
    @classmethod
    def _area_code(cls, v: Any) -> Any:
        return _area(v)

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

    @model_validator(mode="after")
    def _pair(self) -> _PlaceFields:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class PlaceCreate(_PlaceFields):
    name: str = Field(min_length=1, max_length=200)
    category: str
    area_code: str = Field(max_length=15)


class PlaceUpdate(_PlaceFields):
    @field_validator("name", "category", "area_code", "venue_code")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be empty")
        return v


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
