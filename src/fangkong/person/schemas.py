"""Input and output shapes for persons and households.

Input validation lives here once and is used by the API, the web forms and the importer.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fangkong.errors import FangkongError
from fangkong.fields import AreaCodeIn, Located, PhoneIn, reason_of
from fangkong.person import identity
from fangkong.person.key_groups import KEY_GROUPS

Sex = Literal["male", "female", "unknown"]
Relation = Literal["head", "spouse", "child", "parent", "grandchild", "grandparent", "sibling", "other"]
IdKind = Literal[
    "resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id", "other"
]
_SEX_ALIASES = {"男": "male", "女": "female", "m": "male", "f": "female", "未知": "unknown"}


def _today(info: ValidationInfo) -> dt.date:
    ctx = info.context or {}
    today = ctx.get("today")
    if isinstance(today, dt.date):
        return today
    from fangkong.timeutil import local_today

    return local_today()


class _CheckedId(str):
    """A normalised identifier that remembers the warnings its check produced."""

    warnings: tuple[str, ...]

    def __new__(cls, value: str, warnings: tuple[str, ...]) -> _CheckedId:
        obj = super().__new__(cls, value)
        obj.warnings = warnings
        return obj


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: IdKind
    value: str = Field(min_length=1, max_length=64)


class PersonFields(Located):
    """Fields shared by create and update (all optional here)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    sex: Sex | None = None
    birth_date: dt.date | None = None
    nationality: str | None = Field(
        default=None, min_length=3, max_length=3, description="ISO 3166-1 alpha-3, CHN by default"
    )
    phone: PhoneIn | None = None
    area_code: AreaCodeIn | None = Field(default=None, max_length=15)
    address: str | None = Field(default=None, max_length=300)
    household_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    household_relation: Relation | None = None
    work_unit_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    key_groups: list[str] | None = None

    @field_validator("sex", mode="before")
    @classmethod
    def _sex(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            return _SEX_ALIASES.get(v.lower(), _SEX_ALIASES.get(v, v.lower() or None))
        return v

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not v.isalpha() or not v.isascii():
            raise ValueError("nationality must be a 3-letter ISO 3166-1 code such as CHN")
        return v.upper()

    @field_validator("key_groups", mode="before")
    @classmethod
    def _groups(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = re.split(r"[,，;；、]", v)
        if isinstance(v, list):
            cleaned = sorted({str(p).strip() for p in v if str(p).strip()})
            unknown = [g for g in cleaned if g not in KEY_GROUPS]
            if unknown:
                raise ValueError(
                    f"unknown key group {', '.join(unknown)}; expected codes such as "
                    f"{', '.join(KEY_GROUPS[:4])} (see docs/registry.md)"
                )
            return cleaned
        return v


class PersonCreate(PersonFields):
    name: str = Field(min_length=1, max_length=100)
    area_code: AreaCodeIn = Field(max_length=15, description="residence area (community or grid)")
    id_kind: IdKind = "resident_id"
    id_number: str | None = Field(default=None, max_length=64)
    other_identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=10)
    household_ref: str | None = Field(
        default=None, max_length=64, description="the household's external reference (import)"
    )
    # Filled by validation, not by callers.
    warnings: list[str] = Field(default_factory=list, exclude=True)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None or v == "":
            return None
        kind = info.data.get("id_kind")
        if kind is None:
            return v  # id_kind itself is invalid and reported
        try:
            value, warnings = identity.normalize_identifier(kind, v, today=_today(info))
        except FangkongError as exc:
            raise ValueError(reason_of(exc)) from None
        return _CheckedId(value, warnings)

    @field_validator("other_identifiers")
    @classmethod
    def _others(cls, v: list[IdentifierIn], info: ValidationInfo) -> list[IdentifierIn]:
        out = []
        for other in v:
            try:
                value, _w = identity.normalize_identifier(other.kind, other.value, today=_today(info))
            except FangkongError as exc:
                raise ValueError(reason_of(exc)) from None
            out.append(IdentifierIn(kind=other.kind, value=value))
        return out

    @model_validator(mode="after")
    def _identity(self, info: ValidationInfo) -> PersonCreate:
        today = _today(info)
        if self.id_number:
            self.warnings.extend(getattr(self.id_number, "warnings", ()))
            self.id_number = str(self.id_number)
            if self.id_kind == "resident_id" or (
                self.id_kind == "foreign_permanent_id" and len(self.id_number) == 18
            ):
                rid = identity.parse_resident_id(self.id_number, today=today)
                problems = identity.cross_check(
                    rid, sex=self.sex if self.sex != "unknown" else None, birth_date=self.birth_date
                )
                if problems:
                    raise ValueError("; ".join(f"{p.field}: {p.reason}" for p in problems))
                self.sex = rid.sex
                self.birth_date = rid.birth_date
        if self.birth_date is not None and self.birth_date > today:
            raise ValueError(f"birth_date: {self.birth_date} is in the future")
        return self


class PersonUpdate(PersonFields):
    """PATCH: only the fields given change (required fields cannot be set to null).
    Identifiers change through merges."""


class IdentifierOut(BaseModel):
    kind: str
    value: str
    is_primary: bool


class PersonOut(BaseModel):
    """A person as most users see it: name, ID, phone and address masked."""

    id: int
    masked: bool
    name: str
    id_kind: str | None
    id_number: str | None
    sex: str
    birth_date: dt.date | None = Field(description="unmasked only; masked views give birth_year")
    birth_year: int | None
    nationality: str
    phone: str | None
    area_code: str
    address: str | None
    lon: float | None
    lat: float | None
    household_id: int | None
    household_relation: str | None
    work_unit_id: int | None
    key_groups: list[str]
    identifiers: list[IdentifierOut]
    status: str
    merged_into_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class PersonPage(BaseModel):
    items: list[PersonOut]
    next_after: int | None = Field(description="pass as `after` to get the next page")


class PersonWrite(BaseModel):
    person: PersonOut
    warnings: list[str]


class UnmaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=4, max_length=500, description="why you need the unmasked data")


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merged_id: Annotated[
        int, Field(ge=1, le=2_147_483_647, description="the duplicate record, merged into the survivor")
    ]
    reason: str = Field(min_length=4, max_length=500)


class DuplicateCandidate(BaseModel):
    person: PersonOut
    reasons: list[str]


class HouseholdCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    area_code: AreaCodeIn = Field(max_length=15)
    address: str = Field(min_length=1, max_length=300)
    external_ref: str | None = Field(default=None, max_length=64)


class HouseholdUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    area_code: AreaCodeIn | None = Field(default=None, max_length=15)
    address: str | None = Field(default=None, min_length=1, max_length=300)
    external_ref: str | None = Field(default=None, max_length=64)


class HouseholdOut(BaseModel):
    id: int
    masked: bool
    area_code: str
    address: str
    external_ref: str | None
    member_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class HouseholdPage(BaseModel):
    items: list[HouseholdOut]
    next_after: int | None
