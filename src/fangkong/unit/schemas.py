"""API shapes for units."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fangkong.area import codes
from fangkong.errors import FangkongError
from fangkong.person.identity import normalize_phone
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.unit.credit_code import normalize_credit_code


def _reason(exc: FangkongError) -> str:
    return exc.details[0].reason if exc.details else exc.message


class _UnitFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, description="one of the 14 key unit categories")
    area_code: str | None = Field(default=None, max_length=15)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    credit_code: str | None = Field(default=None, max_length=18)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, max_length=20)

    @field_validator("area_code", mode="before")
    @classmethod
    def _area(cls, v: Any) -> Any:
        if v is None:
            return None
        try:
            return codes.normalize(v)
        except FangkongError as exc:
            raise ValueError(_reason(exc)) from None

    @field_validator("category")
    @classmethod
    def _category(cls, v: str | None) -> str | None:
        if v is not None and v not in UNIT_CATEGORIES:
            raise ValueError(f"unknown unit category {v!r}; see docs/registry.md for the 14 codes")
        return v

    @field_validator("credit_code")
    @classmethod
    def _credit(cls, v: str | None) -> str | None:
        if not v:
            return None
        try:
            return normalize_credit_code(v)
        except FangkongError as exc:
            raise ValueError(_reason(exc)) from None

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if not v:
            return None
        try:
            return normalize_phone(v)
        except FangkongError as exc:
            raise ValueError(_reason(exc)) from None

    @model_validator(mode="after")
    def _pair(self) -> _UnitFields:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class UnitCreate(_UnitFields):
    name: str = Field(min_length=1, max_length=200)
    category: str
    area_code: str = Field(max_length=15)


class UnitUpdate(_UnitFields):
    @field_validator("name", "category", "area_code")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be empty")
        return v


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    category: str
    area_code: str
    address: str | None
    lon: float | None
    lat: float | None
    credit_code: str | None
    contact_name: str | None
    contact_phone: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class UnitPage(BaseModel):
    items: list[UnitOut]
    next_after: int | None
