"""Persons: register, read (masked or, with a reason, unmasked), change, delete, search.

Every query that returns persons is limited to the actor's jurisdiction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, select
from sqlalchemy.orm import Session, selectinload

from fangkong.area.models import Area
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, can, jurisdiction_filter
from fangkong.crud import refuse_nulls, within_area
from fangkong.errors import Conflict, ErrorDetail, Invalid, NotFound, invalid
from fangkong.events import service as events
from fangkong.person.key_groups import KEY_GROUPS
from fangkong.person.models import Household, Person, PersonIdentifier, PersonKeyGroup
from fangkong.person.schemas import (
    HouseholdOut,
    IdentifierOut,
    PersonCreate,
    PersonOut,
    PersonUpdate,
)
from fangkong.privacy import mask_address, mask_id, mask_name, mask_phone
from fangkong.unit.models import Unit

MAX_PAGE = 500
_SNAPSHOT_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "nationality",
    "phone",
    "area_code",
    "address",
    "lon",
    "lat",
    "household_id",
    "household_relation",
    "work_unit_id",
    "status",
    "merged_into_id",
)


# ---------------------------------------------------------------- reading


def _load() -> Select[Person]:
    return select(Person).options(selectinload(Person.identifiers), selectinload(Person.key_groups))


def get(*, session: Session, actor: Actor, person_id: int, action: str = "person.read") -> Person:
    person = session.scalar(_load().where(Person.id == person_id))
    if person is None:
        raise NotFound(f"person {person_id} not found")
    if action == "person.read" and "resident" in actor.roles and actor.person_id == person_id:
        action = "self.read"
    authorize(actor, action, person)
    return person


def to_out(person: Person, *, masked: bool = True) -> PersonOut:
    ident = person.primary_identifier
    return PersonOut(
        id=person.id,
        masked=masked,
        name=(mask_name(person.name) if masked else person.name) or "",
        id_kind=ident.kind if ident else None,
        id_number=(mask_id(ident.value) if masked else ident.value) if ident else None,
        sex=person.sex,
        birth_date=None if masked else person.birth_date,
        birth_year=person.birth_date.year if person.birth_date else None,
        nationality=person.nationality,
        phone=mask_phone(person.phone) if masked else person.phone,
        area_code=person.area_code,
        address=mask_address(person.address) if masked else person.address,
        lon=None if masked else person.lon,
        lat=None if masked else person.lat,
        household_id=person.household_id,
        household_relation=person.household_relation,
        work_unit_id=person.work_unit_id,
        key_groups=[k.key_group for k in person.key_groups],
        identifiers=[
            IdentifierOut(
                kind=i.kind, value=(mask_id(i.value) if masked else i.value) or "", is_primary=i.is_primary
            )
            for i in person.identifiers
        ],
        status=person.status,
        merged_into_id=person.merged_into_id,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


def read(*, session: Session, actor: Actor, person_id: int) -> PersonOut:
    """The masked view (a resident sees their own record unmasked)."""
    person = get(session=session, actor=actor, person_id=person_id)
    own = actor.person_id == person.id and "resident" in actor.roles
    return to_out(person, masked=not own)


def unmask(*, session: Session, actor: Actor, person_id: int, reason: str) -> PersonOut:
    """The unmasked view: needs `person.read_pii` and a reason, and leaves an audit row."""
    person = get(session=session, actor=actor, person_id=person_id, action="person.read_pii")
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise invalid("reason", "state why you need the unmasked data (at least 4 characters)")
    audit.record(
        session, actor, "person.read_pii", "person", person.id, reason=reason, area_code=person.area_code
    )
    return to_out(person, masked=False)


def conditions(
    actor: Actor,
    *,
    q: str | None = None,
    id_number: str | None = None,
    phone: str | None = None,
    area_code: str | None = None,
    key_group: str | None = None,
    household_id: int | None = None,
    include_merged: bool = False,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a person search (and of the matching export)."""
    conds: list[ColumnElement[bool]] = [jurisdiction_filter(actor, Person.area_code)]
    if not include_merged:
        conds.append(Person.status == "active")
    if q and q.strip():
        q = q.strip()
        conds.append(and_(Person.name >= q, Person.name < q + "\U0010ffff"))
    if id_number:
        value = id_number.strip().upper()
        conds.append(Person.id.in_(select(PersonIdentifier.person_id).where(PersonIdentifier.value == value)))
    if phone:
        digits = "".join(ch for ch in phone if ch.isdigit())[-11:]
        conds.append(Person.phone == digits)
    if area_code:
        conds.append(within_area(Person.area_code, area_code))
    if key_group:
        if key_group not in KEY_GROUPS:
            raise invalid("key_group", "unknown key group", key_group)
        conds.append(
            Person.id.in_(select(PersonKeyGroup.person_id).where(PersonKeyGroup.key_group == key_group))
        )
    if household_id is not None:
        conds.append(Person.household_id == household_id)
    return conds


