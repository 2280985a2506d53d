"""A small, deterministic outbreak on top of the demo city: index cases found in the last days
of the movement window, household and venue transmission, investigations at different stages,
contact finding on the movement data, and confirmed contacts under measures.

The people come from the city itself: a venue case is someone who really checked in at the
same place as the index case within an hour (in the generated check-ins).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fangkong.auth.actor import system_actor
from fangkong.case import service as cases
from fangkong.case.schemas import CaseCreate
from fangkong.chain import service as chains
from fangkong.contact import service as contacts
from fangkong.contact.finding import Movement
from fangkong.contact.models import ContactListing
from fangkong.errors import Conflict
from fangkong.events import service as events
from fangkong.events.registry import load_handlers
from fangkong.investigation import service as investigations
from fangkong.investigation.schemas import EntryIn, StepIn
from fangkong.person.models import Person

ACTOR = system_actor("demo")


@dataclass
class OutbreakStats:
    cases: int = 0
    links: int = 0
    listed: int = 0
    confirmed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    # contact finding per case: (case id, persons listed by list, seconds)
    finding: list[tuple[int, dict[str, int], float]] = field(default_factory=list)


def seed(
    factory: sessionmaker[Session],
    movement: Movement,
    *,
    end_date: dt.date,
    seed: int = 20221101,
    clusters: int = 3,
    progress: Callable[[str], None] | None = None,
) -> OutbreakStats:
    load_handlers()
    say = progress or (lambda _m: None)
    rng = np.random.default_rng(seed + 7)
    stats = OutbreakStats()
    checkins = movement.checkins
    if checkins is None:
        say("outbreak: no check-ins in the movement store; skipped")
        return stats
    con = duckdb.connect()
    con.execute(f"CREATE VIEW c AS SELECT person_id, place_id, time FROM read_parquet('{_glob(checkins)}')")
    end = dt.datetime.combine(end_date, dt.time(23, 59), dt.UTC)
    for k in range(clusters):
        index_pid = _pick_index(factory, con, rng, end)
        if index_pid is None:
            break
        day = end - dt.timedelta(days=2 - k % 3, hours=int(rng.integers(2, 10)))
        with factory.begin() as s:
            index = _open(s, index_pid, "confirmed" if k != 1 else "asymptomatic", day, "screening", "local")
        events.run_pending(factory)  # the worker opens the investigation
        stats.cases += 1
        # epoch microseconds: DuckDB would need pytz to hand back zoned timestamps
        visits = [
            (place_id, dt.datetime.fromtimestamp(us / 1e6, dt.UTC))
            for place_id, us in con.execute(
                "SELECT place_id, epoch_us(time) FROM c WHERE person_id = ? AND time < ? "
                "ORDER BY time DESC LIMIT 4",
                [index_pid, day],
            ).fetchall()
        ]
        with factory.begin() as s:
            for place_id, time in visits:
                investigations.add_entry(
                    session=s,
                    actor=ACTOR,
                    case_id=index,
                    data=EntryIn(
                        kind="place", place_id=int(place_id), start=time, end=time + dt.timedelta(minutes=45)
                    ),
                )
        followers: list[tuple[int, str]] = []
        with factory() as s:
            person = s.get(Person, index_pid)
            assert person is not None
            if person.household_id is not None:
                mates = s.scalars(
                    select(Person.id).where(
                        Person.household_id == person.household_id, Person.id != index_pid
                    )
                ).all()
                followers += [(m, "household") for m in list(mates)[:1]]
        if visits:
            place_id, time = visits[0]
            row = con.execute(
                "SELECT person_id FROM c WHERE place_id = ? AND person_id <> ? AND "
                "time BETWEEN ? AND ? ORDER BY person_id LIMIT 1",
                [place_id, index_pid, time - dt.timedelta(hours=1), time + dt.timedelta(hours=1)],
            ).fetchone()
            if row is not None:
                followers.append((int(row[0]), "venue"))
        for n, (pid, setting) in enumerate(followers):
            with factory.begin() as s:
                try:
                    follower = _open(
                        s,
                        pid,
                        "confirmed",
                        day + dt.timedelta(hours=20 + 6 * n),
                        "contact_under_control",
                        "local",
                    )
                except Conflict:  # a person with an open case already: skip
                    continue
                chains.link(
                    session=s,
                    actor=ACTOR,
                    infector_id=index,
                    infectee_id=follower,
                    setting=setting,
                    evidence="demo",
                )
            stats.cases += 1
            stats.links += 1
    events.run_pending(factory)
    with factory() as s:
        open_cases = [c.id for c in cases.search(session=s, actor=ACTOR, limit=500)[0]]
    for n, case_id in enumerate(open_cases):
        with factory.begin() as s:
            case, inv = investigations.get(session=s, actor=ACTOR, case_id=case_id)
            if n % 4 != 3:
                investigations.record_step(
                    session=s,
                    actor=ACTOR,
                    case_id=case_id,
                    data=StepIn(step="on_site", at=inv.notified_at + dt.timedelta(minutes=80)),
                )
            if n % 2 == 0:
                investigations.record_step(
                    session=s,
                    actor=ACTOR,
                    case_id=case_id,
                    data=StepIn(step="core_facts", at=inv.notified_at + dt.timedelta(hours=3)),
                )
        with factory.begin() as s:
            found = contacts.run(session=s, actor=ACTOR, case_id=case_id, movement=movement)
            stats.listed += found.found
            stats.finding.append((case_id, dict(found.by_list), found.seconds))
            say(f"outbreak: case {case_id}: {found.found} listed in {found.seconds:.1f} s")
        if n % 2 == 0:  # half the cases are further along: their close contacts are confirmed
            with factory.begin() as s:
                close = list(
                    s.scalars(
                        select(ContactListing.id).where(
                            ContactListing.case_id == case_id,
                            ContactListing.list == "close_contact",
                            ContactListing.status == "proposed",
                        )
                    )
                )
                if close:
                    stats.confirmed += contacts.decide(
                        session=s, actor=ACTOR, case_id=case_id, listing_ids=close, accept=True
                    ).confirmed
    events.run_pending(factory)
    con.close()
    return stats


def _glob(folder: Path) -> str:
    return str(folder / "**" / "*.parquet").replace("'", "''")


def _pick_index(
    factory: sessionmaker[Session], con: duckdb.DuckDBPyConnection, rng: np.random.Generator, end: dt.datetime
) -> int | None:
    """Someone with several check-ins in the last week, living in a household, without a case."""
    rows = con.execute(
        "SELECT person_id FROM c WHERE time > ? GROUP BY person_id HAVING count(*) >= 3 "
        "ORDER BY person_id LIMIT 2000",
        [end - dt.timedelta(days=7)],
    ).fetchall()
    if not rows:
        return None
    from fangkong.case.models import Case

    with factory() as s:
        taken = set(s.scalars(select(Case.person_id)))
        for _ in range(50):
            pid = int(rows[int(rng.integers(0, len(rows)))][0])
            person = s.get(Person, pid)
            if pid not in taken and person is not None and person.household_id is not None:
                return pid
    return None


def _open(
    session: Session,
    person_id: int,
    classification: str,
    first_positive: dt.datetime,
    found_by: str,
    origin: str,
) -> int:
    case = cases.create(
        session=session,
        actor=ACTOR,
        now=first_positive + dt.timedelta(hours=6),
        data=CaseCreate(
            person_id=person_id,
            classification=classification,
            first_positive_at=first_positive,
            found_by=found_by,
            origin=origin,
            care_status="designated_hospital",
        ),
    )
    return case.id
