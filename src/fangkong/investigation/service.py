"""Investigations: opened with the case, the 2+4+24 clock from the profile in force, tasks
for each milestone (an overdue one is supervised), the interview timeline."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.case import service as cases
from fangkong.case.models import Case
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, NotFound, PolicyError
from fangkong.events import service as events
from fangkong.investigation.models import InterviewEntry, Investigation
from fangkong.investigation.schemas import EntryIn, StepIn
from fangkong.task import service as tasks

_ORDER = ("on_site", "core_facts", "report")
_TITLE = {"on_site": "到达现场开展流调", "core_facts": "查清核心信息", "report": "完成流调报告"}
_DEFAULT = {"on_site": 2, "core_facts": 4, "report": 24}  # hours, when no profile is in force


def _local(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        from fangkong.config import get_settings

        return value.replace(tzinfo=get_settings().tz)
    return value


def open_for(
    session: Session, actor: Actor, case: Case, notified_at: dt.datetime | None = None
) -> Investigation:
    """Open the case's investigation (idempotent) with deadlines from the profile in force."""
    existing = session.scalar(select(Investigation).where(Investigation.case_id == case.id))
    if existing is not None:
        return existing
    notified = notified_at or case.reported_at
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    try:
        loaded = profiles.active(session, local_day(notified))
        clock = loaded.profile.investigation
        if clock is None:
            raise PolicyError(f"profile {loaded.id} has no investigation deadlines")
        due = {step: notified + dt.timedelta(seconds=getattr(clock, step).seconds) for step in _ORDER}
        profile_id, checksum = loaded.id, loaded.checksum
    except PolicyError:
        due = {k: notified + dt.timedelta(hours=h) for k, h in _DEFAULT.items()}
        profile_id, checksum = "default", ""
    inv = Investigation(
        case_id=case.id,
        notified_at=notified,
        on_site_due=due["on_site"],
        core_facts_due=due["core_facts"],
        report_due=due["report"],
        profile_id=profile_id,
        checksum=checksum,
    )
    session.add(inv)
    session.flush()
    _milestone_task(session, actor, case, inv, "on_site")
    audit.record(
        session,
        actor,
        "investigation.open",
        "case",
        case.id,
        after={
            "notified_at": notified.isoformat(),
            "on_site_due": inv.on_site_due.isoformat(),
            "core_facts_due": inv.core_facts_due.isoformat(),
            "report_due": inv.report_due.isoformat(),
            "profile": profile_id,
        },
        area_code=case.area_code,
    )
    events.emit(session, "investigation.opened", "case", case.id, {"investigation_id": inv.id}, actor=actor)
    return inv


def _milestone_task(session: Session, actor: Actor, case: Case, inv: Investigation, step: str) -> None:
    due = getattr(inv, f"{step}_due")
    tasks.create(
        session,
        actor,
        kind="investigation",
        title=f"{_TITLE[step]}（{case.case_no}）",
        area_code=case.area_code[:6],
        role="tracer",
        due_at=due,
        case_id=case.id,
        person_id=case.person_id,
        priority="urgent",
        dedupe_key=f"investigation:{case.id}:{step}",
        data={"step": step},
    )


def get(*, session: Session, actor: Actor, case_id: int) -> tuple[Case, Investigation]:
    case = cases.get(session=session, actor=actor, case_id=case_id)
    inv = session.scalar(select(Investigation).where(Investigation.case_id == case.id))
    if inv is None:
        raise NotFound(f"case {case.case_no} has no investigation yet (it opens within a minute of the case)")
    return case, inv


def record_step(*, session: Session, actor: Actor, case_id: int, data: StepIn) -> Investigation:
    """Arrival on site, core facts complete, report done: each closes its task and opens the
    next milestone's."""
    case = cases.get(session=session, actor=actor, case_id=case_id, action="investigation.manage")
    case, inv = get(session=session, actor=actor, case_id=case.id)
    index = _ORDER.index(data.step)
    if getattr(inv, f"{data.step}_at") is not None:
        raise Conflict(f"{data.step} was already recorded for {case.case_no}")
    for earlier in _ORDER[:index]:
        if getattr(inv, f"{earlier}_at") is None:
            raise Conflict(f"record {earlier} before {data.step}")
    at = _local(data.at) or utcnow()
    setattr(inv, f"{data.step}_at", at)
    inv.status = data.step
    inv.lead = inv.lead or actor.username
    if data.summary is not None:
        inv.summary = data.summary
    if data.source_of_infection is not None:
        inv.source_of_infection = data.source_of_infection
    task, _ = tasks.create(
        session,
        actor,
        kind="investigation",
        title="",
        area_code=case.area_code[:6],
        due_at=at,
        dedupe_key=f"investigation:{case.id}:{data.step}",
    )
    if task.status == "open":
        task.status, task.done_at, task.done_by = "done", at, actor.username
    if index + 1 < len(_ORDER):
        _milestone_task(session, actor, case, inv, _ORDER[index + 1])
    late = at > getattr(inv, f"{data.step}_due")
    audit.record(
        session,
        actor,
        f"investigation.{data.step}",
        "case",
        case.id,
        after={"at": at.isoformat(), "late": late},
        area_code=case.area_code,
    )
    events.emit(session, f"investigation.{data.step}", "case", case.id, {"late": late}, actor=actor)
    return inv


def add_entry(*, session: Session, actor: Actor, case_id: int, data: EntryIn) -> InterviewEntry:
    case = cases.get(session=session, actor=actor, case_id=case_id, action="investigation.manage")
    case, inv = get(session=session, actor=actor, case_id=case.id)
    from fangkong.person.models import Person
    from fangkong.place.models import Place

    if data.person_id is not None and session.get(Person, data.person_id) is None:
        raise NotFound(f"person {data.person_id} not found")
    values = {**data.model_dump(), "start": _local(data.start), "end": _local(data.end)}
    if data.place_id is not None:
        place = session.get(Place, data.place_id)
        if place is None:
            raise NotFound(f"venue {data.place_id} not found")
        values["place_text"] = data.place_text or place.name  # the timeline and report name it
    entry = InterviewEntry(investigation_id=inv.id, recorded_by=actor.username, **values)
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        "investigation.entry",
        "case",
        case.id,
        after={"kind": data.kind, "entry_id": entry.id},
        area_code=case.area_code,
    )
    events.emit(
        session,
        "investigation.entry_added",
        "case",
        case.id,
        {"entry_id": entry.id, "kind": data.kind},
        actor=actor,
    )
    return entry


def entries(*, session: Session, actor: Actor, case_id: int) -> list[InterviewEntry]:
    _case, inv = get(session=session, actor=actor, case_id=case_id)
    return list(
        session.scalars(
            select(InterviewEntry)
            .where(InterviewEntry.investigation_id == inv.id)
            .order_by(InterviewEntry.start, InterviewEntry.id)
        )
    )