def search(
    *,
    session: Session,
    actor: Actor,
    q: str | None = None,
    id_number: str | None = None,
    phone: str | None = None,
    area_code: str | None = None,
    key_group: str | None = None,
    household_id: int | None = None,
    include_merged: bool = False,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Person], int | None]:
    """Keyset-paginated search (by id). Name matches by prefix; ID and phone exactly."""
    authorize(actor, "person.read")
    limit = max(1, min(limit, MAX_PAGE))
    conds = conditions(
        actor,
        q=q,
        id_number=id_number,
        phone=phone,
        area_code=area_code,
        key_group=key_group,
        household_id=household_id,
        include_merged=include_merged,
    )
    stmt = _load().where(*conds).order_by(Person.id)
    if after is not None:
        stmt = stmt.where(Person.id > after)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_after


# ---------------------------------------------------------------- writing


def find_by_identifier(session: Session, kind: str, value: str) -> Person | None:
    return session.scalar(
        select(Person)
        .join(PersonIdentifier)
        .where(PersonIdentifier.kind == kind, PersonIdentifier.value == value)
    )


def _check_references(session: Session, actor: Actor, data: PersonCreate | PersonUpdate) -> None:
    problems: list[ErrorDetail] = []
    if data.area_code is not None:
        area = session.get(Area, data.area_code)
        if area is None:
            problems.append(ErrorDetail("area_code", "unknown area code", data.area_code))
        elif actor.area_code and not area.code.startswith(actor.area_code):
            problems.append(
                ErrorDetail("area_code", f"outside your jurisdiction ({actor.area_code})", data.area_code)
            )
    if data.household_id is not None and session.get(Household, data.household_id) is None:
        problems.append(ErrorDetail("household_id", "no such household", data.household_id))
    if data.work_unit_id is not None and session.get(Unit, data.work_unit_id) is None:
        problems.append(ErrorDetail("work_unit_id", "no such unit", data.work_unit_id))
    if problems:
        raise Invalid("invalid person", problems)


def identifiers_of(data: PersonCreate) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    if data.id_number:
        out.append((data.id_kind, data.id_number, True))
    for other in data.other_identifiers:
        if (other.kind, other.value) not in {(k, v) for k, v, _p in out}:
            out.append((other.kind, other.value, not out))
    return out


def create(*, session: Session, actor: Actor, data: PersonCreate) -> Person:
    authorize(actor, "person.create")
    _check_references(session, actor, data)
    idents = identifiers_of(data)
    for kind, value, _primary in idents:
        existing = find_by_identifier(session, kind, value)
        if existing is not None:
            raise Conflict(
                f"a person with this {kind} is already registered (person {existing.id})",
                [ErrorDetail("id_number", f"already registered as person {existing.id}", mask_id(value))],
            )
    if data.household_ref and data.household_id is None:
        hh = session.scalar(select(Household).where(Household.external_ref == data.household_ref))
        if hh is None:
            hh = Household(
                area_code=data.area_code, address=data.address or "", external_ref=data.household_ref
            )
            session.add(hh)
            session.flush()
        data.household_id = hh.id
    person = Person(
        name=data.name,
        sex=data.sex or "unknown",
        birth_date=data.birth_date,
        nationality=data.nationality or "CHN",
        phone=data.phone,
        area_code=data.area_code,
        address=data.address,
        lon=data.lon,
        lat=data.lat,
        household_id=data.household_id,
        household_relation=data.household_relation,
        work_unit_id=data.work_unit_id,
    )
    person.identifiers = [PersonIdentifier(kind=k, value=v, is_primary=p) for k, v, p in idents]
    person.key_groups = [PersonKeyGroup(key_group=g) for g in data.key_groups or []]
    session.add(person)
    session.flush()
    audit.record(
        session,
        actor,
        "person.create",
        "person",
        person.id,
        after=snapshot(person),
        area_code=person.area_code,
    )
    events.emit(session, "person.created", "person", person.id, {"area_code": person.area_code}, actor=actor)
    return person


