"""Reusable input field types for the schemas of every domain.

Each wraps one of the platform's normalisers (which raise `FangkongError`) so that a bad value
becomes an ordinary pydantic error naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from fangkong.area import codes
from fangkong.errors import FangkongError


def reason_of(exc: FangkongError) -> str:
    return exc.details[0].reason if exc.details else exc.message


def checked(normalise: Callable[[str], str]) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return normalise(value)
        except FangkongError as exc:
            raise ValueError(reason_of(exc)) from None

    return check


def _area(value: Any) -> Any:
    if value is None or value == "":
        return None
    try:
        return codes.normalize(value)
    except FangkongError as exc:
        raise ValueError(reason_of(exc)) from None


def _phone(value: str) -> str:
    from fangkong.person.identity import normalize_phone

    return normalize_phone(value)


# An area code in any usual written form, stored in its short form (see area/codes.py).
AreaCodeIn = Annotated[str, BeforeValidator(_area)]
# A mainland mobile number, stored as 11 digits.
PhoneIn = Annotated[str, Field(max_length=20), AfterValidator(checked(_phone))]


class Located(BaseModel):
    """lon/lat in range, and both or neither."""

    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)

    @model_validator(mode="after")
    def _both_or_neither(self) -> Located:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self
