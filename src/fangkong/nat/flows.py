"""What a result sets off (handlers of `nat.result_reported`, one transaction per result,
replayable from the outbox — each step checks what is already done):

- a positive pooled tube (混管阳性): every member is put in `positive_pool_member` (the profile
  decides the measure, e.g. stay in place and a yellow code), gets a single-tube retest task
  for their community with the profile's deadline, and is located (residence, last check-in,
  the site where they were sampled);
- a positive single tube: a case opens (the tracing flow follows: investigation, contacts);
- a negative single tube of a positive-pool member sampled after the pool result releases them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.auth.actor import system_actor
from fangkong.events.models import DomainEvent
from fangkong.events.service import handler
from fangkong.nat.models import Sample, SamplingSite, Tube
from fangkong.person.models import Person
from fangkong.policy.loader import LoadedProfile

WORKER = system_actor("nat")
POOL_CATEGORY = "positive_pool_member"


@handler("nat.result_flow", "nat.result_reported")
def on_result(session: Session, event: DomainEvent) -> None:
    tube = session.get(Tube, int(event.aggregate_id))
    if tube is None or tube.result is None:
        return
    # Act on the tube's current result: a later correction brings its own event.
    if tube.result == "positive" and tube.capacity > 1:
        positive_pool(session, tube)
    elif tube.result == "positive":
        positive_single(session, tube)
    elif tube.result == "negative" and tube.capacity == 1:
        negative_single(session, tube)


def _samples(session: Session, tube: Tube) -> list[Sample]:
    return list(session.scalars(select(Sample).where(Sample.tube_id == tube.id).order_by(Sample.id)))


def _source(tube: Tube) -> str:
    return f"混管阳性 {tube.barcode}"


def positive_pool(session: Session, tube: Tube) -> int:
    """Members under measures, retest tasks, located. Returns how many members were new.
    One statement per kind of row for the whole pool (a city's bad day has a thousand pools)."""
    from fangkong.audit import service as audit
    from fangkong.errors import PolicyError
    from fangkong.events import service as events
    from fangkong.measure import service as measures
    from fangkong.measure.models import PersonCategory
    from fangkong.policy_profile import service as profiles
    from fangkong.task import service as tasks

    at = tube.reported_at or tube.closed_at or tube.opened_at
    clock = min(at, dt.datetime.now(dt.UTC))
    samples = _samples(session, tube)
    people = {
        p.id: p for p in session.scalars(select(Person).where(Person.id.in_([s.person_id for s in samples])))
    }
    done = set(
        session.scalars(
            select(PersonCategory.person_id).where(
                PersonCategory.person_id.in_(list(people)),
                PersonCategory.category == POOL_CATEGORY,
                PersonCategory.source == _source(tube),
            )
        )
    )
    new = [pid for pid in people if pid not in done and people[pid].status == "active"]
    try:
        loaded = profiles.active(session, measures.local_day(clock))
    except PolicyError:
        loaded = None
    if new:
        session.add_all(
            PersonCategory(
                person_id=pid,
                category=POOL_CATEGORY,
                clock_at=clock,
                source=_source(tube),
                actor_name=WORKER.username,
            )
            for pid in new
        )
        session.flush()
        if loaded is not None:  # else the category stands; activating a profile plans the measures
            measures.replan(session, WORKER, new, loaded, dt.datetime.now(dt.UTC))
        for pid in new:
            events.emit(session, "measure.assigned", "person", pid, {"category": POOL_CATEGORY}, actor=WORKER)
        audit.record(
            session,
            WORKER,
            "nat.positive_pool",
            "nat_tube",
            tube.id,
            after={"barcode": tube.barcode, "persons": new, "category": POOL_CATEGORY},
            area_code=None,
        )
    due = at + _retest_within(loaded)
    site = session.get(SamplingSite, tube.site_id)
    specs = []
    for sample in samples:
        person = people.get(sample.person_id)
        if person is None:
            continue
        specs.append(
            {
                "kind": "retest",
                "title": f"单管复核：混管阳性（管码{tube.barcode}）",
                "area_code": person.area_code[:12] if len(person.area_code) >= 12 else person.area_code,
                "role": "community_worker",
                "due_at": due,
                "person_id": person.id,
                "priority": "urgent",
                "dedupe_key": f"retest:{tube.id}:{person.id}",
                "data": locate(person, sample, site),
            }
        )
    tasks.create_many(session, WORKER, specs)
    return len(new)


def _retest_within(loaded: LoadedProfile | None) -> dt.timedelta:
    """The profile's positive-onward deadline (12 h in cn-9th), else 12 hours."""
    testing = loaded.profile.testing if loaded is not None else None
    if testing is not None and "positive_onward" in testing.result_deadlines:
        return dt.timedelta(seconds=testing.result_deadlines["positive_onward"].seconds)
    return dt.timedelta(hours=12)


def locate(person: Person, sample: Sample, site: SamplingSite | None) -> dict[str, Any]:
    """Where to find a person: residence and the site where they were sampled. Their latest
    venue check-in is looked up when someone asks (`GET /api/v1/nat/tubes/{barcode}/members`):
    it is then current, and the flow stays fast."""
    return {
        "residence_area": person.area_code,
        "sampled_at_site": site.name if site else None,
        "sampled_at": sample.collected_at.isoformat(),
    }


def last_checkins(person_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each person's latest venue check-in in the movement store (one scan for all of them)."""
    from fangkong.contact.movement import default

    movement = default()
    if movement.checkins is None or not person_ids:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    data = ds.dataset(movement.checkins, format="parquet", partitioning="hive", exclude_invalid_files=True)
    names = data.schema.names
    if "person_id" not in names or "time" not in names or "place_id" not in names:
        return {}
    as_text = pa.types.is_string(data.schema.field("person_id").type)
    wanted = [str(p) for p in person_ids] if as_text else person_ids
    table = data.to_table(
        columns=["person_id", "place_id", "time"], filter=pc.field("person_id").isin(wanted)
    )
    out: dict[int, dict[str, Any]] = {}
    for row in table.sort_by([("time", "ascending")]).to_pylist():
        out[int(row["person_id"])] = {"place_id": str(row["place_id"]), "time": row["time"].isoformat()}
    return out


def positive_single(session: Session, tube: Tube) -> int | None:
    """Open a case for the person of a positive single tube (unless one is open)."""
    from fangkong.case import service as cases
    from fangkong.case.models import Case
    from fangkong.case.schemas import CaseCreate
    from fangkong.measure.models import PersonCategory

    samples = _samples(session, tube)
    if len(samples) != 1:
        return None
    sample = samples[0]
    if session.scalar(select(Case.id).where(Case.person_id == sample.person_id, Case.outcome.is_(None))):
        return None
    categories = set(
        session.scalars(
            select(PersonCategory.category).where(
                PersonCategory.person_id == sample.person_id, PersonCategory.status == "active"
            )
        )
    )
    n_ct, orf_ct = tube_ct(session, tube, "n"), tube_ct(session, tube, "orf")
    found_by = "contact_under_control" if categories & {"close_contact", "secondary_contact"} else "screening"
    case = cases.create(
        session=session,
        actor=WORKER,
        data=CaseCreate(
            person_id=sample.person_id,
            classification="asymptomatic",
            first_positive_at=sample.collected_at,
            found_by=found_by,
            notes=f"单管阳性 {tube.barcode}（N {n_ct} / ORF1ab {orf_ct}）；待临床诊断订正分类",
        ),
    )
    return case.id


def tube_ct(session: Session, tube: Tube, gene: str) -> str:
    from fangkong.nat.models import TubeResult

    r = session.scalar(select(TubeResult).where(TubeResult.tube_id == tube.id, TubeResult.current.is_(True)))
    value = None if r is None else (r.ct_n if gene == "n" else r.ct_orf)
    return "-" if value is None else f"{value:.1f}"


def negative_single(session: Session, tube: Tube) -> int:
    """A negative single-tube retest releases a positive-pool member sampled after the pool."""
    from fangkong.measure import service as measures
    from fangkong.measure.models import PersonCategory

    released = 0
    for sample in _samples(session, tube):
        for cat in session.scalars(
            select(PersonCategory).where(
                PersonCategory.person_id == sample.person_id,
                PersonCategory.category == POOL_CATEGORY,
                PersonCategory.status == "active",
                PersonCategory.clock_at <= sample.collected_at,
            )
        ):
            measures.withdraw(
                session=session,
                actor=WORKER,
                person_id=sample.person_id,
                category_id=cat.id,
                reason=f"单管复核阴性（管码{tube.barcode}）",
            )
            released += 1
    return released
