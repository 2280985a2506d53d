"""Persons under control: assign a category, let the active profile decide the measures,
keep the plan current when facts or profiles change, and explain it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, NotFound, invalid
from fangkong.events import service as events
from fangkong.measure.models import Measure, PersonCategory, PolicyDecision
from fangkong.measure.schemas import CategoryAssign
from fangkong.person import service as persons
from fangkong.policy.engine import evaluate
from fangkong.policy.facts import CategoryFact, Evaluation, Facts, Segment
from fangkong.policy.loader import LoadedProfile

CHUNK = 1000


def _tz() -> dt.tzinfo:
    from fangkong.config import get_settings

    return get_settings().tz


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(_tz()).date()


def _clock(value: dt.datetime | dt.date) -> dt.datetime:
    """A date means the start of that local day; a naive time is local time."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=_tz()) if value.tzinfo is None else value
    return dt.datetime.combine(value, dt.time(0), _tz())


def _active_profile(session: Session, as_of: dt.datetime) -> LoadedProfile:
    from fangkong.policy_profile import service as profiles

    return profiles.active(session, local_day(as_of))


# ---------------------------------------------------------------- facts


def facts_of(session: Session, person_ids: Sequence[int]) -> dict[int, Facts]:
    rows = session.scalars(
        select(PersonCategory)
        .where(PersonCategory.person_id.in_(person_ids), PersonCategory.status == "active")
        .order_by(PersonCategory.person_id, PersonCategory.clock_at, PersonCategory.id)
    )
    grouped: dict[int, list[CategoryFact]] = {pid: [] for pid in person_ids}
    for r in rows:
        grouped[r.person_id].append(
            CategoryFact(r.category, r.clock_at, r.setting, r.place, r.source, r.close_contact_positive)
        )
    return {pid: Facts(categories=tuple(cats), person=str(pid)) for pid, cats in grouped.items()}


def _under_control(session: Session) -> Iterator[list[int]]:
    """Ids of persons with an active category, in chunks."""
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(PersonCategory.person_id)
                .where(PersonCategory.status == "active", PersonCategory.person_id > last)
                .group_by(PersonCategory.person_id)
                .order_by(PersonCategory.person_id)
                .limit(CHUNK)
            )
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def current(session: Session, person_ids: Sequence[int]) -> dict[int, list[Measure]]:
    out: dict[int, list[Measure]] = {pid: [] for pid in person_ids}
    for m in session.scalars(
        select(Measure)
        .where(Measure.person_id.in_(person_ids), Measure.status == "current")
        .order_by(Measure.person_id, Measure.start)
    ):
        out[m.person_id].append(m)
    return out


# ---------------------------------------------------------------- planning


def replan(
    session: Session, actor: Actor, person_ids: Sequence[int], loaded: LoadedProfile, as_of: dt.datetime
) -> dict[int, Evaluation]:
    """Evaluate each person's facts with `loaded`; replace their current measures; log every
    decision (shadow ones too)."""
    facts = facts_of(session, person_ids)
    now = utcnow()
    session.execute(
        update(Measure)
        .where(Measure.person_id.in_(person_ids), Measure.status == "current")
        .values(status="superseded", superseded_at=now)
    )
    results: dict[int, Evaluation] = {}
    for pid in person_ids:
        ev = evaluate(loaded, facts[pid], as_of, tz=_tz())
        results[pid] = ev
        by_rule = {d.rule_id: d for d in ev.decisions if d.kind == "measure"}
        for seg in ev.plan:
            d = by_rule.get(seg.rule_id)
            session.add(
                Measure(
                    person_id=pid,
                    kind=seg.kind,
                    start=seg.start,
                    end=seg.end,
                    test_dates=[x.isoformat() for x in seg.test_dates],
                    category=seg.category,
                    rule_id=seg.rule_id,
                    profile_id=ev.profile_id,
                    version=ev.version,
                    checksum=ev.checksum,
                    reason_zh=d.reason_zh if d else "",
                    reason_en=d.reason_en if d else "",
                )
            )
        for d in ev.decisions:
            session.add(
                PolicyDecision(
                    person_id=pid,
                    rule_id=d.rule_id,
                    profile_id=d.profile_id,
                    version=d.version,
                    checksum=d.checksum,
                    mode=d.mode,
                    kind=d.kind,
                    category=d.category,
                    reason_zh=d.reason_zh,
                    reason_en=d.reason_en,
                    data=d.data,
                )
            )
    session.flush()
    return results


def replan_all(session: Session, actor: Actor, loaded: LoadedProfile, as_of: dt.datetime) -> int:
    count = 0
    for chunk in _under_control(session):
        replan(session, actor, chunk, loaded, as_of)
        count += len(chunk)
    events.emit(
        session,
        "measure.replanned",
        "policy_profile",
        loaded.id,
        {"people": count, "checksum": loaded.checksum},
        actor=actor,
    )
    return count


