"""The DuckDB tracing engine on small fixtures whose answers can be worked out by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fangkong.errors import Invalid
from fangkong.tracing import projection
from fangkong.tracing.duckdb_engine import DuckDBEngine
from fangkong.tracing.ports import CaseAnchor, CompanionParams, Exposure, Grid, VehicleParams, VenueParams

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2022, 3, 1, tzinfo=TZ)  # windows of 14 days end at ANCHOR
ANCHOR = T0 + dt.timedelta(days=14)
UTC_TS = pa.timestamp("us", tz="UTC")


def at(day: int = 0, hour: float = 0, minute: float = 0, second: float = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def stays(rows: list[tuple[Any, dt.datetime, dt.datetime, Any]]) -> pa.Table:
    """(person, start, end, cell_id) rows."""
    return pa.table(
        {
            "person_id": [r[0] for r in rows],
            "start": pa.array([r[1] for r in rows], UTC_TS),
            "end": pa.array([r[2] for r in rows], UTC_TS),
            "cell_id": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def params(
    min_dwell_h: float = 0.0, min_overlap_min: float = 10.0, window_days: float = 14.0
) -> CompanionParams:
    return CompanionParams(min_overlap_min=min_overlap_min, window_days=window_days, min_dwell_h=min_dwell_h)


@pytest.fixture
def eng() -> DuckDBEngine:
    return DuckDBEngine(timezone="Asia/Shanghai", threads=2)


def rows(table: pa.Table, *cols: str) -> list[tuple[Any, ...]]:
    data = table.to_pydict()
    names = cols or tuple(table.column_names)
    return list(zip(*(data[c] for c in names), strict=True))


def pairs(table: pa.Table) -> list[tuple[Any, Any]]:
    return rows(table, "case_person_id", "person_id")


CASE1 = [CaseAnchor(1, ANCHOR)]


# ---------------------------------------------------------------- companions


def test_co_presence_threshold_is_inclusive(eng: DuckDBEngine) -> None:
    data = stays(
        [
            (1, at(1, 10), at(1, 11), 7),
            (2, at(1, 10, 50), at(1, 12), 7),  # 10:00 together
            (3, at(1, 10, 50, 1), at(1, 12), 7),  # 9:59
        ]
    )
    out = eng.companions(data, CASE1, params())
    assert rows(out) == [(1, 2, 10.0, 1, at(1, 10, 50), at(1, 11))]
    assert out.schema.field("first_seen").type == UTC_TS
    assert out.schema.field("cells").type == pa.int64()


def test_minimum_is_per_cell_and_only_qualifying_cells_are_summed(eng: DuckDBEngine) -> None:
    data = stays(
        [
            (1, at(1, 10), at(1, 11), 7),
            (1, at(2, 10), at(2, 11), 8),
            (1, at(3, 10), at(3, 11), 9),
            (2, at(1, 10, 54), at(1, 12), 7),  # 6 min
            (2, at(2, 10, 54), at(2, 12), 8),  # 6 min
            (3, at(1, 10, 54), at(1, 12), 7),  # 6 min
            (3, at(3, 10), at(3, 10, 10), 9),  # 10 min
        ]
    )
    out = eng.companions(data, CASE1, params())
    assert rows(out) == [(1, 3, 10.0, 1, at(3, 10), at(3, 10, 10))]


def test_dwell_rule_for_the_case(eng: DuckDBEngine) -> None:
    data = stays(
        [
            (1, at(1), at(2, 6), 7),  # the case: exactly 30 h in cell 7
            (2, at(1, 10), at(1, 10, 20), 7),
            (4, at(5), at(6, 5, 59), 8),  # the case: 29 h 59 min in cell 8
            (5, at(5, 10), at(5, 10, 20), 8),
        ]
    )
    cases = [CaseAnchor(1, ANCHOR), CaseAnchor(4, ANCHOR)]
    assert pairs(eng.companions(data, cases, params(min_dwell_h=30))) == [(1, 2)]
    assert pairs(eng.companions(data, cases, params(min_dwell_h=0))) == [(1, 2), (4, 5)]


def test_dwell_rule_for_the_person(eng: DuckDBEngine) -> None:
    data = stays(
        [
            (1, at(1, 10), at(1, 11), 7),
            (2, at(1, 10), at(1, 10, 20), 7),  # with the case
            (2, at(3), at(4, 5, 40), 7),  # + 29 h 40 min = 30 h
            (3, at(1, 10), at(1, 10, 20), 7),
            (3, at(3), at(4, 5, 39), 7),  # + 29 h 39 min = 29 h 59 min
            (3, at(5), at(6, 10), 8),  # long, but in another cell
        ]
    )
    out = eng.companions(data, CASE1, params(min_dwell_h=30))
    assert rows(out) == [(1, 2, 20.0, 1, at(1, 10), at(1, 10, 20))]
    assert pairs(eng.companions(data, CASE1, params(min_dwell_h=0))) == [(1, 2), (1, 3)]


def test_window_clips_stays(eng: DuckDBEngine) -> None:
    lo = ANCHOR - dt.timedelta(days=14)
    data = stays(
        [
            (1, lo - dt.timedelta(hours=1), lo + dt.timedelta(minutes=30), 7),
            (2, lo - dt.timedelta(hours=1), lo + dt.timedelta(minutes=9), 7),  # 69 min together, 9 inside
            (3, lo - dt.timedelta(hours=1), lo + dt.timedelta(minutes=10), 7),  # 10 inside
            (1, ANCHOR - dt.timedelta(minutes=5), ANCHOR + dt.timedelta(hours=2), 8),  # 5 min inside
            (4, ANCHOR - dt.timedelta(minutes=5), ANCHOR + dt.timedelta(hours=2), 8),
        ]
    )
    out = eng.companions(data, CASE1, params())
    assert rows(out) == [(1, 3, 10.0, 1, lo, lo + dt.timedelta(minutes=10))]


def test_dwell_is_clipped_to_the_window(eng: DuckDBEngine) -> None:
    lo = ANCHOR - dt.timedelta(days=14)
    data = stays(
        [
            (1, lo - dt.timedelta(hours=20), lo + dt.timedelta(hours=20), 7),  # 40 h, 20 h inside
            (2, lo + dt.timedelta(hours=1), lo + dt.timedelta(hours=2), 7),
            (3, at(3), at(4, 16), 8),  # the case: 40 h inside
            (4, at(3, 1), at(3, 2), 8),
        ]
    )
    cases = [CaseAnchor(1, ANCHOR), CaseAnchor(3, ANCHOR)]
    assert pairs(eng.companions(data, cases, params(min_dwell_h=30))) == [(3, 4)]


def test_cases_share_companions_and_never_list_themselves(eng: DuckDBEngine) -> None:
    data = stays(
        [
            (1, at(1, 10), at(1, 12), 7),
            (2, at(1, 11), at(1, 13), 7),
            (3, at(1, 11, 30), at(1, 11, 45), 7),
        ]
    )
    cases = [CaseAnchor(1, ANCHOR), CaseAnchor(2, ANCHOR)]
    out = eng.companions(data, cases, params())
    assert rows(out, "case_person_id", "person_id", "co_presence_minutes") == [
        (1, 2, 60.0),
        (1, 3, 15.0),
        (2, 1, 60.0),
        (2, 3, 15.0),
    ]


def test_duplicate_and_overlapping_stays_count_once(eng: DuckDBEngine) -> None:
    base = [
        (1, at(1, 10), at(1, 11), 7),
        (2, at(1, 10), at(1, 10, 8), 7),
        (2, at(1, 10, 4), at(1, 10, 12), 7),  # overlaps its own stay: together 12 min, not 16
        (3, at(1, 10), at(1, 10, 6), 7),  # 6 min, sent twice
        (2, at(3), at(4, 5), 7),  # 29 h; with the first two, 29 h 12 min
    ]
    dup = base + [(3, at(1, 10), at(1, 10, 6), 7), (1, at(1, 10), at(1, 11), 7), (2, at(3), at(4, 5), 7)]
    out = eng.companions(stays(dup), CASE1, params())
    assert rows(out, "person_id", "co_presence_minutes") == [(2, 12.0)]
    assert eng.companions(stays(dup), CASE1, params(min_dwell_h=29.2)).num_rows == 1
    assert eng.companions(stays(dup), CASE1, params(min_dwell_h=29.21)).num_rows == 0
    assert rows(eng.companions(stays(base), CASE1, params())) == rows(out)


def test_string_person_ids(eng: DuckDBEngine) -> None:
    data = stays(
        [("a1", at(1, 10), at(1, 11), 7), ("b2", at(1, 10), at(1, 11), 7), ("003", at(1, 10), at(1, 11), 7)]
    )
    out = eng.companions(data, [CaseAnchor("a1", ANCHOR)], params())
    assert pairs(out) == [("a1", "003"), ("a1", "b2")]
    assert out.schema.field("person_id").type == pa.string()


def test_integer_data_takes_text_case_ids(eng: DuckDBEngine) -> None:
    data = stays([(1, at(1, 10), at(1, 11), 7), (2, at(1, 10), at(1, 11), 7)])
    assert pairs(eng.companions(data, [CaseAnchor("001", ANCHOR)], params())) == [(1, 2)]


def test_case_without_stays_gives_no_rows(eng: DuckDBEngine) -> None:
    data = stays([(1, at(1, 10), at(1, 11), 7), (2, at(1, 10), at(1, 11), 7)])
    out = eng.companions(data, [CaseAnchor(1, ANCHOR), CaseAnchor(9, ANCHOR)], params())
    assert pairs(out) == [(1, 2)]
    assert eng.last_cases_without_stays == [9]
    assert eng.companions(data, [CaseAnchor(9, ANCHOR)], params()).num_rows == 0


def test_different_windows_measure_dwell_in_their_own_window(eng: DuckDBEngine) -> None:
    # Person 5 lives in cell 7: 10 h a night for three nights. Case 1's window holds all three
    # nights (30 h), case 2's window (anchored a day earlier) only two (20 h).
    data = stays(
        [
            (1, at(10, 12), at(10, 13), 7),
            (2, at(10, 12), at(10, 13), 7),
            (5, at(10, 12), at(10, 12, 30), 7),
            (5, at(10, 20), at(11, 6), 7),
            (5, at(11, 20), at(12, 6), 7),
            (5, at(12, 20), at(13, 6), 7),
        ]
    )
    cases = [CaseAnchor(1, at(14)), CaseAnchor(2, at(13, 1))]
    out = eng.companions(data, cases, params(min_dwell_h=30, window_days=12))
    assert pairs(out) == [(1, 5)]
    # one window before each anchor; with 30 h 30 min needed neither qualifies
    assert eng.companions(data, cases, params(min_dwell_h=30.6, window_days=12)).num_rows == 0


def test_first_and_last_seen_span_the_qualifying_cells(eng: DuckDBEngine) -> None:
    data = stays(
        [
            (1, at(2, 9), at(2, 10), 7),
            (1, at(5, 9), at(5, 10), 8),
            (2, at(2, 9, 30), at(2, 11), 7),
            (2, at(5, 8), at(5, 9, 15), 8),
        ]
    )
    assert rows(eng.companions(data, CASE1, params())) == [(1, 2, 45.0, 2, at(2, 9, 30), at(5, 9, 15))]


def test_the_data_cell_id_is_used_when_present(eng: DuckDBEngine) -> None:
    data = stays([(1, at(1, 10), at(1, 11), 7), (2, at(1, 10), at(1, 11), 7)])
    data = data.append_column("lon", pa.array([104.0, 110.0])).append_column("lat", pa.array([30.0, 40.0]))
    assert pairs(eng.companions(data, CASE1, params())) == [(1, 2)]


def _points_around_a_corner(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions within a metre of the corner of four 800 m cells (zone 48)."""
    x0, y0 = projection.to_utm(np.array([104.066]), np.array([30.657]), 48)
    cx, cy = np.round(x0[0] / 800) * 800, np.round(y0[0] / 800) * 800
    rng = np.random.default_rng(7)
    lon0, lat0 = 104.066, 30.657
    # invert approximately by Newton steps on the forward projection
    lon = np.full(n, lon0)
    lat = np.full(n, lat0)
    tx, ty = cx + rng.uniform(-1, 1, n), cy + rng.uniform(-1, 1, n)
    for _ in range(6):
        x, y = projection.to_utm(lon, lat, 48)
        lon = lon + (tx - x) / (111320 * np.cos(np.radians(lat)))
        lat = lat + (ty - y) / 110574
    return lon, lat


