"""Secondary contacts become close contacts when their close contact turns positive.

When a case opens (or is reclassified) as confirmed or asymptomatic, every secondary contact
listed through that person (`via_person_id`) is listed again as a close contact of the new
case, with the same setting and exposure. Their measures follow from the profile: the
secondary-contact category is flagged `close_contact_positive` and re-planned, so the policy
engine applies `contacts.secondary_contact.upgrade_on_positive` (with its reason; a shadow rule
only logs) — and their community gets a task to move them to the close-contact measures.
A listing still only proposed stays proposed on the new case, for the tracers to confirm.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor, system_actor
from fangkong.case.models import Case
from fangkong.contact.models import ContactListing
from fangkong.db.base import utcnow
from fangkong.errors import PolicyError
from fangkong.events.models import DomainEvent
from fangkong.events.service import handler
from fangkong.measure.models import PersonCategory
from fangkong.person.models import Person

POSITIVE = ("confirmed", "asymptomatic")
WORKER = system_actor("worker")


@dataclass
class Upgraded:
    listed: int = 0
    replanned: int = 0
    tasks: int = 0
    persons: list[int] = field(default_factory=list)


@handler("contact.upgrade_secondary", "case.opened", "case.reclassified")
def on_case(session: Session, event: DomainEvent) -> None:
    case = session.get(Case, int(event.aggregate_id))
    if case is not None and case.classification in POSITIVE:
        upgrade(session, WORKER, case)


def upgrade(session: Session, actor: Actor, case: Case, now: dt.datetime | None = None) -> Upgraded:
    """List the secondary contacts of `case`'s person as the case's close contacts (idempotent)."""
    from fangkong.measure import service as measures
    from fangkong.policy_profile import service as profiles

    now = now or utcnow()
    out = Upgraded()
    secondary = session.scalars(
        select(ContactListing)
        .where(
            ContactListing.list == "secondary_contact",
            ContactListing.via_person_id == case.person_id,
            ContactListing.status != "rejected",
        )
        .order_by(ContactListing.id)
    ).all()
    if not secondary:
        return out
    try:
        loaded = profiles.active(session, measures.local_day(now))
    except PolicyError:
        return out  # no profile in force: nothing decides what the upgrade means
    rules = loaded.profile.contacts
    rule = rules.secondary_contact if rules is not None else None
    if rule is None or rule.mode == "off" or not rule.upgrade_on_positive:
        return out
    cases_open = set(session.scalars(select(Case.person_id).where(Case.outcome.is_(None))))
    existing = {
        (r.person_id, r.setting, r.place_key)
        for r in session.scalars(
            select(ContactListing).where(
                ContactListing.case_id == case.id, ContactListing.list == "close_contact"
            )
        )
    }
    old_cases = {
        c.id: c.case_no
        for c in session.scalars(select(Case).where(Case.id.in_({r.case_id for r in secondary})))
    }
    confirmed: set[int] = set()
    for r in secondary:
        if r.person_id in cases_open or r.person_id == case.person_id:
            continue
        if r.status == "confirmed":
            confirmed.add(r.person_id)
        if (r.person_id, r.setting, r.place_key) in existing:
            continue
        existing.add((r.person_id, r.setting, r.place_key))
        old_no = old_cases.get(r.case_id, "")
        how_zh = "共同居住" if r.setting == "household" else "同单位工作"
        how_en = "lives with" if r.setting == "household" else "works with"
        session.add(
            ContactListing(
                case_id=case.id,
                person_id=r.person_id,
                list="close_contact",
                setting=r.setting,
                place_key=r.place_key,
                place=r.place,
                exposure_start=r.exposure_start,
                exposure_end=r.exposure_end or r.exposure_start,
                reason_zh=f"与病例{case.case_no}{how_zh}：原为病例{old_no}的次密接，其密接转阳后升级为密接",
                reason_en=(
                    f"{how_en} case {case.case_no}: was a secondary contact of case {old_no}, "
                    "upgraded when their close contact turned positive"
                ),
                status=r.status,
                decided_at=now if r.status == "confirmed" else None,
                decided_by=actor.username if r.status == "confirmed" else None,
            )
        )
        out.listed += 1
    session.flush()
    out.persons = sorted(confirmed)
    flagged: list[int] = []
    for category in session.scalars(
        select(PersonCategory).where(
            PersonCategory.person_id.in_(confirmed),
            PersonCategory.category == "secondary_contact",
            PersonCategory.status == "active",
            PersonCategory.close_contact_positive.is_(False),
        )
    ):
        category.close_contact_positive = True
        flagged.append(category.person_id)
    if flagged:
        session.flush()
        measures.replan(session, actor, sorted(set(flagged)), loaded, now)
        out.replanned = len(set(flagged))
    out.tasks = _tasks(session, case, sorted(set(flagged)), loaded.profile, now)
    if out.listed or out.replanned:
        audit.record(
            session,
            actor,
            "contact.upgrade",
            "case",
            case.id,
            after={"listed": out.listed, "replanned": sorted(set(flagged))},
            area_code=case.area_code,
        )
    return out


def _tasks(session: Session, case: Case, person_ids: list[int], profile: object, now: dt.datetime) -> int:
    """A task for each upgraded person's community: move them to the close-contact measures."""
    from fangkong.task import service as tasks

    contacts = getattr(profile, "contacts", None)
    within = contacts.locate_within.seconds if contacts is not None else 12 * 3600
    made = 0
    for person in session.scalars(select(Person).where(Person.id.in_(person_ids))):
        community = person.area_code[:12] if len(person.area_code) >= 12 else person.area_code
        _task, created = tasks.create(
            session,
            system_actor("tracing"),
            kind="locate_control",
            title=f"升级管控：次密接转密接（病例{case.case_no}）",
            area_code=community,
            role="community_worker",
            due_at=now + dt.timedelta(seconds=within),
            person_id=person.id,
            case_id=case.id,
            priority="urgent",
            dedupe_key=f"upgrade:{person.id}:{case.id}",
            data={"list": "close_contact", "upgraded_from": "secondary_contact"},
        )
        made += int(created)
    return made
