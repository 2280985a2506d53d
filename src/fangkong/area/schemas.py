"""API shapes for areas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AreaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: str
    parent_code: str | None
    local: bool
    lon: float | None
    lat: float | None


class AreaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent_code: str = Field(
        min_length=2, max_length=15, description="township (for a community) or community (for a grid)"
    )
    name: str = Field(min_length=1, max_length=100)
    code: str | None = Field(default=None, max_length=15, description="the full code; assigned when omitted")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