def test_cells_from_positions_are_those_of_the_projection(eng: DuckDBEngine) -> None:
    lon, lat = _points_around_a_corner(200)
    expected = projection.cell_ids(lon, lat, 48, 800.0)
    assert len(set(expected.tolist())) == 4  # the points straddle the corner
    table = pa.table(
        {
            "person_id": np.zeros(len(lon), np.int64),
            "start": pa.array([at(1, 0, i) for i in range(len(lon))], UTC_TS),
            "end": pa.array([at(1, 0, i + 1) for i in range(len(lon))], UTC_TS),
            "lon": lon,
            "lat": lat,
        }
    )
    traj = eng.trajectory(table, 0, at(0), at(2), Grid(cell_size_m=800.0, utm_zone=48))
    assert traj.column("cell_id").to_pylist() == expected.tolist()
    # companions: the case at the first point, one person at each of the others
    people = pa.table(
        {
            "person_id": np.arange(len(lon), dtype=np.int64),
            "start": pa.array([at(1, 10)] * len(lon), UTC_TS),
            "end": pa.array([at(1, 11)] * len(lon), UTC_TS),
            "lon": lon,
            "lat": lat,
        }
    )
    out = eng.companions(people, [CaseAnchor(0, ANCHOR)], params())
    same = [i for i in range(1, len(lon)) if expected[i] == expected[0]]
    assert out.column("person_id").to_pylist() == same