def update(*, session: Session, actor: Actor, person_id: int, data: PersonUpdate) -> Person:
    person = get(session=session, actor=actor, person_id=person_id, action="person.update")
    if person.status != "active":
        raise Conflict(
            f"person {person_id} was merged into {person.merged_into_id}; change the surviving record"
        )
    _check_references(session, actor, data)
    before = snapshot(person)
    given = data.model_dump(exclude_unset=True)
    refuse_nulls(Person, {k: v for k, v in given.items() if k != "key_groups"})
    _cross_check_identity(person, given)
    for key, value in given.items():
        if key == "key_groups":
            person.key_groups = [PersonKeyGroup(key_group=g) for g in value or []]
        else:
            setattr(person, key, value)
    session.flush()
    after = snapshot(person)
    old, new = audit.changes(before, after)
    if old or new:
        audit.record(
            session,
            actor,
            "person.update",
            "person",
            person.id,
            before=old,
            after=new,
            area_code=person.area_code,
        )
        events.emit(session, "person.updated", "person", person.id, {"fields": sorted(new)}, actor=actor)
    return person


def _cross_check_identity(person: Person, given: dict[str, Any]) -> None:
    """A declared sex or birth date may not contradict the person's resident ID number."""
    if "sex" not in given and "birth_date" not in given:
        return
    from fangkong.person import identity
    from fangkong.timeutil import local_today

    for ident in person.identifiers:
        if ident.kind != "resident_id":
            continue
        rid = identity.parse_resident_id(ident.value, today=local_today())
        sex = given.get("sex")
        problems = identity.cross_check(
            rid, sex=sex if sex != "unknown" else None, birth_date=given.get("birth_date")
        )
        if problems:
            raise Invalid("invalid person", problems)


def delete_person(*, session: Session, actor: Actor, person_id: int, reason: str) -> None:
    person = get(session=session, actor=actor, person_id=person_id, action="person.delete")
    from fangkong.auth.models import User
    from fangkong.person.models import PersonMerge

    if session.scalar(select(User.id).where(User.person_id == person_id).limit(1)) is not None:
        raise Conflict(f"person {person_id} has a user account; disable the account instead")
    if session.scalar(
        select(PersonMerge.id)
        .where((PersonMerge.survivor_id == person_id) | (PersonMerge.merged_id == person_id))
        .limit(1)
    ):
        raise Conflict(f"person {person_id} takes part in a merge and is kept for its history")
    before = snapshot(person)
    session.execute(delete(Person).where(Person.id == person_id))
    audit.record(
        session,
        actor,
        "person.delete",
        "person",
        person_id,
        before=before,
        reason=reason,
        area_code=before["area_code"],
    )
    events.emit(session, "person.deleted", "person", person_id, {}, actor=actor)


def snapshot(person: Person) -> dict[str, Any]:
    out: dict[str, Any] = {f: getattr(person, f) for f in _SNAPSHOT_FIELDS}
    out["identifiers"] = [f"{i.kind}:{i.value}" for i in person.identifiers]
    out["key_groups"] = [k.key_group for k in person.key_groups]
    result: dict[str, Any] = audit.jsonable(out)
    return result


# ---------------------------------------------------------------- households


def household_out(hh: Household, member_count: int, *, masked: bool = True) -> HouseholdOut:
    return HouseholdOut(
        id=hh.id,
        masked=masked,
        area_code=hh.area_code,
        address=(mask_address(hh.address) if masked else hh.address) or "",
        external_ref=hh.external_ref,
        member_count=member_count,
        created_at=hh.created_at,
        updated_at=hh.updated_at,
    )


def members(session: Session, actor: Actor, household_ids: Sequence[int]) -> dict[int, int]:
    from sqlalchemy import func

    if not household_ids:
        return {}
    rows = session.execute(
        select(Person.household_id, func.count())
        .where(
            Person.household_id.in_(household_ids),
            Person.status == "active",
            jurisdiction_filter(actor, Person.area_code),
        )
        .group_by(Person.household_id)
    )
    return {int(h): int(c) for h, c in rows if h is not None}


def can_unmask(actor: Actor) -> bool:
    return can(actor, "person.read_pii")
