"""Contact lists of a case: run finding, keep the lists (each person with the reason), confirm
or reject; confirmed persons get their measures, a locate-and-control task for their community
and, when they live elsewhere, an assistance request (协查函)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.area import codes
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.case import service as cases
from fangkong.case.models import Case
from fangkong.contact import reasons
from fangkong.contact.finding import STRENGTH, Candidate, Movement, find
from fangkong.contact.models import AssistanceRequest, ContactListing
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, NotFound
from fangkong.events import service as events
from fangkong.person.models import Person


@dataclass
class FindResult:
    case_id: int
    found: int = 0
    new: int = 0
    by_list: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "found": self.found,
            "new": self.new,
            "by_list": self.by_list,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def _profile(session: Session, now: dt.datetime) -> Any:
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    return profiles.active(session, local_day(now))


def run(
    *, session: Session, actor: Actor, case_id: int, movement: Movement | None, now: dt.datetime | None = None
) -> FindResult:
    """Find the case's contacts and store them as proposed listings (re-running updates them)."""
    import time

    started = time.perf_counter()
    case = cases.get(session=session, actor=actor, case_id=case_id, action="contact.find")
    now = now or utcnow()
    loaded = _profile(session, now)
    candidates, notes = find(session, case, loaded, movement, now)
    other_cases = set(session.scalars(select(Case.person_id).where(Case.outcome.is_(None))))
    result = FindResult(case.id, notes=notes)
    merged = _merge(candidates)
    existing = {
        (r.person_id, r.list, r.setting, r.place_key): r
        for r in session.scalars(select(ContactListing).where(ContactListing.case_id == case.id))
    }
    names = (
        dict(
            session.execute(
                select(Person.id, Person.name).where(
                    Person.id.in_({c.via_person_id for c in merged if c.via_person_id})
                )
            ).all()
        )
        if merged
        else {}
    )
    for c in merged:
        if c.person_id in other_cases:
            continue  # a case is managed as a case, not as a contact
        zh, en = reasons.text(case, c, names.get(c.via_person_id or 0))
        row = existing.get(c.key)
        if row is None:
            session.add(
                ContactListing(
                    case_id=case.id,
                    person_id=c.person_id,
                    list=c.list,
                    setting=c.setting,
                    place_key=c.place_key,
                    place=c.place,
                    via_person_id=c.via_person_id,
                    exposure_start=c.start,
                    exposure_end=c.end,
                    minutes=c.minutes,
                    reason_zh=zh,
                    reason_en=en,
                )
            )
            result.new += 1
        elif row.status != "rejected":
            row.exposure_start, row.exposure_end, row.minutes = c.start, c.end, c.minutes
            row.place, row.reason_zh, row.reason_en = c.place, zh, en
        result.found += 1
        result.by_list[c.list] = result.by_list.get(c.list, 0) + 1
    session.flush()
    result.seconds = time.perf_counter() - started
    audit.record(
        session, actor, "contact.find", "case", case.id, after=result.as_dict(), area_code=case.area_code
    )
    events.emit(
        session, "contact.found", "case", case.id, {"found": result.found, "new": result.new}, actor=actor
    )
    return result


def _merge(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per (person, list, setting, place): the longest exposure window wins."""
    out: dict[tuple[int, str, str, str], Candidate] = {}
    for c in candidates:
        old = out.get(c.key)
        if old is None:
            out[c.key] = c
            continue
        old.start = min((t for t in (old.start, c.start) if t), default=None)
        old.end = max((t for t in (old.end, c.end) if t), default=None)
        if c.minutes is not None:
            old.minutes = (old.minutes or 0) + c.minutes
    return list(out.values())


def listings(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    status: str | None = None,
    list_name: str | None = None,
    after: int | None = None,
    limit: int | None = None,
) -> list[ContactListing]:
    """The case's listings, by list and person; a page of them with `list_name`/`after`/`limit`
    (ordered by id then, so `after` is the last id of the previous page)."""
    case = cases.get(session=session, actor=actor, case_id=case_id, action="contact.read")
    # Listed persons may live anywhere: access follows the case.
    stmt = select(ContactListing).where(ContactListing.case_id == case.id)
    if status:
        stmt = stmt.where(ContactListing.status == status)
    if list_name:
        stmt = stmt.where(ContactListing.list == list_name)
    if after is not None or limit is not None:
        if after is not None:
            stmt = stmt.where(ContactListing.id > after)
        stmt = stmt.order_by(ContactListing.id).limit(limit)
    else:
        stmt = stmt.order_by(ContactListing.list, ContactListing.person_id, ContactListing.id)
    return list(session.scalars(stmt))


def counts(*, session: Session, actor: Actor, case_id: int) -> dict[str, dict[str, int]]:
    """{list: {status: n}} of the case's listings."""
    case = cases.get(session=session, actor=actor, case_id=case_id, action="contact.read")
    out: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(ContactListing.list, ContactListing.status, func.count())
        .where(ContactListing.case_id == case.id)
        .group_by(ContactListing.list, ContactListing.status)
    )
    for name, status, n in rows:
        out.setdefault(name, {})[status] = int(n)
    return out