def test_empty_sources(eng: DuckDBEngine, tmp_path: Path) -> None:
    empty = stays([])
    out = eng.companions(empty, CASE1, params())
    assert out.num_rows == 0 and out.column_names == [
        "case_person_id",
        "person_id",
        "co_presence_minutes",
        "cells",
        "first_seen",
        "last_seen",
    ]
    header_only = tmp_path / "stays.csv"
    header_only.write_text("person_id,start,end,lon,lat\n")
    assert eng.companions(header_only, CASE1, params()).num_rows == 0
    zero = tmp_path / "zero.csv"
    zero.write_bytes(b"")
    assert eng.companions(zero, CASE1, params()).num_rows == 0
    assert eng.companions(stays([(1, at(1), at(2), 7)]), [], params()).num_rows == 0


def test_missing_columns_name_the_column_and_the_file(eng: DuckDBEngine, tmp_path: Path) -> None:
    path = tmp_path / "stays.parquet"
    pq.write_table(stays([(1, at(1), at(2), 7)]).drop(["end"]), path)
    with pytest.raises(Invalid) as err:
        eng.companions(path, CASE1, params())
    assert "end" in str(err.value) and str(path) in str(err.value)
    no_position = tmp_path / "nopos.csv"
    no_position.write_text("person_id,start,end,place\n1,2022-03-02 10:00,2022-03-02 11:00,x\n")
    with pytest.raises(Invalid) as err:
        eng.companions(no_position, CASE1, params())
    assert "lon, lat" in str(err.value) and str(no_position) in str(err.value)
    bad_time = tmp_path / "bad.csv"
    good = "1,2022-03-02 10:00,2022-03-02 11:00,7\n"
    bad_time.write_text(
        "person_id,start,end,cell_id\n" + good * 40 + "1,2022-03-02 10:00,yesterday,7\n" + good
    )
    with pytest.raises(Invalid) as err:
        eng.companions(bad_time, CASE1, params())
    assert str(err.value).startswith(f"{bad_time}: row 41 column end: not an ISO 8601 time: 'yesterday'")


