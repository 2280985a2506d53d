"""From a confirmed listing to action: the person's measures (by the policy engine), a task
for their community to locate and control them (落位) with the profile's deadline, and an
assistance request (协查函) when they live outside the city."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor, system_actor
from fangkong.case.models import Case
from fangkong.contact.models import AssistanceRequest, ContactListing
from fangkong.measure.models import PersonCategory
from fangkong.person.models import Person
from fangkong.policy.loader import LoadedProfile
from fangkong.task import service as tasks

SETTING = {
    "household": "household",
    "venue": "venue",
    "vehicle": "vehicle",
    "workplace": "workplace",
    "named": "named",
}


@dataclass
class Outcome:
    measures: bool = False
    task: bool = False
    assistance: bool = False
    skipped: str | None = None


def act_on(
    session: Session,
    actor: Actor,
    case: Case,
    listing: ContactListing,
    loaded: LoadedProfile,
    now: dt.datetime,
) -> Outcome:
    from fangkong.config import get_settings
    from fangkong.contact.service import outside_city

    person = session.get(Person, listing.person_id)
    if person is None:
        return Outcome(skipped=f"person {listing.person_id} no longer exists")
    out = Outcome()
    if outside_city(person.area_code, get_settings().city_code):
        _, created = _assistance(session, case, listing, person)
        out.assistance = created
        return out
    clock = listing.exposure_end or listing.exposure_start or case.anchor or now
    clock = min(clock, now)
    out.measures = _categorise(session, case, listing, clock, now)
    due = now + dt.timedelta(seconds=loaded.profile.contacts.locate_within.seconds)  # type: ignore[union-attr]
    community = person.area_code[:12] if len(person.area_code) >= 12 else person.area_code
    from fangkong.i18n import t

    _task, out.task = tasks.create(
        session,
        system_actor("tracing"),
        kind="locate_control",
        title=f"落位管控：{t('category.' + listing.list)}（病例{case.case_no}）",
        area_code=community,
        role="community_worker",
        due_at=due,
        person_id=person.id,
        case_id=case.id,
        priority="urgent",
        dedupe_key=f"locate:{person.id}:{listing.list}:{clock.date().isoformat()}",
        data={"listing_id": listing.id, "list": listing.list, "reason_zh": listing.reason_zh},
    )
    return out


def _categorise(
    session: Session, case: Case, listing: ContactListing, clock: dt.datetime, now: dt.datetime
) -> bool:
    """Put the person in the listing's category unless they already are (from this exposure on)."""
    from fangkong.errors import PolicyError
    from fangkong.measure import service as measures
    from fangkong.measure.schemas import CategoryAssign

    existing = session.scalar(
        select(PersonCategory).where(
            PersonCategory.person_id == listing.person_id,
            PersonCategory.status == "active",
            PersonCategory.category == listing.list,
            PersonCategory.clock_at >= clock - dt.timedelta(hours=1),
        )
    )
    if existing is not None:
        return False
    try:
        measures.assign(
            session=session,
            actor=system_actor("tracing"),
            person_id=listing.person_id,
            as_of=now,
            data=CategoryAssign(
                category=listing.list,
                clock_at=clock,
                setting=SETTING.get(listing.setting),
                place=listing.place,
                source=case.case_no,
            ),
        )
    except PolicyError:
        return False
    return True


def _assistance(
    session: Session, case: Case, listing: ContactListing, person: Person
) -> tuple[AssistanceRequest, bool]:
    existing = session.scalar(
        select(AssistanceRequest).where(
            AssistanceRequest.case_id == case.id, AssistanceRequest.person_id == person.id
        )
    )
    if existing is not None:
        return existing, False
    req = AssistanceRequest(
        case_id=case.id,
        person_id=person.id,
        destination_code=person.area_code,
        list=listing.list,
        reason_zh=listing.reason_zh,
    )
    session.add(req)
    session.flush()
    return req, True
