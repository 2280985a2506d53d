"""A case's trajectory for the lookback window from the movement data: the stays (through the
tracing engine, clipped to the window), the venue check-ins and the travel records of the case
person. Shown on the case page next to what the case told the tracers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.case import service as cases
from fangkong.config import get_settings
from fangkong.contact.finding import Movement
from fangkong.db.base import utcnow
from fangkong.errors import PolicyError
from fangkong.measure.service import local_day
from fangkong.place.models import Place
from fangkong.policy_profile import service as profiles
from fangkong.tracing import ports
from fangkong.tracing.projection import zone_of

MAX_ROWS = 500  # per kind: a window of days has far fewer stays and scans


@dataclass
class Trajectory:
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    stays: list[dict[str, Any]] = field(default_factory=list)
    checkins: list[dict[str, Any]] = field(default_factory=list)
    travel: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "stays": self.stays,
            "checkins": self.checkins,
            "travel": self.travel,
            "notes": self.notes,
        }


def trajectory(
    *, session: Session, actor: Actor, case_id: int, movement: Movement, now: dt.datetime | None = None
) -> Trajectory:
    """The case person's movement from the close-contact lookback before the case's anchor
    (onset or first positive sampling) until the case was under control (or now)."""
    case = cases.get(session=session, actor=actor, case_id=case_id, action="contact.read")
    out = Trajectory()
    audit.record(session, actor, "case.trajectory", "case", case.id, area_code=case.area_code)
    if case.anchor is None:
        out.notes.append("the case has neither an onset date nor a first positive sampling time")
        return out
    now = now or utcnow()
    try:
        rules = profiles.active(session, local_day(now)).profile.contacts
    except PolicyError as exc:
        rules = None
        out.notes.append(f"{exc.message}; using a 4-day lookback and 800 m cells")
    lookback = rules.close_contact.lookback.seconds if rules is not None else 4 * 86400
    anchor = _aware(case.anchor)
    out.start = anchor - dt.timedelta(seconds=lookback)
    out.end = min(_aware(case.controlled_at) if case.controlled_at else now, now)
    if out.end <= out.start:
        out.end = anchor
    settings = get_settings()
    if movement.stays is None:
        out.notes.append("no stays (telecom or GPS) in the movement store")
    else:
        cell = rules.companion.cell_size.metres if rules is not None and rules.companion else 800.0
        grid = ports.Grid(cell_size_m=cell, utm_zone=zone_of(settings.city_lon), south=settings.city_lat < 0)
        table = movement.engine.trajectory(movement.stays, case.person_id, out.start, out.end, grid)
        out.stays = table.slice(0, MAX_ROWS).to_pylist()
        if table.num_rows == 0:
            out.notes.append("no stays of the case person in the window")
    if movement.checkins is not None:
        rows = _rows(movement.checkins, case.person_id, "time", out.start, out.end)
        names = dict(
            session.execute(
                select(Place.id, Place.name).where(
                    Place.id.in_({int(r["place_id"]) for r in rows if str(r["place_id"]).isdigit()})
                )
            ).all()
        )
        out.checkins = [
            {
                "time": r["time"],
                "leave_time": r.get("leave_time"),
                "place_id": r["place_id"],
                "place": names.get(int(r["place_id"])) if str(r["place_id"]).isdigit() else None,
            }
            for r in rows
        ]
    if movement.travel is not None:
        out.travel = [
            {k: r.get(k) for k in ("mode", "number", "date", "carriage", "seat")}
            for r in _rows(movement.travel, case.person_id, "date", out.start, out.end)
        ]
    return out


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _rows(
    folder: Path, person_id: int, column: str, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """The person's rows of a Parquet folder with `column` in [start, end], in time order."""
    data = ds.dataset(folder, format="parquet", partitioning="hive", exclude_invalid_files=True)
    schema = data.schema
    if "person_id" not in schema.names or column not in schema.names:
        return []
    pid: Any = str(person_id) if pa.types.is_string(schema.field("person_id").type) else person_id
    kind = schema.field(column).type
    if pa.types.is_timestamp(kind):
        lo: Any = start if kind.tz else start.astimezone(get_settings().tz).replace(tzinfo=None)
        hi: Any = end if kind.tz else end.astimezone(get_settings().tz).replace(tzinfo=None)
        lo, hi = pa.scalar(lo, type=kind), pa.scalar(hi, type=kind)
    elif pa.types.is_date(kind):
        local = get_settings().tz
        lo, hi = start.astimezone(local).date(), end.astimezone(local).date()
    else:
        return []
    wanted = (pc.field("person_id") == pid) & (pc.field(column) >= lo) & (pc.field(column) <= hi)
    table = data.to_table(filter=wanted).sort_by(column)
    rows: list[dict[str, Any]] = table.slice(0, MAX_ROWS).to_pylist()
    return rows
