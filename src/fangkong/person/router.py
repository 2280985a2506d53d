"""/api/v1/persons and /api/v1/households."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.auth.service import require_reason
from fangkong.person import households, merge
from fangkong.person import service as persons
from fangkong.person.key_groups import KEY_GROUPS
from fangkong.person.schemas import (
    DuplicateCandidate,
    HouseholdCreate,
    HouseholdOut,
    HouseholdPage,
    HouseholdUpdate,
    MergeRequest,
    PersonCreate,
    PersonOut,
    PersonPage,
    PersonUpdate,
    PersonWrite,
    UnmaskRequest,
)
from fangkong.privacy import mask_record
from fangkong.types import MAX_ID

router = APIRouter(tags=["persons"])
PersonId = Annotated[int, Path(ge=1, le=MAX_ID)]
HouseholdId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
After = Annotated[int | None, Query(ge=0, le=MAX_ID, description="`next_after` of the previous page")]
AreaQ = Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")]


@router.get("/persons", response_model=PersonPage)
def search_persons(
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[str | None, Query(max_length=100, description="name starts with")] = None,
    id_number: Annotated[str | None, Query(max_length=64)] = None,
    phone: Annotated[str | None, Query(max_length=20)] = None,
    area_code: AreaQ = None,
    key_group: Annotated[
        str | None, Query(max_length=32, json_schema_extra={"enum": list(KEY_GROUPS)})
    ] = None,
    household_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    include_merged: bool = False,
    after: After = None,
    limit: Limit = 50,
) -> PersonPage:
    """Persons in your jurisdiction, masked, in id order (keyset pagination)."""
    rows, next_after = persons.search(
        session=session,
        actor=actor,
        q=q,
        id_number=id_number,
        phone=phone,
        area_code=area_code,
        key_group=key_group,
        household_id=household_id,
        include_merged=include_merged,
        after=after,
        limit=limit,
    )
    return PersonPage(items=[persons.to_out(p) for p in rows], next_after=next_after)


@router.post("/persons", response_model=PersonWrite, status_code=201)
def create_person(body: PersonCreate, session: DbSession, actor: CurrentActor) -> PersonWrite:
    person = persons.create(session=session, actor=actor, data=body)
    return PersonWrite(person=persons.to_out(person), warnings=body.warnings)


@router.get("/persons/{person_id}", response_model=PersonOut)
def get_person(person_id: PersonId, session: DbSession, actor: CurrentActor) -> PersonOut:
    return persons.read(session=session, actor=actor, person_id=person_id)


@router.post("/persons/{person_id}/unmask", response_model=PersonOut)
def unmask_person(
    person_id: PersonId, body: UnmaskRequest, session: DbSession, actor: CurrentActor
) -> PersonOut:
    """The unmasked record. Needs `person.read_pii`; your reason is written to the audit trail."""
    return persons.unmask(session=session, actor=actor, person_id=person_id, reason=body.reason)


@router.patch("/persons/{person_id}", response_model=PersonOut)
def update_person(
    person_id: PersonId, body: PersonUpdate, session: DbSession, actor: CurrentActor
) -> PersonOut:
    return persons.to_out(persons.update(session=session, actor=actor, person_id=person_id, data=body))


@router.delete("/persons/{person_id}", status_code=204)
def delete_person(
    person_id: PersonId,
    session: DbSession,
    actor: CurrentActor,
    reason: Annotated[str, Query(min_length=4, max_length=500)],
) -> None:
    persons.delete_person(session=session, actor=actor, person_id=person_id, reason=require_reason(reason))


@router.get("/persons/{person_id}/duplicates", response_model=list[DuplicateCandidate])
def duplicates(person_id: PersonId, session: DbSession, actor: CurrentActor) -> list[DuplicateCandidate]:
    """Other records that may be the same person (same name and birth date, or same phone)."""
    return [
        DuplicateCandidate(person=persons.to_out(p), reasons=r)
        for p, r in merge.candidates(session=session, actor=actor, person_id=person_id)
    ]


@router.post("/persons/{person_id}/merge", response_model=PersonOut)
def merge_person(
    person_id: PersonId, body: MergeRequest, session: DbSession, actor: CurrentActor
) -> PersonOut:
    """Merge `merged_id` into this person. The merged record is kept, marked `merged`."""
    survivor = merge.merge(
        session=session,
        actor=actor,
        survivor_id=person_id,
        merged_id=body.merged_id,
        reason=require_reason(body.reason),
    )
    return persons.to_out(survivor)


class MergeOut(BaseModel):
    id: int
    survivor_id: int
    merged_id: int
    reason: str
    merged_at: dt.datetime
    snapshot: dict[str, Any] | None


@router.get("/persons/{person_id}/merges", response_model=list[MergeOut])
def merges(person_id: PersonId, session: DbSession, actor: CurrentActor) -> list[MergeOut]:
    """Merge history, with the merged record's snapshot (personal data masked)."""
    return [
        MergeOut(
            id=m.id,
            survivor_id=m.survivor_id,
            merged_id=m.merged_id,
            reason=m.reason,
            merged_at=m.merged_at,
            snapshot=mask_record(m.snapshot),
        )
        for m in merge.history(session=session, actor=actor, person_id=person_id)
    ]


# ---------------------------------------------------------------- households


@router.get("/households", response_model=HouseholdPage, tags=["households"])
def search_households(
    session: DbSession, actor: CurrentActor, area_code: AreaQ = None, after: After = None, limit: Limit = 50
) -> HouseholdPage:
    rows, next_after = households.search(
        session=session, actor=actor, area_code=area_code, after=after, limit=limit
    )
    counts = persons.members(session, actor, [h.id for h in rows])
    return HouseholdPage(
        items=[persons.household_out(h, counts.get(h.id, 0)) for h in rows], next_after=next_after
    )


@router.post("/households", response_model=HouseholdOut, status_code=201, tags=["households"])
def create_household(body: HouseholdCreate, session: DbSession, actor: CurrentActor) -> HouseholdOut:
    return persons.household_out(households.create(session=session, actor=actor, data=body), 0)


@router.get("/households/{household_id}", response_model=HouseholdOut, tags=["households"])
def get_household(household_id: HouseholdId, session: DbSession, actor: CurrentActor) -> HouseholdOut:
    hh = households.get(session=session, actor=actor, household_id=household_id)
    return persons.household_out(hh, persons.members(session, actor, [hh.id]).get(hh.id, 0))


@router.patch("/households/{household_id}", response_model=HouseholdOut, tags=["households"])
def update_household(
    household_id: HouseholdId, body: HouseholdUpdate, session: DbSession, actor: CurrentActor
) -> HouseholdOut:
    hh = households.update(session=session, actor=actor, household_id=household_id, data=body)
    return persons.household_out(hh, persons.members(session, actor, [hh.id]).get(hh.id, 0))


@router.delete("/households/{household_id}", status_code=204, tags=["households"])
def delete_household(household_id: HouseholdId, session: DbSession, actor: CurrentActor) -> None:
    households.delete(session=session, actor=actor, household_id=household_id)


@router.get("/households/{household_id}/members", response_model=list[PersonOut], tags=["households"])
def household_members(household_id: HouseholdId, session: DbSession, actor: CurrentActor) -> list[PersonOut]:
    households.get(session=session, actor=actor, household_id=household_id)
    rows, _ = persons.search(session=session, actor=actor, household_id=household_id, limit=500)
    return [persons.to_out(p) for p in rows]