def effective_for(*, session: Session, case_id: int, person_ids: set[int]) -> dict[int, ContactListing]:
    """`effective` over all of the case's listings of these persons (for a page of listings)."""
    if not person_ids:
        return {}
    rows = session.scalars(
        select(ContactListing).where(
            ContactListing.case_id == case_id, ContactListing.person_id.in_(person_ids)
        )
    )
    return effective(list(rows))


def effective(rows: list[ContactListing]) -> dict[int, ContactListing]:
    """Per person, the listing that decides what they are: a companion who is also a close
    contact is a close contact; among equals the latest exposure."""
    best: dict[int, ContactListing] = {}
    for r in rows:
        if r.status == "rejected":
            continue
        cur = best.get(r.person_id)
        if cur is None or (STRENGTH[r.list], -(r.exposure_end or r.created_at).timestamp()) < (
            STRENGTH[cur.list],
            -(cur.exposure_end or cur.created_at).timestamp(),
        ):
            best[r.person_id] = r
    return best


@dataclass
class ConfirmResult:
    confirmed: int = 0
    measures: int = 0
    tasks: int = 0
    assistance: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "confirmed": self.confirmed,
            "measures": self.measures,
            "tasks": self.tasks,
            "assistance": self.assistance,
            "skipped": self.skipped,
        }


def decide(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    listing_ids: list[int] | None,
    accept: bool,
    now: dt.datetime | None = None,
    list_name: str | None = None,
) -> ConfirmResult:
    """Confirm (or reject) proposed listings — all of them (of `list_name`, when given) when
    `listing_ids` is None. Each
    confirmed person is put in their strongest category (measures follow from the profile), gets a
    locate-and-control task for their community and, if they live outside the city, an assistance
    request."""
    case = cases.get(session=session, actor=actor, case_id=case_id, action="contact.confirm")
    now = now or utcnow()
    stmt = select(ContactListing).where(
        ContactListing.case_id == case.id, ContactListing.status == "proposed"
    )
    if listing_ids is not None:
        stmt = stmt.where(ContactListing.id.in_(listing_ids))
    if list_name is not None:
        stmt = stmt.where(ContactListing.list == list_name)
    rows = list(session.scalars(stmt))
    if listing_ids is not None and len(rows) != len(set(listing_ids)):
        raise NotFound("some listings are not proposed listings of this case")
    result = ConfirmResult()
    for r in rows:
        r.status, r.decided_at, r.decided_by = ("confirmed" if accept else "rejected"), now, actor.username
    session.flush()
    if not accept:
        audit.record(
            session,
            actor,
            "contact.reject",
            "case",
            case.id,
            after={"listings": [r.id for r in rows]},
            area_code=case.area_code,
        )
        return result
    all_rows = list(
        session.scalars(
            select(ContactListing).where(
                ContactListing.case_id == case.id, ContactListing.status == "confirmed"
            )
        )
    )
    chosen = effective(all_rows)
    touched = {r.person_id for r in rows}
    from fangkong.contact import flows

    loaded = _profile(session, now)
    for person_id, listing in chosen.items():
        if person_id not in touched:
            continue
        result.confirmed += 1
        outcome = flows.act_on(session, actor, case, listing, loaded, now)
        result.measures += int(outcome.measures)
        result.tasks += int(outcome.task)
        result.assistance += int(outcome.assistance)
        if outcome.skipped:
            result.skipped.append(outcome.skipped)
    audit.record(
        session, actor, "contact.confirm", "case", case.id, after=result.as_dict(), area_code=case.area_code
    )
    events.emit(session, "contact.confirmed", "case", case.id, result.as_dict(), actor=actor)
    return result


def assistance(
    *, session: Session, actor: Actor, case_id: int | None = None, status: str | None = "draft"
) -> list[AssistanceRequest]:
    authorize(actor, "assistance.export")
    stmt = select(AssistanceRequest).order_by(AssistanceRequest.destination_code, AssistanceRequest.id)
    if case_id is not None:
        case = cases.get(session=session, actor=actor, case_id=case_id)
        stmt = stmt.where(AssistanceRequest.case_id == case.id)
    else:
        stmt = stmt.join(Case, Case.id == AssistanceRequest.case_id).where(
            jurisdiction_filter(actor, Case.area_code)
        )
    if status:
        stmt = stmt.where(AssistanceRequest.status == status)
    return list(session.scalars(stmt))


def outside_city(area_code: str, city_code: str) -> bool:
    return not codes.in_subtree(area_code, city_code)


def ensure_open(case: Case) -> None:
    if case.outcome is not None:
        raise Conflict(f"case {case.case_no} is closed ({case.outcome})")
