"""The TracingEngine interface and the plain values it takes and returns.

Inputs are *sources*: a path (a Parquet file, a folder or glob of Parquet files — e.g.
day-partitioned — or a CSV file) or an in-memory Arrow table. Outputs are Arrow tables with
the columns documented on each method; times are UTC (`timestamp[us, tz=UTC]`).

Column conventions of the inputs (see docs/tracing.md):
- stays: `person_id, start, end` and either `lon, lat` (WGS 84 degrees) or `cell_id`;
- check-ins: `person_id, place_id, time` and optionally `leave_time`;
- travel records: `person_id, mode (flight|train|coach), number, date, carriage, seat`;
- contact edges: `person_id, other_id, setting (household|workplace)`.
`person_id` may be an integer or a string, the same type in every input of one call.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Union

import pyarrow as pa

from fangkong.errors import ErrorDetail, Invalid

Source = Union[str, Path, pa.Table]
PersonId = Union[int, str]


@dataclass(frozen=True)
class CaseAnchor:
    """A case (by its person) and the time its window ends: onset, or the first positive
    sampling time when there is no onset. Aware datetime."""

    person_id: PersonId
    anchor: dt.datetime


@dataclass(frozen=True)
class Grid:
    """How positions become cells: squares of `cell_size_m` metres in the UTM zone `utm_zone`
    (northern hemisphere unless `south`); ignored when the stays carry a `cell_id`."""

    cell_size_m: float = 800.0
    utm_zone: int = 48
    south: bool = False


@dataclass(frozen=True)
class CompanionParams:
    """Spatiotemporal companions (时空伴随者): shared a cell with a case for at least
    `min_overlap_min` minutes (in that cell, summed) within the `window_days` before the case's
    anchor, where the case's or the person's cumulative stay in that cell within the window
    reaches `min_dwell_h` hours (0 disables the dwell test). Stays are clipped to the window."""

    grid: Grid = field(default_factory=Grid)
    min_overlap_min: float = 10.0
    window_days: float = 14.0
    min_dwell_h: float = 30.0


@dataclass(frozen=True)
class VenueParams:
    """Close contacts at venues: overlapping presence of at least `min_overlap_min` minutes in
    the same place within the lookback (from `lookback_days` before the anchor to
    `until_hours_after` the anchor, by default up to when the case was controlled). When only a
    check-in time is known, presence lasts `default_dwell_min` (or the venue's own dwell from
    `dwell_by_place`, a place_id → minutes mapping built from the venue categories)."""

    lookback_days: float = 2.0
    min_overlap_min: float = 10.0
    default_dwell_min: float = 60.0
    dwell_by_place: dict[PersonId, float] = field(default_factory=dict)
    until_hours_after: float = 0.0


@dataclass(frozen=True)
class VehicleParams:
    """Close contacts on conveyances: aircraft ±`aircraft_rows` rows; sealed trains the whole
    carriage (`train: carriage`) or ±`train_rows`; coaches the whole vehicle or ±`coach_rows`."""

    lookback_days: float = 2.0
    aircraft_rows: int = 3
    train: str = "carriage"  # carriage | rows
    train_rows: int = 0
    coach: str = "vehicle"  # vehicle | rows
    coach_rows: int = 3


@dataclass(frozen=True)
class Exposure:
    """A close contact and since when their contacts count (their last exposure to the case)."""

    person_id: PersonId
    since: dt.datetime


class TracingEngine(Protocol):
    """Every engine answers the same questions with the same columns and the same rows."""

    name: str

    def companions(self, stays: Source, cases: list[CaseAnchor], params: CompanionParams) -> pa.Table:
        """One row per (case, companion): `case_person_id, person_id, co_presence_minutes
        (float, summed over the qualifying cells), cells (int, how many qualifying cells),
        first_seen, last_seen` (the first and last moment of co-presence). Sorted by
        case_person_id, person_id. The case itself is never its own companion."""
        ...

    def venue_contacts(self, checkins: Source, cases: list[CaseAnchor], params: VenueParams) -> pa.Table:
        """One row per (case, person, place): `case_person_id, person_id, place_id,
        overlap_minutes, first_seen, last_seen`. Sorted by case_person_id, person_id, place_id."""
        ...

    def vehicle_contacts(self, travel: Source, cases: list[CaseAnchor], params: VehicleParams) -> pa.Table:
        """One row per (case, person, trip): `case_person_id, person_id, mode, number, date,
        carriage, seat, case_seat`. Sorted by case_person_id, person_id, date, number."""
        ...

    def secondary_contacts(self, edges: Source, exposures: list[Exposure]) -> pa.Table:
        """The close contacts' own household and workplace contacts: one row per (close
        contact, person, setting): `contact_person_id, person_id, setting, since`. The close
        contacts themselves and the cases are not excluded here (the caller deduplicates)."""
        ...

    def trajectory(
        self, stays: Source, person_id: PersonId, start: dt.datetime, end: dt.datetime, grid: Grid
    ) -> pa.Table:
        """The person's stays clipped to [start, end]: `start, end, lon, lat, cell_id, minutes`,
        in time order."""
        ...


TS = pa.timestamp("us", tz="UTC")


def id_type(kind: str) -> pa.DataType:
    """The Arrow type of person ids: `int` → int64, anything else → string."""
    return pa.int64() if kind == "int" else pa.string()


def companion_schema(kind: str) -> pa.Schema:
    """The columns every engine's `companions` returns (person ids of `kind`)."""
    ids = id_type(kind)
    return pa.schema(
        [
            ("case_person_id", ids),
            ("person_id", ids),
            ("co_presence_minutes", pa.float64()),
            ("cells", pa.int64()),
            ("first_seen", TS),
            ("last_seen", TS),
        ]
    )


def secondary_schema(kind: str) -> pa.Schema:
    """The columns every engine's `secondary_contacts` returns."""
    ids = id_type(kind)
    return pa.schema(
        [("contact_person_id", ids), ("person_id", ids), ("setting", pa.string()), ("since", TS)]
    )


def check_companion_params(params: CompanionParams) -> None:
    """Refuse parameters no engine can honour, naming each one."""
    problems: list[ErrorDetail] = []
    checks: dict[str, tuple[float, bool]] = {
        "cell_size_m": (params.grid.cell_size_m, params.grid.cell_size_m > 0),
        "utm_zone": (params.grid.utm_zone, 1 <= params.grid.utm_zone <= 60),
        "min_overlap_min": (params.min_overlap_min, params.min_overlap_min >= 0),
        "window_days": (params.window_days, params.window_days > 0),
        "min_dwell_h": (params.min_dwell_h, params.min_dwell_h >= 0),
    }
    for name, (value, ok) in checks.items():
        if not ok or not math.isfinite(value):
            problems.append(ErrorDetail(name, "out of range", value))
    if problems:
        raise Invalid("invalid companion parameters", problems)


def engine(name: str = "duckdb", **options: object) -> TracingEngine:
    """The engine called `name` (duckdb or spark)."""
    import importlib

    modules = {
        "duckdb": ("fangkong.tracing.duckdb_engine", "DuckDBEngine"),
        "spark": ("fangkong.tracing.spark", "SparkEngine"),
    }
    if name in modules:
        module, cls = modules[name]
        made: TracingEngine = getattr(importlib.import_module(module), cls)(**options)
        return made
    raise ValueError(f"unknown tracing engine {name!r}; expected duckdb or spark")