def test_folder_of_parquet_files_with_one_file_lacking_a_column(eng: DuckDBEngine, tmp_path: Path) -> None:
    folder = tmp_path / "stays"
    (folder / "day=2022-03-02").mkdir(parents=True)
    (folder / "day=2022-03-03").mkdir(parents=True)
    pq.write_table(stays([(1, at(1, 10), at(1, 11), 7)]), folder / "day=2022-03-02" / "a.parquet")
    pq.write_table(stays([(2, at(1, 10), at(1, 11), 7)]), folder / "day=2022-03-03" / "b.parquet")
    assert pairs(eng.companions(folder, CASE1, params())) == [(1, 2)]
    pq.write_table(
        stays([(3, at(1, 10), at(1, 11), 7)]).drop(["cell_id"]), folder / "day=2022-03-03" / "c.parquet"
    )
    with pytest.raises(Invalid) as err:
        eng.companions(folder, CASE1, params())
    assert "cell_id" in str(err.value) and "c.parquet" in str(err.value)


def test_naive_parquet_times_are_local(eng: DuckDBEngine, tmp_path: Path) -> None:
    local = pa.timestamp("us")
    table = pa.table(
        {
            "person_id": [1, 2],
            "start": pa.array([dt.datetime(2022, 3, 2, 10), dt.datetime(2022, 3, 2, 10, 30)], local),
            "end": pa.array([dt.datetime(2022, 3, 2, 11), dt.datetime(2022, 3, 2, 12)], local),
            "cell_id": [7, 7],
        }
    )
    out = eng.companions(table, CASE1, params())
    assert rows(out, "first_seen", "last_seen") == [(at(1, 10, 30), at(1, 11))]


