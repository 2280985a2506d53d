"""Contact finding for one case, with every parameter from the profile in force.

Registry relations (household, workplace, persons named in the interview) come from the
database; venues, vehicles and grid cells come from the movement data through the tracing
engine. Every candidate carries its reason. Secondary contacts are the close contacts' own
household and workplace contacts from their last exposure on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.case.models import Case
from fangkong.investigation.models import InterviewEntry, Investigation
from fangkong.person.models import Person
from fangkong.place.models import Place
from fangkong.policy.loader import LoadedProfile
from fangkong.tracing import ports

STRENGTH = {"close_contact": 0, "secondary_contact": 1, "companion": 2}


@dataclass
class Candidate:
    person_id: int
    list: str  # close_contact | secondary_contact | companion
    setting: str  # household | venue | vehicle | workplace | named | cell
    place_key: str = ""
    place: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    minutes: float | None = None
    via_person_id: int | None = None

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.person_id, self.list, self.setting, self.place_key)


@dataclass
class Movement:
    """Where the movement data lives (folders of Parquet files), and the engine to read it."""

    stays: Path | None
    checkins: Path | None
    travel: Path | None
    engine: ports.TracingEngine


def movement_store(root: Path, engine: ports.TracingEngine) -> Movement:
    def folder(name: str) -> Path | None:
        path = root / name
        return path if path.is_dir() and any(path.rglob("*.parquet")) else None

    return Movement(folder("stays"), folder("checkins"), folder("travel"), engine)


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def find(
    session: Session, case: Case, loaded: LoadedProfile, movement: Movement | None, now: dt.datetime
) -> tuple[list[Candidate], list[str]]:
    """All candidates for the case, and notes (e.g. "no movement data for this case")."""
    rules = loaded.profile.contacts
    if rules is None:
        return [], [f"profile {loaded.id} defines no contact rules"]
    anchor = case.anchor
    if anchor is None:
        return [], ["the case has neither an onset date nor a first positive sampling time"]
    close = rules.close_contact
    start = anchor - dt.timedelta(seconds=close.lookback.seconds)
    end = min(case.controlled_at or now, now)
    notes: list[str] = []
    out: list[Candidate] = []
    if close.mode != "off":
        person = session.get(Person, case.person_id)
        assert person is not None
        if "household" in close.settings and person.household_id is not None:
            out += [
                Candidate(
                    pid,
                    "close_contact",
                    "household",
                    f"household:{person.household_id}",
                    start=start,
                    end=end,
                )
                for pid in _members(session, Person.household_id, person.household_id)
            ]
        if "workplace" in close.settings and person.work_unit_id is not None:
            colleagues = _members(session, Person.work_unit_id, person.work_unit_id)
            if len(colleagues) <= close.workplace_max_group:
                out += [
                    Candidate(
                        pid, "close_contact", "workplace", f"unit:{person.work_unit_id}", start=start, end=end
                    )
                    for pid in colleagues
                ]
            else:
                notes.append(
                    f"workplace of {len(colleagues)} people: colleagues are listed by the investigation "
                    f"(more than {close.workplace_max_group})"
                )
        entries = _entries(session, case)
        if "named" in close.settings:
            out += [
                Candidate(
                    e.person_id,
                    "close_contact",
                    "named",
                    f"entry:{e.id}",
                    e.person_text,
                    e.start or start,
                    e.end or end,
                )
                for e in entries
                if e.kind == "person" and e.person_id is not None
            ]
        if movement is None:
            notes.append("no movement data store")
        else:
            if "venue" in close.settings:
                out += _venues(session, case, loaded, movement, entries, start, end, notes)
            if "vehicle" in close.settings:
                out += _vehicles(case, loaded, movement, entries, start, notes)
    companion = rules.companion
    if companion is not None and companion.mode != "off" and movement is not None:
        out += _companions(case, loaded, movement, anchor, notes)
    out = [c for c in out if c.person_id != case.person_id]
    secondary = rules.secondary_contact
    if secondary is not None and secondary.mode != "off":
        close_ids = {c.person_id for c in out if c.list == "close_contact"} | {case.person_id}
        out += [
            c
            for c in _secondary(
                session,
                [c for c in out if c.list == "close_contact"],
                secondary.settings,
                close.workplace_max_group,
            )
            if c.person_id not in close_ids
        ]

    return out, notes


def _members(session: Session, column: Any, value: int) -> list[int]:
    return list(session.scalars(select(Person.id).where(column == value, Person.status == "active")))


def _entries(session: Session, case: Case) -> list[InterviewEntry]:
    inv = session.scalar(select(Investigation.id).where(Investigation.case_id == case.id))
    if inv is None:
        return []
    return list(session.scalars(select(InterviewEntry).where(InterviewEntry.investigation_id == inv)))


def _venues(
    session: Session,
    case: Case,
    loaded: LoadedProfile,
    movement: Movement,
    entries: list[InterviewEntry],
    start: dt.datetime,
    end: dt.datetime,
    notes: list[str],
) -> list[Candidate]:
    close = loaded.profile.contacts.close_contact  # type: ignore[union-attr]
    # The case's own visits from the interview join the check-ins (people forget to scan).
    visits = [e for e in entries if e.kind == "place" and e.place_id is not None and e.start is not None]
    extra = pa.table(
        {
            "person_id": pa.array([case.person_id] * len(visits), pa.int64()),
            "place_id": pa.array([e.place_id for e in visits], pa.int64()),
            "time": pa.array([e.start for e in visits], pa.timestamp("us", tz="UTC")),
            "leave_time": pa.array([e.end for e in visits], pa.timestamp("us", tz="UTC")),
        }
    )
    sources: list[Any] = [extra] if visits else []
    if movement.checkins is not None:
        sources.append(movement.checkins)
    if not sources:
        notes.append("no check-ins")
        return []
    dwell = close.venue_dwell_by_category
    by_place: dict[Any, float] = {}
    if dwell:
        for pid, cat in session.execute(
            select(Place.id, Place.category).where(Place.category.in_(list(dwell)))
        ):
            by_place[pid] = dwell[cat].minutes
    params = ports.VenueParams(
        lookback_days=close.lookback.seconds / 86400,
        min_overlap_min=close.venue_min_overlap.minutes,
        default_dwell_min=close.venue_default_dwell.minutes,
        dwell_by_place=by_place,
        until_hours_after=max(0.0, (end - case.anchor).total_seconds() / 3600) if case.anchor else 0.0,
    )
    anchors = [ports.CaseAnchor(case.person_id, case.anchor)]  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    for source in sources:
        rows += movement.engine.venue_contacts(source, anchors, params).to_pylist()
    names = (
        dict(
            session.execute(
                select(Place.id, Place.name).where(Place.id.in_({int(r["place_id"]) for r in rows}))
            ).all()
        )
        if rows
        else {}
    )
    return [
        Candidate(
            int(r["person_id"]),
            "close_contact",
            "venue",
            f"place:{r['place_id']}",
            names.get(int(r["place_id"]), str(r["place_id"])),
            _aware(r["first_seen"]),
            _aware(r["last_seen"]),
            float(r["overlap_minutes"]),
        )
        for r in rows
    ]


def _vehicles(
    case: Case,
    loaded: LoadedProfile,
    movement: Movement,
    entries: list[InterviewEntry],
    start: dt.datetime,
    notes: list[str],
) -> list[Candidate]:
    close = loaded.profile.contacts.close_contact  # type: ignore[union-attr]
    trips = [e for e in entries if e.kind == "trip" and e.mode and e.number and e.start is not None]
    extra = pa.table(
        {
            "person_id": pa.array([case.person_id] * len(trips), pa.int64()),
            "mode": pa.array([e.mode for e in trips], pa.string()),
            "number": pa.array([e.number for e in trips], pa.string()),
            "date": pa.array([e.start.date() for e in trips if e.start], pa.date32()),
            "carriage": pa.array([e.carriage for e in trips], pa.string()),
            "seat": pa.array([e.seat for e in trips], pa.string()),
        }
    )
    sources: list[Any] = [extra] if trips else []
    if movement.travel is not None:
        sources.append(movement.travel)
    if not sources:
        return []
    v = close.vehicle
    params = ports.VehicleParams(
        lookback_days=close.lookback.seconds / 86400,
        aircraft_rows=v.aircraft_rows,
        train=v.sealed_train,
        train_rows=v.train_rows,
        coach=v.coach,
        coach_rows=v.coach_rows,
    )
    anchors = [ports.CaseAnchor(case.person_id, case.anchor)]  # type: ignore[arg-type]
    out = []
    for source in sources:
        for r in movement.engine.vehicle_contacts(source, anchors, params).to_pylist():
            trip = f"{r['mode']}:{r['number']}:{r['date']}"
            label = f"{r['number']} {r['date']} {r.get('carriage') or ''} {r.get('seat') or ''}".strip()
            day = r["date"] if isinstance(r["date"], dt.date) else start.date()
            moment = dt.datetime.combine(day, dt.time(12), dt.UTC)
            out.append(
                Candidate(int(r["person_id"]), "close_contact", "vehicle", trip, label, moment, moment)
            )
    return out


def _companions(
    case: Case, loaded: LoadedProfile, movement: Movement, anchor: dt.datetime, notes: list[str]
) -> list[Candidate]:
    if movement.stays is None:
        notes.append("no stays (telecom or GPS) in the movement store")
        return []
    from fangkong.config import get_settings
    from fangkong.tracing.projection import zone_of

    rule = loaded.profile.contacts.companion  # type: ignore[union-attr]
    assert rule is not None
    settings = get_settings()
    params = ports.CompanionParams(
        grid=ports.Grid(
            cell_size_m=rule.cell_size.metres,
            utm_zone=zone_of(settings.city_lon),
            south=settings.city_lat < 0,
        ),
        min_overlap_min=rule.min_co_presence.minutes,
        window_days=rule.window.seconds / 86400,
        min_dwell_h=rule.min_dwell.hours,
    )
    table = movement.engine.companions(movement.stays, [ports.CaseAnchor(case.person_id, anchor)], params)
    if table.num_rows == 0:
        notes.append("no companions in the movement data (or no stays of the case)")
    return [
        Candidate(
            int(r["person_id"]),
            "companion",
            "cell",
            "",
            f"{r['cells']} 个网格 / cells",
            _aware(r["first_seen"]),
            _aware(r["last_seen"]),
            float(r["co_presence_minutes"]),
        )
        for r in table.to_pylist()
    ]


def _secondary(
    session: Session, close: list[Candidate], settings: Sequence[str], max_group: int
) -> list[Candidate]:
    """Household and workplace contacts of each close contact, from their last exposure on."""
    last: dict[int, dt.datetime | None] = {}
    for c in close:
        last[c.person_id] = max((t for t in (last.get(c.person_id), c.end) if t is not None), default=None)
    if not last:
        return []
    ids = list(last)
    rows = session.execute(
        select(Person.id, Person.household_id, Person.work_unit_id).where(Person.id.in_(ids))
    ).all()
    out: list[Candidate] = []
    for pid, household, unit in rows:
        if "household" in settings and household is not None:
            out += [
                Candidate(
                    m,
                    "secondary_contact",
                    "household",
                    f"household:{household}",
                    start=last[pid],
                    via_person_id=pid,
                )
                for m in _members(session, Person.household_id, household)
                if m != pid
            ]
        if "workplace" in settings and unit is not None:
            size = (
                session.scalar(select(func.count()).select_from(Person).where(Person.work_unit_id == unit))
                or 0
            )
            if size <= max_group:
                out += [
                    Candidate(
                        m,
                        "secondary_contact",
                        "workplace",
                        f"unit:{unit}",
                        start=last[pid],
                        via_person_id=pid,
                    )
                    for m in _members(session, Person.work_unit_id, unit)
                    if m != pid
                ]
    return out
