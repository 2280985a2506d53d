"""Cases: open (by hand or from a positive result), reclassify with history, update care
status and outcome, search in the jurisdiction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.case.models import Case, CaseChange
from fangkong.case.schemas import CaseCreate, CaseUpdate, Reclassify
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, NotFound, invalid
from fangkong.events import service as events
from fangkong.person import service as persons

# Which reclassifications are allowed (the rest would rewrite history).
_NEXT = {"suspected": {"asymptomatic", "confirmed"}, "asymptomatic": {"confirmed"}, "confirmed": set()}


def _local(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        from fangkong.config import get_settings

        return value.replace(tzinfo=get_settings().tz)
    return value


def _case_no(session: Session, reported: dt.datetime) -> str:
    from fangkong.config import get_settings

    settings = get_settings()
    year = reported.astimezone(settings.tz).year
    prefix = f"{settings.city_code}-{year}-"
    count = session.scalar(select(func.count()).select_from(Case).where(Case.case_no.startswith(prefix))) or 0
    return f"{prefix}{count + 1:05d}"


def create(*, session: Session, actor: Actor, data: CaseCreate, now: dt.datetime | None = None) -> Case:
    authorize(actor, "case.create")
    person = persons.get(session=session, actor=actor, person_id=data.person_id, action="case.create")
    if person.status != "active":
        raise Conflict(f"person {person.id} was merged into {person.merged_into_id}")
    open_case = session.scalar(
        select(Case.case_no).where(Case.person_id == person.id, Case.outcome.is_(None))
    )
    if open_case is not None:
        raise Conflict(f"person {person.id} already has an open case ({open_case})")
    now = now or utcnow()
    first = _local(data.first_positive_at)
    if first is not None and first > now + dt.timedelta(minutes=5):
        raise invalid("first_positive_at", "cannot be in the future", data.first_positive_at)
    if data.onset_date is not None and data.onset_date > now.date() + dt.timedelta(days=1):
        raise invalid("onset_date", "cannot be in the future", data.onset_date)
    case = Case(
        case_no=_case_no(session, now),
        person_id=person.id,
        area_code=person.area_code,
        classification=data.classification,
        origin=data.origin,
        onset_date=data.onset_date,
        first_positive_at=first,
        found_by=data.found_by,
        work_unit_id=person.work_unit_id,
        care_status=data.care_status,
        care_place=data.care_place,
        notes=data.notes,
        reported_at=now,
        controlled_at=now if data.care_status != "not_isolated" else None,
    )
    session.add(case)
    session.flush()
    audit.record(
        session, actor, "case.create", "case", case.id, after=snapshot(case), area_code=case.area_code
    )
    events.emit(
        session,
        "case.opened",
        "case",
        case.id,
        {"person_id": person.id, "classification": case.classification},
        actor=actor,
    )
    return case


def get(*, session: Session, actor: Actor, case_id: int, action: str = "case.read") -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    authorize(actor, action, case)
    return case


def by_number(session: Session, actor: Actor, ref: str) -> Case:
    """A case by its id or its number (e.g. 5101-2022-00003)."""
    case_id = (
        int(ref)
        if ref.isdigit() and len(ref) < 10
        else session.scalar(select(Case.id).where(Case.case_no == ref.strip()))
    )
    if case_id is None:
        raise NotFound(f"case {ref} not found")
    return get(session=session, actor=actor, case_id=case_id)


def update(*, session: Session, actor: Actor, case_id: int, data: CaseUpdate) -> Case:
    case = get(session=session, actor=actor, case_id=case_id, action="case.update")
    given = data.model_dump(exclude_unset=True)
    from fangkong.crud import refuse_nulls

    refuse_nulls(Case, given)
    if given.get("care_status") not in (None, "not_isolated") and case.controlled_at is None:
        case.controlled_at = utcnow()
    for key, value in given.items():
        old = getattr(case, key)
        if old != value:
            session.add(
                CaseChange(
                    case_id=case.id,
                    field=key,
                    old=None if old is None else str(old),
                    new=None if value is None else str(value),
                    actor_name=actor.username,
                )
            )
            setattr(case, key, value)
    session.flush()
    audit.record(
        session,
        actor,
        "case.update",
        "case",
        case.id,
        after={k: str(v) for k, v in given.items()},
        area_code=case.area_code,
    )
    if "outcome" in given:
        events.emit(session, "case.closed", "case", case.id, {"outcome": case.outcome}, actor=actor)
    return case


def reclassify(*, session: Session, actor: Actor, case_id: int, data: Reclassify) -> Case:
    """Suspected → asymptomatic/confirmed, asymptomatic → confirmed; the history is kept."""
    case = get(session=session, actor=actor, case_id=case_id, action="case.update")
    if data.classification not in _NEXT[case.classification]:
        raise Conflict(f"a {case.classification} case cannot become {data.classification}", [])
    old = case.classification
    session.add(
        CaseChange(
            case_id=case.id,
            field="classification",
            old=old,
            new=data.classification,
            reason=data.reason,
            actor_name=actor.username,
        )
    )
    case.classification = data.classification
    if data.onset_date is not None:
        session.add(
            CaseChange(
                case_id=case.id,
                field="onset_date",
                old=str(case.onset_date),
                new=str(data.onset_date),
                reason=data.reason,
                actor_name=actor.username,
            )
        )
        case.onset_date = data.onset_date
    session.flush()
    audit.record(
        session,
        actor,
        "case.reclassify",
        "case",
        case.id,
        before={"classification": old},
        after={"classification": case.classification},
        reason=data.reason,
        area_code=case.area_code,
    )
    events.emit(
        session,
        "case.reclassified",
        "case",
        case.id,
        {"person_id": case.person_id, "from": old, "to": case.classification},
        actor=actor,
    )
    return case


def history(*, session: Session, actor: Actor, case_id: int) -> list[CaseChange]:
    get(session=session, actor=actor, case_id=case_id)
    return list(
        session.scalars(select(CaseChange).where(CaseChange.case_id == case_id).order_by(CaseChange.id))
    )


def search(
    *,
    session: Session,
    actor: Actor,
    classification: str | None = None,
    area_code: str | None = None,
    open_only: bool = False,
    since: dt.date | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Case], int | None]:
    authorize(actor, "case.read")
    limit = max(1, min(limit, 500))
    stmt = select(Case).where(jurisdiction_filter(actor, Case.area_code)).order_by(Case.id)
    if classification:
        stmt = stmt.where(Case.classification == classification)
    if area_code:
        from fangkong.crud import within_area

        stmt = stmt.where(within_area(Case.area_code, area_code))
    if open_only:
        stmt = stmt.where(Case.outcome.is_(None))
    if since is not None:
        from fangkong.config import get_settings

        stmt = stmt.where(Case.reported_at >= dt.datetime.combine(since, dt.time(0), get_settings().tz))
    if after is not None:
        stmt = stmt.where(Case.id > after)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def snapshot(case: Case) -> dict[str, Any]:
    return {
        "case_no": case.case_no,
        "person_id": case.person_id,
        "classification": case.classification,
        "origin": case.origin,
        "onset_date": case.onset_date,
        "first_positive_at": case.first_positive_at,
        "found_by": case.found_by,
        "care_status": case.care_status,
        "area_code": case.area_code,
    }