# ---------------------------------------------------------------- venues


def checkins(rows_: list[tuple[Any, Any, dt.datetime, dt.datetime | None]]) -> pa.Table:
    return pa.table(
        {
            "person_id": [r[0] for r in rows_],
            "place_id": [r[1] for r in rows_],
            "time": pa.array([r[2] for r in rows_], UTC_TS),
            "leave_time": pa.array([r[3] for r in rows_], UTC_TS),
        }
    )


def test_venue_overlap_with_the_default_dwell(eng: DuckDBEngine) -> None:
    data = checkins(
        [
            (1, 100, at(13, 10), None),
            (2, 100, at(13, 10, 50), None),
            (3, 100, at(13, 10, 51), None),
            (4, 101, at(13, 10), None),
        ]
    )
    out = eng.venue_contacts(data, CASE1, VenueParams())
    assert rows(out) == [(1, 2, 100, 10.0, at(13, 10, 50), at(13, 11))]


def test_venue_dwell_by_place_and_explicit_leave_time(eng: DuckDBEngine) -> None:
    data = checkins(
        [
            (1, 100, at(13, 10), None),  # venue 100: 30 min → until 10:30
            (2, 100, at(13, 10, 15), None),  # 15 min
            (3, 100, at(13, 10, 21), None),  # 9 min
            (1, 200, at(13, 14), at(13, 16)),  # left at 16:00
            (4, 200, at(13, 15, 45), None),  # default 60 min: 15 min together
            (5, 200, at(13, 13), at(13, 14, 5)),  # 5 min
        ]
    )
    out = eng.venue_contacts(data, CASE1, VenueParams(dwell_by_place={100: 30.0}))
    assert rows(out, "person_id", "place_id", "overlap_minutes") == [(2, 100, 15.0), (4, 200, 15.0)]


def test_venue_lookback_window(eng: DuckDBEngine) -> None:
    data = checkins(
        [
            (1, 100, ANCHOR - dt.timedelta(days=3), None),  # before the 2-day lookback
            (2, 100, ANCHOR - dt.timedelta(days=3), None),
            (1, 200, ANCHOR - dt.timedelta(days=2, minutes=30), None),  # 30 min inside
            (3, 200, ANCHOR - dt.timedelta(days=2, minutes=30), None),
            (1, 300, ANCHOR + dt.timedelta(hours=1), None),  # after the anchor
            (4, 300, ANCHOR + dt.timedelta(hours=1), None),
        ]
    )
    assert pairs(eng.venue_contacts(data, CASE1, VenueParams())) == [(1, 3)]
    later = VenueParams(until_hours_after=3)
    assert pairs(eng.venue_contacts(data, CASE1, later)) == [(1, 3), (1, 4)]
    out = eng.venue_contacts(data, CASE1, VenueParams())
    assert rows(out, "overlap_minutes") == [(30.0,)]


# ---------------------------------------------------------------- vehicles


def travel(rows_: list[tuple[Any, str, str, str, str | None, str | None]]) -> pa.Table:
    return pa.table(
        {
            "person_id": [r[0] for r in rows_],
            "mode": [r[1] for r in rows_],
            "number": [r[2] for r in rows_],
            "date": pa.array([dt.date.fromisoformat(r[3]) for r in rows_], pa.date32()),
            "carriage": pa.array([r[4] for r in rows_], pa.string()),
            "seat": pa.array([r[5] for r in rows_], pa.string()),
        }
    )


def test_flight_rows_around_the_case(eng: DuckDBEngine) -> None:
    data = travel(
        [(1, "flight", "CA1405", "2022-03-14", None, "12C")]
        + [(100 + r, "flight", "CA1405", "2022-03-14", None, f"{r}A") for r in range(8, 17)]
        + [
            (200, "flight", "CA1405", "2022-03-13", None, "12A"),
            (201, "flight", "CA1406", "2022-03-14", None, "12A"),
        ]
    )
    out = eng.vehicle_contacts(data, CASE1, VehicleParams(aircraft_rows=3))
    assert out.column("person_id").to_pylist() == [109, 110, 111, 112, 113, 114, 115]
    assert rows(out)[0] == (1, 109, "flight", "CA1405", dt.date(2022, 3, 14), None, "9A", "12C")


