"""API shapes for login and accounts."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from fangkong.types import MAX_ID


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    area_code: str | None
    person_id: int | None
    disabled: bool
    last_login_at: dt.datetime | None
    actions: list[str] = Field(default_factory=list, description="what this user may do")


class LoginResponse(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    user: UserOut


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    display_name: str = Field(default="", max_length=100)
    password: str = Field(min_length=10, max_length=200)
    roles: list[str] = Field(min_length=1, max_length=12)
    area_code: str | None = Field(default=None, max_length=15, pattern=r"^\d+$")
    person_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=10, max_length=200)
