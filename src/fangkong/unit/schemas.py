"""API shapes for units."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from fangkong.fields import AreaCodeIn, Located, PhoneIn, checked
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.unit.credit_code import normalize_credit_code

CreditCodeIn = Annotated[str, Field(max_length=18), AfterValidator(checked(normalize_credit_code))]


class _UnitFields(Located):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, description="one of the 14 key unit categories")
    area_code: AreaCodeIn | None = Field(default=None, max_length=15)
    address: str | None = Field(default=None, max_length=300)
    credit_code: CreditCodeIn | None = None
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: PhoneIn | None = None

    @field_validator("category")
    @classmethod
    def _category(cls, v: str | None) -> str | None:
        if v is not None and v not in UNIT_CATEGORIES:
            raise ValueError(f"unknown unit category {v!r}; see docs/registry.md for the 14 codes")
        return v


class UnitCreate(_UnitFields):
    name: str = Field(min_length=1, max_length=200)
    category: str
    area_code: AreaCodeIn = Field(max_length=15)


class UnitUpdate(_UnitFields):
    """PATCH: only the fields given change (required fields cannot be set to null)."""


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
