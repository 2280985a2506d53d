"""Duplicate detection and merging of person records. A merge never deletes: the merged
record stays (status `merged`, pointing at the survivor) and a snapshot is kept."""

from __future__ import annotations

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import jurisdiction_filter
from fangkong.auth.models import User
from fangkong.errors import Conflict, invalid
from fangkong.events import service as events
from fangkong.person import service as persons
from fangkong.person.models import Person, PersonKeyGroup, PersonMerge

_FILL = ("phone", "address", "lon", "lat", "household_id", "household_relation", "work_unit_id", "birth_date")


def candidates(
    *, session: Session, actor: Actor, person_id: int, limit: int = 20
) -> list[tuple[Person, list[str]]]:
    """Other active records that may be the same person, with the reasons."""
    person = persons.get(session=session, actor=actor, person_id=person_id)
    conds = []
    if person.birth_date is not None:
        conds.append(and_(Person.name == person.name, Person.birth_date == person.birth_date))
    if person.phone:
        conds.append(and_(Person.phone == person.phone, Person.name == person.name))
        conds.append(
            and_(Person.phone == person.phone, Person.birth_date == person.birth_date)
            if person.birth_date
            else Person.id == -1
        )
    if not conds:
        return []
    stmt = (
        persons._load()
        .where(
            or_(*conds),
            Person.id != person.id,
            Person.status == "active",
            jurisdiction_filter(actor, Person.area_code),
        )
        .limit(limit)
    )
    out = []
    for other in session.scalars(stmt):
        reasons = []
        if other.name == person.name and other.birth_date and other.birth_date == person.birth_date:
            reasons.append("same name and birth date")
        if person.phone and other.phone == person.phone:
            reasons.append("same phone")
        out.append((other, reasons))
    return out


def merge(*, session: Session, actor: Actor, survivor_id: int, merged_id: int, reason: str) -> Person:
    if survivor_id == merged_id:
        raise invalid("merged_id", "a person cannot be merged into themselves", merged_id)
    survivor = persons.get(session=session, actor=actor, person_id=survivor_id, action="person.merge")
    merged = persons.get(session=session, actor=actor, person_id=merged_id, action="person.merge")
    for p in (survivor, merged):
        if p.status != "active":
            raise Conflict(f"person {p.id} was already merged into {p.merged_into_id}")
    snapshot = persons.snapshot(merged)
    before = persons.snapshot(survivor)
    for field in _FILL:
        if getattr(survivor, field) is None and getattr(merged, field) is not None:
            setattr(survivor, field, getattr(merged, field))
    if survivor.sex == "unknown":
        survivor.sex = merged.sex
    have = {k.key_group for k in survivor.key_groups}
    survivor.key_groups.extend(
        PersonKeyGroup(key_group=k.key_group) for k in merged.key_groups if k.key_group not in have
    )
    for ident in list(merged.identifiers):
        ident.is_primary = ident.is_primary and not survivor.identifiers
        merged.identifiers.remove(ident)
        survivor.identifiers.append(ident)
    merged.status = "merged"
    merged.merged_into_id = survivor.id
    session.flush()
    session.execute(update(User).where(User.person_id == merged.id).values(person_id=survivor.id))
    session.add(
        PersonMerge(
            survivor_id=survivor.id,
            merged_id=merged.id,
            snapshot=snapshot,
            reason=reason,
            actor_id=actor.user_id,
        )
    )
    old, new = audit.changes(before, persons.snapshot(survivor))
    audit.record(
        session,
        actor,
        "person.merge",
        "person",
        survivor.id,
        before=old,
        after={**new, "merged_id": merged.id},
        reason=reason,
        area_code=survivor.area_code,
    )
    audit.record(
        session,
        actor,
        "person.merge",
        "person",
        merged.id,
        before=snapshot,
        after={"status": "merged", "merged_into_id": survivor.id},
        reason=reason,
        area_code=merged.area_code,
    )
    events.emit(
        session,
        "person.merged",
        "person",
        survivor.id,
        {"survivor_id": survivor.id, "merged_id": merged.id},
        actor=actor,
    )
    return survivor


def history(*, session: Session, actor: Actor, person_id: int) -> list[PersonMerge]:
    persons.get(session=session, actor=actor, person_id=person_id)
    return list(
        session.scalars(
            select(PersonMerge)
            .where(or_(PersonMerge.survivor_id == person_id, PersonMerge.merged_id == person_id))
            .order_by(PersonMerge.id)
        )
    )
