"""Sampling sites (采样点) and labs (检测机构): register, open and close, list; lab staff."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.auth.models import User
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, ErrorDetail, NotFound, invalid
from fangkong.nat.models import Lab, LabMember, SamplingSite
from fangkong.types import AreaCodeParam

SiteKind = Literal["fixed", "temporary", "door_to_door", "checkpoint", "quarantine_site"]
Code = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind = "fixed"
    area_code: AreaCodeParam
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=73, le=136, description="WGS 84, within China")
    lat: float | None = Field(default=None, ge=3, le=54)
    capacity_per_hour: int = Field(default=0, ge=0, le=100_000, description="swabs per hour")
    hours: str | None = Field(
        default=None, max_length=64, pattern=r"^\d\d:\d\d-\d\d:\d\d(,\d\d:\d\d-\d\d:\d\d)*$"
    )
    staff: int = Field(default=0, ge=0, le=10_000)


class LabCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    area_code: AreaCodeParam
    daily_capacity: int = Field(default=0, ge=0, le=10_000_000, description="tubes per day")


def _area(session: Session, code: str) -> Area:
    area = session.get(Area, code)
    if area is None:
        raise invalid("area_code", "unknown area code", code)
    return area


def create_site(
    *, session: Session, actor: Actor, data: SiteCreate, now: dt.datetime | None = None
) -> SamplingSite:
    area = _area(session, data.area_code)
    authorize(actor, "nat.manage", area)
    if (data.lon is None) != (data.lat is None):
        raise invalid("lon", "give both lon and lat, or neither", data.lon)
    if session.scalar(select(SamplingSite.id).where(SamplingSite.code == data.code)) is not None:
        raise Conflict(f"site code {data.code} exists", [ErrorDetail("code", "already used", data.code)])
    site = SamplingSite(**data.model_dump(), status="open", opened_at=now or utcnow())
    session.add(site)
    session.flush()
    audit.record(
        session, actor, "nat.site_create", "nat_site", site.id, after=data.model_dump(), area_code=area.code
    )
    return site


def get_site(session: Session, actor: Actor, site_id: int) -> SamplingSite:
    site = session.get(SamplingSite, site_id)
    if site is None:
        raise NotFound(f"sampling site {site_id} not found")
    authorize(actor, "nat.read", site)
    return site


def set_site_status(
    *,
    session: Session,
    actor: Actor,
    site_id: int,
    status: Literal["open", "closed"],
    now: dt.datetime | None = None,
) -> SamplingSite:
    site = get_site(session, actor, site_id)
    authorize(actor, "nat.manage", site)
    if site.status != status:
        now = now or utcnow()
        site.status = status
        if status == "open":
            site.opened_at, site.closed_at = now, None
        else:
            site.closed_at = now
        audit.record(session, actor, f"nat.site_{status}", "nat_site", site.id, area_code=site.area_code)
        session.flush()
    return site


def list_sites(
    *, session: Session, actor: Actor, area_code: str | None = None, status: str | None = None
) -> list[SamplingSite]:
    authorize(actor, "nat.read")
    stmt = select(SamplingSite).where(jurisdiction_filter(actor, SamplingSite.area_code))
    if area_code:
        stmt = stmt.where(SamplingSite.area_code.startswith(area_code))
    if status:
        stmt = stmt.where(SamplingSite.status == status)
    return list(session.scalars(stmt.order_by(SamplingSite.code)))


def create_lab(*, session: Session, actor: Actor, data: LabCreate) -> Lab:
    area = _area(session, data.area_code)
    authorize(actor, "nat.manage", area)
    if session.scalar(select(Lab.id).where(Lab.code == data.code)) is not None:
        raise Conflict(f"lab code {data.code} exists", [ErrorDetail("code", "already used", data.code)])
    lab = Lab(**data.model_dump())
    session.add(lab)
    session.flush()
    audit.record(
        session, actor, "nat.lab_create", "nat_lab", lab.id, after=data.model_dump(), area_code=area.code
    )
    return lab


def list_labs(*, session: Session, actor: Actor) -> list[Lab]:
    authorize(actor, "nat.read")
    return list(session.scalars(select(Lab).order_by(Lab.code)))


def add_lab_member(*, session: Session, actor: Actor, lab_code: str, username: str) -> None:
    """An account works for a lab (it needs the lab_staff role to act)."""
    lab = session.scalar(select(Lab).where(Lab.code == lab_code))
    if lab is None:
        raise NotFound(f"unknown lab {lab_code}", [ErrorDetail("lab", "unknown lab code", lab_code)])
    authorize(actor, "nat.manage", lab)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"unknown account {username}", [ErrorDetail("username", "unknown account", username)])
    if session.get(LabMember, (lab.id, user.id)) is None:
        session.add(LabMember(lab_id=lab.id, user_id=user.id))
        audit.record(
            session,
            actor,
            "nat.lab_member",
            "nat_lab",
            lab.id,
            after={"username": username},
            area_code=lab.area_code,
        )
        session.flush()
