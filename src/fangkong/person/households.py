"""Households: create, read, change, delete (only when empty), list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.crud import refuse_nulls, within_area
from fangkong.errors import Conflict, ErrorDetail, Invalid, NotFound
from fangkong.events import service as events
from fangkong.person.models import Household, Person
from fangkong.person.schemas import HouseholdCreate, HouseholdUpdate


def get(*, session: Session, actor: Actor, household_id: int, action: str = "household.read") -> Household:
    hh = session.get(Household, household_id)
    if hh is None:
        raise NotFound(f"household {household_id} not found")
    authorize(actor, action, hh)
    return hh


def _check(
    session: Session, actor: Actor, area_code: str | None, external_ref: str | None, own_id: int | None = None
) -> None:
    problems = []
    if area_code is not None:
        if session.get(Area, area_code) is None:
            problems.append(ErrorDetail("area_code", "unknown area code", area_code))
        elif actor.area_code and not area_code.startswith(actor.area_code):
            problems.append(ErrorDetail("area_code", "outside your jurisdiction", area_code))
    if problems:
        raise Invalid("invalid household", problems)
    if external_ref:
        other = session.scalar(select(Household.id).where(Household.external_ref == external_ref))
        if other is not None and other != own_id:
            raise Conflict(
                f"household reference {external_ref} is already used by household {other}",
                [ErrorDetail("external_ref", "already used", external_ref)],
            )


def create(*, session: Session, actor: Actor, data: HouseholdCreate) -> Household:
    authorize(actor, "household.manage")
    _check(session, actor, data.area_code, data.external_ref)
    hh = Household(area_code=data.area_code, address=data.address, external_ref=data.external_ref)
    session.add(hh)
    session.flush()
    audit.record(
        session, actor, "household.create", "household", hh.id, after=_snap(hh), area_code=hh.area_code
    )
    events.emit(session, "household.created", "household", hh.id, {}, actor=actor)
    return hh


def update(*, session: Session, actor: Actor, household_id: int, data: HouseholdUpdate) -> Household:
    hh = get(session=session, actor=actor, household_id=household_id, action="household.manage")
    given = data.model_dump(exclude_unset=True)
    refuse_nulls(Household, given)
    _check(session, actor, given.get("area_code"), given.get("external_ref"), own_id=hh.id)
    before = _snap(hh)
    for key, value in given.items():
        setattr(hh, key, value)
    session.flush()
    old, new = audit.changes(before, _snap(hh))
    if new:
        audit.record(
            session,
            actor,
            "household.update",
            "household",
            hh.id,
            before=old,
            after=new,
            area_code=hh.area_code,
        )
    return hh


def delete(*, session: Session, actor: Actor, household_id: int) -> None:
    hh = get(session=session, actor=actor, household_id=household_id, action="household.manage")
    count = session.scalar(select(func.count()).select_from(Person).where(Person.household_id == hh.id))
    if count:
        raise Conflict(f"household {household_id} still has {count} member(s); move them first")
    before = _snap(hh)
    session.delete(hh)
    session.flush()
    audit.record(
        session,
        actor,
        "household.delete",
        "household",
        household_id,
        before=before,
        area_code=before["area_code"],
    )


def search(
    *, session: Session, actor: Actor, area_code: str | None = None, after: int | None = None, limit: int = 50
) -> tuple[list[Household], int | None]:
    authorize(actor, "household.read")
    limit = max(1, min(limit, 500))
    stmt = select(Household).where(jurisdiction_filter(actor, Household.area_code)).order_by(Household.id)
    if area_code:
        stmt = stmt.where(within_area(Household.area_code, area_code))
    if after is not None:
        stmt = stmt.where(Household.id > after)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def _snap(hh: Household) -> dict[str, Any]:
    return {"area_code": hh.area_code, "address": hh.address, "external_ref": hh.external_ref}