def test_train_carriage_or_rows(eng: DuckDBEngine) -> None:
    data = travel(
        [
            (1, "train", "G123", "2022-03-14", "05", "07F"),
            (2, "train", "G123", "2022-03-14", "5", "01A"),
            (3, "train", "G123", "2022-03-14", "6", "07F"),
            (4, "train", "G123", "2022-03-14", "5", "09B"),
            (5, "train", "G123", "2022-03-14", "5", "10B"),
            (6, "高铁", "g 123", "2022-03-14", "5", "无座"),
        ]
    )
    assert pairs(eng.vehicle_contacts(data, CASE1, VehicleParams())) == [(1, 2), (1, 4), (1, 5), (1, 6)]
    by_rows = VehicleParams(train="rows", train_rows=2)
    assert pairs(eng.vehicle_contacts(data, CASE1, by_rows)) == [(1, 4)]


def test_coach_vehicle_or_rows_and_lookback(eng: DuckDBEngine) -> None:
    data = travel(
        [
            (1, "coach", "K88", "2022-03-14", None, "3"),
            (2, "coach", "K88", "2022-03-14", None, "6"),
            (3, "coach", "K88", "2022-03-14", None, "7"),
            (1, "coach", "K99", "2022-03-11", None, "1"),  # before the 2-day lookback (local dates)
            (4, "coach", "K99", "2022-03-11", None, "1"),
        ]
    )
    assert pairs(eng.vehicle_contacts(data, CASE1, VehicleParams())) == [(1, 2), (1, 3)]
    assert pairs(eng.vehicle_contacts(data, CASE1, VehicleParams(coach="rows", coach_rows=3))) == [(1, 2)]
    assert pairs(eng.vehicle_contacts(data, CASE1, VehicleParams(lookback_days=4))) == [
        (1, 2),
        (1, 3),
        (1, 4),
    ]


# ---------------------------------------------------------------- secondary contacts


def test_secondary_contacts_follow_edges_both_ways(eng: DuckDBEngine) -> None:
    edges = pa.table(
        {
            "person_id": [10, 30, 10, 50, 20],
            "other_id": [20, 10, 40, 60, 10],
            "setting": ["household", "Workplace", "school", "household", "household"],
        }
    )
    since, later = at(10), at(11)
    out = eng.secondary_contacts(edges, [Exposure(10, since), Exposure(20, since), Exposure(10, later)])
    assert rows(out) == [
        (10, 20, "household", later),
        (10, 30, "workplace", later),
        (20, 10, "household", since),
    ]


# ---------------------------------------------------------------- trajectory


def test_trajectory_is_clipped_and_in_time_order(eng: DuckDBEngine) -> None:
    lon, lat = np.array([104.06, 104.07, 104.08, 104.09]), np.array([30.65, 30.66, 30.67, 30.68])
    table = pa.table(
        {
            "person_id": [1, 1, 1, 2],
            "start": pa.array([at(2, 10), at(1, 22), at(5), at(2)], UTC_TS),
            "end": pa.array([at(2, 12), at(2, 2), at(5, 1), at(3)], UTC_TS),
            "lon": lon,
            "lat": lat,
        }
    )
    out = eng.trajectory(table, 1, at(2), at(2, 11), Grid())
    cells = projection.cell_ids(lon, lat, 48, 800.0)
    assert rows(out) == [
        (at(2), at(2, 2), 104.07, 30.66, int(cells[1]), 120.0),
        (at(2, 10), at(2, 11), 104.06, 30.65, int(cells[0]), 60.0),
    ]
    only_cells = stays([(1, at(2, 10), at(2, 12), 7)])
    assert rows(eng.trajectory(only_cells, 1, at(2), at(3), Grid())) == [
        (at(2, 10), at(2, 12), None, None, 7, 120.0)
    ]


def test_median_position_picks_the_zone(tmp_path: Path) -> None:
    from fangkong.tracing.sources import median_position

    path = tmp_path / "stays.csv"
    path.write_text(
        "person_id,start,end,lon,lat\n1,2022-03-02 10:00,2022-03-02 11:00,104.0,30.6\n"
        "2,2022-03-02 10:00,2022-03-02 11:00,104.2,30.8\n3,2022-03-02 10:00,2022-03-02 11:00,120.0,31.0\n"
    )
    assert median_position(path) == (104.2, 30.8)
    assert projection.zone_of(104.2) == 48
    assert median_position(stays([(1, at(1), at(2), 7)])) is None