def compare_plans(
    session: Session, loaded: LoadedProfile, as_of: dt.datetime
) -> Iterator[tuple[int, list[Measure], tuple[Segment, ...]]]:
    """(person, current measures, plan under `loaded`) for everyone under control."""
    for chunk in _under_control(session):
        facts = facts_of(session, chunk)
        old = current(session, chunk)
        for pid in chunk:
            yield pid, old[pid], evaluate(loaded, facts[pid], as_of, tz=_tz()).plan


def apply_due(session: Session, actor: Actor, as_of: dt.datetime) -> int:
    """Re-plan the people whose measures were decided by another profile than the one in force
    today (a profile activated ahead of time has come into force). Idempotent."""
    loaded = _active_profile(session, as_of)
    stale = list(
        session.scalars(
            select(Measure.person_id)
            .where(Measure.status == "current", Measure.checksum != loaded.checksum)
            .group_by(Measure.person_id)
        )
    )
    for start in range(0, len(stale), CHUNK):
        replan(session, actor, stale[start : start + CHUNK], loaded, as_of)
    return len(stale)


# ---------------------------------------------------------------- people


def assign(
    *, session: Session, actor: Actor, person_id: int, data: CategoryAssign, as_of: dt.datetime | None = None
) -> tuple[PersonCategory, Evaluation]:
    """Put a person in a category (e.g. close contact since a last exposure) and plan their
    measures with the profile in force."""
    authorize(actor, "measure.assign")
    person = persons.get(session=session, actor=actor, person_id=person_id, action="measure.assign")
    if person.status != "active":
        raise Conflict(f"person {person_id} was merged into {person.merged_into_id}")
    as_of = as_of or utcnow()
    clock = _clock(data.clock_at)
    if clock > as_of + dt.timedelta(minutes=5):
        raise invalid("clock_at", "the clock's start event cannot be in the future", data.clock_at)
    loaded = _active_profile(session, as_of)
    row = PersonCategory(
        person_id=person_id,
        category=data.category,
        clock_at=clock,
        setting=data.setting,
        place=data.place,
        source=data.source,
        close_contact_positive=data.close_contact_positive,
        actor_name=actor.username,
    )
    session.add(row)
    session.flush()
    ev = replan(session, actor, [person_id], loaded, as_of)[person_id]
    audit.record(
        session,
        actor,
        "measure.assign",
        "person",
        person_id,
        after={
            "category": data.category,
            "clock_at": clock.isoformat(),
            "setting": data.setting,
            "place": data.place,
            "source": data.source,
            "profile": loaded.id,
            "checksum": loaded.checksum,
            "measures": [s.as_dict() for s in ev.plan],
        },
        area_code=person.area_code,
    )
    events.emit(
        session,
        "measure.assigned",
        "person",
        person_id,
        {"category": data.category, "person_category_id": row.id},
        actor=actor,
    )
    return row, ev


def withdraw(
    *,
    session: Session,
    actor: Actor,
    person_id: int,
    category_id: int,
    reason: str,
    as_of: dt.datetime | None = None,
) -> Evaluation:
    """Withdraw a category given by mistake (the history stays) and re-plan."""
    authorize(actor, "measure.assign")
    person = persons.get(session=session, actor=actor, person_id=person_id, action="measure.assign")
    row = session.get(PersonCategory, category_id)
    if row is None or row.person_id != person_id:
        raise NotFound(f"category {category_id} of person {person_id} not found")
    if row.status != "active":
        raise Conflict(f"category {category_id} was already withdrawn")
    row.status = "withdrawn"
    as_of = as_of or utcnow()
    ev = replan(session, actor, [person_id], _active_profile(session, as_of), as_of)[person_id]
    audit.record(
        session,
        actor,
        "measure.withdraw",
        "person",
        person_id,
        reason=reason,
        before={"category": row.category, "id": row.id},
        area_code=person.area_code,
    )
    return ev


def explain(
    *, session: Session, actor: Actor, person_id: int, as_of: dt.datetime | None = None
) -> tuple[list[PersonCategory], Evaluation]:
    """Why this person has these measures and this code colour, under the profile in force."""
    person = persons.get(session=session, actor=actor, person_id=person_id, action="measure.read")
    as_of = as_of or utcnow()
    loaded = _active_profile(session, as_of)
    cats = list(
        session.scalars(
            select(PersonCategory)
            .where(PersonCategory.person_id == person.id)
            .order_by(PersonCategory.clock_at, PersonCategory.id)
        )
    )
    return cats, evaluate(loaded, facts_of(session, [person.id])[person.id], as_of, tz=_tz())


def measures_of(*, session: Session, actor: Actor, person_id: int) -> list[Measure]:
    persons.get(session=session, actor=actor, person_id=person_id, action="measure.read")
    return current(session, [person_id])[person_id]
