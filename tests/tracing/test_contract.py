"""The TracingEngine contract: every engine (DuckDB, Spark) answers every question with the same
rows, the same values and the same column types.

(a) Small synthetic fixtures with the expected rows worked out by hand, run on each engine.
(b) Real GeoLife trajectories (tests/data/geolife) and a seeded random stays table, run on both
    engines at once: the two tables must be identical.

Times are UTC unless said; naive times in the inputs are local time of Asia/Shanghai (UTC+8).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fangkong.errors import Invalid
from fangkong.tracing.duckdb_engine import DuckDBEngine
from fangkong.tracing.geolife import read_user_folder
from fangkong.tracing.ports import (
    CaseAnchor,
    CompanionParams,
    Exposure,
    Grid,
    TracingEngine,
    VehicleParams,
    VenueParams,
    engine,
)
from fangkong.tracing.projection import cell_ids
from fangkong.tracing.staypoints import stays_from_points

TZ = "Asia/Shanghai"
LOCAL = dt.timezone(dt.timedelta(hours=8))
TS = pa.timestamp("us", tz="UTC")
BASE = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)
ANCHOR = BASE + dt.timedelta(days=14)  # the window of 14 days is [BASE, ANCHOR)
GEOLIFE = Path(__file__).resolve().parents[1] / "data" / "geolife" / "trackintel_subset"


def T(day: float, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return BASE + dt.timedelta(days=day, hours=hour, minutes=minute, seconds=second)


# ---------------------------------------------------------------- engines


@pytest.fixture(scope="module")
def duck() -> DuckDBEngine:
    return DuckDBEngine(timezone=TZ)


@pytest.fixture(scope="module")
def spark(spark_session: Any) -> Iterator[TracingEngine]:
    made = engine("spark", spark=spark_session, timezone=TZ)
    yield made
    made.close()  # type: ignore[attr-defined]  # must not stop the shared session
    assert not spark_session.sparkContext._jsc.sc().isStopped()


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def eng(request: pytest.FixtureRequest) -> TracingEngine:
    made: TracingEngine = request.getfixturevalue("duck" if request.param == "duckdb" else "spark")
    return made


def assert_identical(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema
    assert a.to_pylist() == b.to_pylist()
    assert a.equals(b)


def rows(table: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    names = columns or tuple(table.column_names)
    return [tuple(r[c] for c in names) for r in table.to_pylist()]


# ---------------------------------------------------------------- companions (cell_id input)

# Case 1's stays (cells are the data's own cell_id); anchor ANCHOR, window [T(0), T(14)).
CASE_STAYS = [
    (1, T(5, 8), T(5, 10), 100),  # 2 h in cell 100 (weak under a 30 h dwell rule)
    (1, T(5, 8), T(5, 10), 100),  # an exact duplicate
    (1, T(5, 9), T(5, 9, 30), 100),  # inside the first: merged
    (1, T(6), T(7, 7), 200),  # 31 h in cell 200: strong
    (1, T(8, 8), T(8, 9), 300),  # 1 h
    (1, T(9, 8), T(9, 9), 400),  # 1 h
    (1, T(-1, 23), T(0, 0, 30), 500),  # clipped to [T(0), T(0, 0, 30))
    (1, T(10, 10), T(10, 11), 600),  # 1 h
    (1, T(13, 23, 30), T(14, 2), 700),  # clipped to [T(13, 23, 30), T(14))
]
OTHER_STAYS = [
    (2, T(5, 9), T(5, 9, 10), 100),  # exactly 10 min: listed
    (3, T(5, 9), T(5, 9, 9, 59), 100),  # 9 min 59 s: not listed
    (4, T(5, 8), T(5, 8, 6), 100),  # 6 min …
    (4, T(5, 8), T(5, 8, 6), 100),  # … duplicated (counts once) …
    (4, T(5, 9, 54), T(5, 10), 100),  # … + 6 min in the same cell = 12 min
    (5, T(5, 8, 30), T(5, 8, 36), 100),  # 6 min in cell 100 and …
    (5, T(6, 1), T(6, 1, 6), 200),  # … 6 min in cell 200: below the minimum in each
    (6, T(6, 12), T(6, 12, 15), 200),  # 15 min in the strong cell
    (7, T(8, 8, 30), T(8, 8, 50), 300),  # 20 min in a weak cell, where 7 …
    (7, T(1), T(2, 12), 300),  # … stayed 36 h: 7's own dwell passes
    (8, T(9, 8), T(9, 8, 20), 400),  # 20 min, dwell 20 min
    (9, T(-2), T(1), 500),  # 72 h of which 24 h in the window: 30 min with the clipped case stay
    (10, T(9, 20), T(11, 4), 600),  # 32 h in the window, 60 min with the case
    (11, T(13, 23, 55), T(14, 1), 700),  # 65 min, but only 5 before the anchor
    (12, T(5, 8, 10), T(5, 8, 25), 100),  # 15 min in cell 100 and …
    (12, T(6, 3), T(6, 3, 20), 200),  # … 20 min in the strong cell 200
    (13, T(5, 9), T(5, 9), 100),  # zero length: ignored
    (13, T(5, 9, 30), T(5, 9), 100),  # end before start: ignored
    (14, T(5, 8), T(5, 10), None),  # no cell: ignored
]

NO_DWELL = [  # min_dwell_h = 0
    (1, 2, 10.0, 1, T(5, 9), T(5, 9, 10)),
    (1, 4, 12.0, 1, T(5, 8), T(5, 10)),
    (1, 6, 15.0, 1, T(6, 12), T(6, 12, 15)),
    (1, 7, 20.0, 1, T(8, 8, 30), T(8, 8, 50)),
    (1, 8, 20.0, 1, T(9, 8), T(9, 8, 20)),
    (1, 9, 30.0, 1, T(0), T(0, 0, 30)),
    (1, 10, 60.0, 1, T(10, 10), T(10, 11)),
    (1, 12, 35.0, 2, T(5, 8, 10), T(6, 3, 20)),
]
DWELL_30H = [  # min_dwell_h = 30: strong cell 200, or the person's own 30 h (7, 10)
    (1, 6, 15.0, 1, T(6, 12), T(6, 12, 15)),
    (1, 7, 20.0, 1, T(8, 8, 30), T(8, 8, 50)),
    (1, 10, 60.0, 1, T(10, 10), T(10, 11)),
    (1, 12, 20.0, 1, T(6, 3), T(6, 3, 20)),
]


def stays_table(data: list[tuple[Any, ...]], ids: Any = None) -> pa.Table:
    id_of = ids or (lambda p: p)
    id_type = pa.string() if isinstance(id_of(1), str) else pa.int64()
    return pa.table(
        {
            "person_id": pa.array([id_of(r[0]) for r in data], id_type),
            "start": pa.array([r[1] for r in data], TS),
            "end": pa.array([r[2] for r in data], TS),
            "cell_id": pa.array([r[3] for r in data], pa.int64()),
        }
    )


COMPANION_COLUMNS = ("case_person_id", "person_id", "co_presence_minutes", "cells", "first_seen", "last_seen")


def companion_schema(id_type: pa.DataType) -> pa.Schema:
    return pa.schema(
        [
            ("case_person_id", id_type),
            ("person_id", id_type),
            ("co_presence_minutes", pa.float64()),
            ("cells", pa.int64()),
            ("first_seen", TS),
            ("last_seen", TS),
        ]
    )


@pytest.fixture(scope="module")
def cell_stays() -> pa.Table:
    return stays_table(CASE_STAYS + OTHER_STAYS)


def test_companions_thresholds_clipping_and_duplicates(eng: TracingEngine, cell_stays: pa.Table) -> None:
    got = eng.companions(cell_stays, [CaseAnchor(1, ANCHOR)], CompanionParams(min_dwell_h=0))
    assert got.schema == companion_schema(pa.int64())
    assert rows(got) == NO_DWELL


def test_companions_dwell_rule(eng: TracingEngine, cell_stays: pa.Table) -> None:
    got = eng.companions(cell_stays, [CaseAnchor(1, ANCHOR)], CompanionParams(min_dwell_h=30))
    assert rows(got) == DWELL_30H


def test_companions_of_several_cases_with_string_ids(eng: TracingEngine) -> None:
    """String ids sort as text; a case may be another case's companion, never its own."""
    table = stays_table(CASE_STAYS + OTHER_STAYS, ids=lambda p: f"p{p}")
    cases = [CaseAnchor("p1", ANCHOR), CaseAnchor("p6", T(7)), CaseAnchor("p1", ANCHOR)]
    got = eng.companions(table, cases, CompanionParams(min_dwell_h=0))
    assert got.schema == companion_schema(pa.string())
    expected = sorted((f"p{c}", f"p{p}", *rest) for c, p, *rest in NO_DWELL)
    # Case 6 (window [T(-7), T(7))) met case 1 in cell 200 for 15 minutes.
    expected.append(("p6", "p1", 15.0, 1, T(6, 12), T(6, 12, 15)))
    assert rows(got) == expected


def test_companions_a_case_without_movement_data_or_twice_with_other_anchors(eng: TracingEngine) -> None:
    table = stays_table(CASE_STAYS + OTHER_STAYS)
    assert (
        eng.companions(table, [CaseAnchor(99, ANCHOR), CaseAnchor(1, T(30))], CompanionParams()).num_rows == 0
    )
    assert eng.last_cases_without_stays == [99, 1]  # type: ignore[attr-defined]
    with pytest.raises(Invalid):
        eng.companions(table, [CaseAnchor(1, ANCHOR), CaseAnchor(1, T(3))], CompanionParams())


# ---------------------------------------------------------------- companions (positions)

# Tiananmen, in UTM zone 50; persons 2 m … 3 km away.
LON, LAT = 116.3975, 39.9087


def east(metres: float) -> float:
    return LON + metres / (111_320.0 * np.cos(np.radians(LAT)))


def test_companions_on_positions_and_trajectory_cells(eng: TracingEngine) -> None:
    grid = Grid(cell_size_m=800, utm_zone=50)
    lons = [LON, east(2), east(3000), LON, LON]
    cells = cell_ids(np.array(lons), np.full(len(lons), LAT), 50, 800.0)
    assert cells[0] == cells[1] != cells[2]  # the fixture's premise
    table = pa.table(
        {
            "person_id": [1, 2, 3, 1, 4],
            "start": pa.array([T(5, 8), T(5, 8, 30), T(5, 8), T(6, 8), T(6, 8, 45)], TS),
            "end": pa.array([T(5, 10), T(5, 9, 15), T(5, 10), T(6, 9), T(6, 12)], TS),
            "lon": lons,
            "lat": [LAT] * 5,
        }
    )
    got = eng.companions(table, [CaseAnchor(1, ANCHOR)], CompanionParams(grid=grid, min_dwell_h=0))
    assert rows(got) == [(1, 2, 45.0, 1, T(5, 8, 30), T(5, 9, 15)), (1, 4, 15.0, 1, T(6, 8, 45), T(6, 9))]
    traj = eng.trajectory(table, 1, T(5, 9), T(6, 8, 30), grid)
    assert traj.schema == pa.schema(
        [
            ("start", TS),
            ("end", TS),
            ("lon", pa.float64()),
            ("lat", pa.float64()),
            ("cell_id", pa.int64()),
            ("minutes", pa.float64()),
        ]
    )
    assert rows(traj) == [
        (T(5, 9), T(5, 10), LON, LAT, int(cells[0]), 60.0),
        (T(6, 8), T(6, 8, 30), LON, LAT, int(cells[3]), 30.0),
    ]


# ---------------------------------------------------------------- trajectory (cell_id input)


def test_trajectory_clips_orders_and_lists_duplicates_once(eng: TracingEngine, cell_stays: pa.Table) -> None:
    got = eng.trajectory(cell_stays, 1, T(5), T(6, 6), Grid())
    assert rows(got) == [
        (T(5, 8), T(5, 10), None, None, 100, 120.0),
        (T(5, 9), T(5, 9, 30), None, None, 100, 30.0),
        (T(6), T(6, 6), None, None, 200, 360.0),
    ]
    assert eng.trajectory(cell_stays, 1, T(6), T(5), Grid()).num_rows == 0
    assert eng.trajectory(cell_stays, 42, T(0), T(14), Grid()).num_rows == 0


# ---------------------------------------------------------------- input formats


def write_csv(path: Path, header: list[str], data: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(data)
    return path


def local_text(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


def test_csv_with_local_times_and_padded_ids_parquet_folders_and_naive_parquet(
    eng: TracingEngine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """CSV ids `001` are integers, naive CSV times local; a folder of day files reads as one;
    naive Parquet timestamps are local too. All give the rows of the Arrow table."""
    folder = tmp_path_factory.mktemp(f"formats-{eng.name}")
    data = CASE_STAYS + OTHER_STAYS
    text = [
        [f"{p:03d}", local_text(s), e.isoformat() if i % 2 else local_text(e), "" if c is None else c]
        for i, (p, s, e, c) in enumerate(data)
    ]
    path = write_csv(folder / "stays.csv", [" Person_ID", "start", "END", "cell_id"], text)
    params = CompanionParams(min_dwell_h=30)
    got = eng.companions(str(path), [CaseAnchor("001", ANCHOR)], params)
    assert rows(got) == DWELL_30H and got.schema == companion_schema(pa.int64())
    # Two CSV files with their columns in different orders read as one (by name).
    parts = folder / "parts"
    parts.mkdir()
    write_csv(parts / "1.csv", ["person_id", "start", "end", "cell_id"], text[:12])
    write_csv(
        parts / "2.csv",
        ["cell_id", "end", "person_id", "start"],
        [[r[3], r[2], r[0], r[1]] for r in text[12:]],
    )
    assert rows(eng.companions(str(parts), [CaseAnchor(1, ANCHOR)], params)) == DWELL_30H

    table = stays_table(data)
    days = folder / "days"
    days.mkdir()
    pq.write_table(table.slice(0, 10), days / "a.parquet")
    pq.write_table(table.slice(10), days / "b.parquet")
    assert rows(eng.companions(str(days), [CaseAnchor(1, ANCHOR)], params)) == DWELL_30H
    assert rows(eng.companions(str(days / "*.parquet"), [CaseAnchor(1, ANCHOR)], params)) == DWELL_30H

    naive = table.set_column(
        1,
        "start",
        pa.array([s.astimezone(LOCAL).replace(tzinfo=None) for _, s, _, _ in data], pa.timestamp("us")),
    )
    naive = naive.set_column(
        2,
        "end",
        pa.array([e.astimezone(LOCAL).replace(tzinfo=None) for _, _, e, _ in data], pa.timestamp("us")),
    )
    pq.write_table(naive, folder / "naive.parquet")
    assert rows(eng.companions(str(folder / "naive.parquet"), [CaseAnchor(1, ANCHOR)], params)) == DWELL_30H
    assert rows(eng.companions(naive, [CaseAnchor(1, ANCHOR)], params)) == DWELL_30H


TEXT_TIMES = {  # as written → UTC (naive text is Beijing time)
    "2022-03-01T08:00:00+08:00": dt.datetime(2022, 3, 1, 0, 0),
    "2022-03-01 08:00:00Z": dt.datetime(2022, 3, 1, 8, 0),
    "2022-03-01T08:00:00.250+0800": dt.datetime(2022, 3, 1, 0, 0, 0, 250000),
    "2022-03-01T08:00:00+08": dt.datetime(2022, 3, 1, 0, 0),
    "2022-03-01 08:00:00-0530": dt.datetime(2022, 3, 1, 13, 30),
    "2022-03-01T08:00Z": dt.datetime(2022, 3, 1, 8, 0),
    "2022-03-01 08:00:00 UTC": dt.datetime(2022, 3, 1, 8, 0),
    " 2022-03-01 08:00 ": dt.datetime(2022, 3, 1, 0, 0),
    "2022-3-1 8:00:00": dt.datetime(2022, 3, 1, 0, 0),
    "2022-03-01": dt.datetime(2022, 2, 28, 16, 0),
    "2022-03-01 24:00": dt.datetime(2022, 3, 1, 16, 0),
}


def test_text_times_with_and_without_zones(
    eng: TracingEngine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp(f"times-{eng.name}")
    texts = list(TEXT_TIMES)
    path = write_csv(
        folder / "times.csv",
        ["person_id", "start", "end", "cell_id"],
        [[7, text, "2022-03-03T00:00:00Z", f"c{i}"] for i, text in enumerate(texts)],
    )
    got = eng.trajectory(str(path), 7, T(-30), T(30), Grid())
    assert got.schema.field("cell_id").type == pa.string()
    starts = {r["cell_id"]: r["start"] for r in got.to_pylist()}
    assert starts == {f"c{i}": TEXT_TIMES[t].replace(tzinfo=dt.UTC) for i, t in enumerate(texts)}
    for bad in ("2022-03-01 08:00:00 +08:00", "2022-03-01 08", "2022-03-01 08:00:00+8", "01/03/2022"):
        path = write_csv(
            folder / "bad.csv", ["person_id", "start", "end", "cell_id"], [[7, bad, "2022-03-03", 1]]
        )
        with pytest.raises(Invalid, match="not an ISO 8601 time"):
            eng.trajectory(str(path), 7, T(-30), T(30), Grid())


def test_bad_and_empty_inputs(eng: TracingEngine, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp(f"bad-{eng.name}")
    empty = folder / "empty.csv"
    empty.write_bytes(b"")
    got = eng.companions(str(empty), [CaseAnchor(1, ANCHOR)], CompanionParams())
    assert got.num_rows == 0 and got.schema == companion_schema(pa.int64())
    missing = write_csv(folder / "missing.csv", ["person_id", "start"], [[1, "2022-03-01 08:00"]])
    with pytest.raises(Invalid, match="end"):
        eng.companions(str(missing), [CaseAnchor(1, ANCHOR)], CompanionParams())
    bad = write_csv(
        folder / "bad.csv",
        ["person_id", "start", "end", "cell_id"],
        [[1, "2022-03-01 08:00", "2022-03-01 09:00", 5], [2, "2022-03-01 08:00", "yesterday", 5]],
    )
    with pytest.raises(Invalid) as info:
        eng.companions(str(bad), [CaseAnchor(1, ANCHOR)], CompanionParams())
    assert (info.value.details[0].field, info.value.details[0].row) == ("end", 2)
    # In a folder the message names the file; the first bad column checked is reported (start
    # before end), at its first row in that file.
    several = folder / "several"
    several.mkdir()
    header = ["person_id", "start", "end", "cell_id"]
    write_csv(several / "a.csv", header, [[1, "2022-03-01 08:00", "2022-03-01 09:00", 5]])
    write_csv(several / "b.csv", header, [[2, "2022-03-01 08:00", "later", 5], [3, "soon", "2022-03-02", 5]])
    with pytest.raises(Invalid) as info:
        eng.companions(str(several), [CaseAnchor(1, ANCHOR)], CompanionParams())
    assert str(info.value).startswith(
        f"{several / 'b.csv'}: row 2 column start: not an ISO 8601 time: 'soon'"
    )
    with pytest.raises(Invalid):
        eng.companions(cell_stays_arrow(), [CaseAnchor(1, ANCHOR)], CompanionParams(window_days=0))


def cell_stays_arrow() -> pa.Table:
    return stays_table(CASE_STAYS)


# ---------------------------------------------------------------- venues

DAY = T(13)  # the day before the anchor


def at(hour: int, minute: int = 0, day: dt.datetime = DAY) -> dt.datetime:
    return day + dt.timedelta(hours=hour, minutes=minute)


CHECKINS = [  # person, place, time, leave_time; place 2 has a dwell of 120 min, others 60
    (1, 1, at(12), None),  # the case: [12:00, 13:00)
    (2, 1, at(12, 30), None),  # 30 min
    (2, 1, at(12, 30), None),  # a duplicate scan
    (3, 1, at(12, 55), None),  # 5 min: not listed
    (4, 1, at(12, 50), None),  # exactly 10 min
    (1, 2, at(15), None),  # the case: [15:00, 17:00) by the venue's own dwell
    (5, 2, at(16, 30), None),  # 30 min
    (2, 2, at(16), None),  # 60 min, a second place for person 2
    (1, 3, at(18), at(18, 15)),  # leave time known: [18:00, 18:15)
    (6, 3, at(18, 5), at(20)),  # 10 min
    (7, 3, at(17), at(18)),  # touching: 0 min
    (8, 3, at(18, 5), at(18)),  # leave before arrival: the row is dropped
    (1, 1, at(12, day=T(11)), None),  # before the 2-day lookback …
    (9, 1, at(12, 10, day=T(11)), None),  # … so person 9 is not listed
    (1, 1, at(2, day=ANCHOR), None),  # after the anchor …
    (10, 1, at(2, 10, day=ANCHOR), None),  # … listed only with until_hours_after
]
VENUES = [
    (1, 2, 1, 30.0, at(12, 30), at(13)),
    (1, 2, 2, 60.0, at(16), at(17)),
    (1, 4, 1, 10.0, at(12, 50), at(13)),
    (1, 5, 2, 30.0, at(16, 30), at(17)),
    (1, 6, 3, 10.0, at(18, 5), at(18, 15)),
]


@pytest.fixture(scope="module")
def checkins() -> pa.Table:
    return pa.table(
        {
            "person_id": [r[0] for r in CHECKINS],
            "place_id": [r[1] for r in CHECKINS],
            "time": pa.array([r[2] for r in CHECKINS], TS),
            "leave_time": pa.array([r[3] for r in CHECKINS], TS),
        }
    )


def test_venue_contacts_dwell_per_place_and_leave_times(eng: TracingEngine, checkins: pa.Table) -> None:
    params = VenueParams(dwell_by_place={2: 120.0})
    got = eng.venue_contacts(checkins, [CaseAnchor(1, ANCHOR)], params)
    assert got.schema == pa.schema(
        [
            ("case_person_id", pa.int64()),
            ("person_id", pa.int64()),
            ("place_id", pa.int64()),
            ("overlap_minutes", pa.float64()),
            ("first_seen", TS),
            ("last_seen", TS),
        ]
    )
    assert rows(got) == VENUES
    later = eng.venue_contacts(
        checkins, [CaseAnchor(1, ANCHOR)], VenueParams(dwell_by_place={"2": 120.0}, until_hours_after=24)
    )
    assert rows(later) == sorted([*VENUES, (1, 10, 1, 50.0, at(2, 10, ANCHOR), at(3, 0, ANCHOR))])
    # Without the venue's own dwell the case left place 2 at 16:00: nobody there overlaps.
    plain = eng.venue_contacts(checkins, [CaseAnchor(1, ANCHOR)], VenueParams())
    assert rows(plain, "person_id", "place_id") == [(2, 1), (4, 1), (6, 3)]


# ---------------------------------------------------------------- vehicles

TRAVEL = [  # person, mode, number, date (local), carriage, seat
    (1, "flight", "CA1234", "2022-03-14", None, "12A"),
    (1, "flight", "CA1234", "2022-03-14", None, "30A"),  # the case changed seats
    (2, "航班", "ca 1234", "2022-03-14", None, "15C"),  # 3 rows from 12A
    (2, "航班", "ca 1234", "2022-03-14", None, "15C"),  # a duplicate record
    (3, "flight", "CA1234", "2022-03-14", None, "16A"),  # 4 rows: no
    (4, "Flight", "CA1234", "2022-03-14", None, "09F"),  # row 9
    (5, "flight", "CA1234", "2022-03-14", None, None),  # no seat: no
    (12, "flight", "CA1234", "2022-03-14", None, "29C"),  # near the case's other seat
    (13, "flight", "CA1234", "2022-03-13", None, "12B"),  # another day
    (1, "train", "G123", "2022-03-13", "05", "7F"),
    (6, "高铁", "G123", "2022-03-13", "5", "20A"),  # same carriage
    (7, "train", "G123", "2022-03-13", "6", "7A"),  # other carriage
    (8, "train", "G123", "2022-03-13", "05", "无座"),  # standing, same carriage
    (10, "train", "G123", "2022-03-13", "5", "8a"),
    (1, "大巴", "粤A 12345", "2022-03-15", None, "1"),
    (9, "coach", "粤A12345", "2022-03-15", None, "30"),
    (11, "bus", "粤A12345", "2022-03-15", None, "3"),
    (1, "train", "D9", "2022-03-12", "1", "1A"),  # before the lookback's first local day
    (14, "train", "D9", "2022-03-12", "1", "1B"),
    (1, "flight", "MU5", "2022-03-15", None, "1A"),  # the anchor's local day
    (15, "flight", "MU5", "2022-03-15", None, "2A"),
]
# Anchor 2022-03-14 20:00 UTC = 2022-03-15 04:00 in Beijing: local days 03-13 … 03-15.
VEHICLE_ANCHOR = dt.datetime(2022, 3, 14, 20, tzinfo=dt.UTC)
D13, D14, D15 = dt.date(2022, 3, 13), dt.date(2022, 3, 14), dt.date(2022, 3, 15)
VEHICLES = [
    (1, 2, "flight", "CA1234", D14, None, "15C", "12A"),
    (1, 4, "flight", "CA1234", D14, None, "09F", "12A"),
    (1, 6, "train", "G123", D13, "5", "20A", "7F"),
    (1, 8, "train", "G123", D13, "5", "无座", "7F"),
    (1, 9, "coach", "粤A12345", D15, None, "30", "1"),
    (1, 10, "train", "G123", D13, "5", "8A", "7F"),
    (1, 11, "coach", "粤A12345", D15, None, "3", "1"),
    (1, 12, "flight", "CA1234", D14, None, "29C", "30A"),
    (1, 15, "flight", "MU5", D15, None, "2A", "1A"),
]


@pytest.fixture(scope="module")
def travel() -> pa.Table:
    return pa.table(
        {
            "person_id": [r[0] for r in TRAVEL],
            "mode": [r[1] for r in TRAVEL],
            "number": [r[2] for r in TRAVEL],
            "date": pa.array([dt.date.fromisoformat(r[3]) for r in TRAVEL], pa.date32()),
            "carriage": [r[4] for r in TRAVEL],
            "seat": [r[5] for r in TRAVEL],
        }
    )


def test_vehicle_contacts_rows_carriages_and_coaches(eng: TracingEngine, travel: pa.Table) -> None:
    got = eng.vehicle_contacts(travel, [CaseAnchor(1, VEHICLE_ANCHOR)], VehicleParams())
    assert got.schema == pa.schema(
        [
            ("case_person_id", pa.int64()),
            ("person_id", pa.int64()),
            ("mode", pa.string()),
            ("number", pa.string()),
            ("date", pa.date32()),
            ("carriage", pa.string()),
            ("seat", pa.string()),
            ("case_seat", pa.string()),
        ]
    )
    assert rows(got) == VEHICLES
    by_rows = VehicleParams(train="rows", train_rows=1, coach="rows", coach_rows=3)
    got = eng.vehicle_contacts(travel, [CaseAnchor(1, VEHICLE_ANCHOR)], by_rows)
    assert rows(got, "person_id") == [(2,), (4,), (10,), (11,), (12,), (15,)]


def test_vehicle_contacts_one_row_per_trip_when_a_person_has_two_records(eng: TracingEngine) -> None:
    """Which of two equally near records of the person is shown is not part of the contract
    (DuckDB's DISTINCT ON keeps either; Spark the one with a carriage): one row, same seat."""
    travel = pa.table(
        {
            "person_id": [1, 2, 2],
            "mode": ["coach", "coach", "coach"],
            "number": ["K1", "K1", "K1"],
            "date": pa.array([D14] * 3, pa.date32()),
            "carriage": [None, None, "A"],
            "seat": ["1", "无座", "无座"],
        }
    )
    got = eng.vehicle_contacts(travel, [CaseAnchor(1, VEHICLE_ANCHOR)], VehicleParams())
    assert rows(got, "person_id", "mode", "number", "date", "seat", "case_seat") == [
        (2, "coach", "K1", D14, "无座", "1")
    ]


# ---------------------------------------------------------------- secondary contacts


def test_secondary_contacts_undirected_edges(eng: TracingEngine) -> None:
    edges = pa.table(
        {
            "person_id": [10, 12, 10, 10, 10, 11, 11],
            "other_id": [11, 10, 13, 10, 11, 20, None],
            "setting": [
                "household",
                "Workplace ",
                "school",
                "household",
                "household",
                " HOUSEHOLD",
                "household",
            ],
        }
    )
    first, later, other = T(3), T(4), T(5)
    exposures = [Exposure(10, first), Exposure(11, other), Exposure(10, later), Exposure(99, first)]
    got = eng.secondary_contacts(edges, exposures)
    assert got.schema == pa.schema(
        [
            ("contact_person_id", pa.int64()),
            ("person_id", pa.int64()),
            ("setting", pa.string()),
            ("since", TS),
        ]
    )
    assert rows(got) == [
        (10, 11, "household", later),
        (10, 12, "workplace", later),
        (11, 10, "household", other),
        (11, 20, "household", other),
    ]


# ---------------------------------------------------------------- the Spark session


def test_spark_engine_joins_a_running_session_and_never_stops_it(spark_session: Any) -> None:
    from fangkong.tracing.spark import SparkEngine

    with SparkEngine(app_name="another") as made:  # master: FANGKONG_SPARK_MASTER (local[*])
        assert made.spark is spark_session
        assert spark_session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert not spark_session.sparkContext._jsc.sc().isStopped()


# ---------------------------------------------------------------- GeoLife: both engines identical


@pytest.fixture(scope="module")
def geolife_stays() -> pa.Table:
    points = pa.concat_tables([read_user_folder(GEOLIFE / u, int(u)) for u in ("000", "003", "004", "005")])
    return stays_from_points(points)


# The ends of the shared episodes (tests/data/geolife/README.md).
WITH_004 = dt.datetime(2008, 10, 24, 12, 0, tzinfo=dt.UTC)
WITH_005 = dt.datetime(2008, 10, 28, 10, 34, tzinfo=dt.UTC)


@pytest.mark.parametrize("size", [200.0, 800.0])
@pytest.mark.parametrize("dwell", [0.0, 30.0])
def test_geolife_companions_identical(
    duck: DuckDBEngine, spark: TracingEngine, geolife_stays: pa.Table, size: float, dwell: float
) -> None:
    params = CompanionParams(grid=Grid(cell_size_m=size, utm_zone=50), min_dwell_h=dwell)
    found: dict[dt.datetime, dict[int, dict[str, Any]]] = {}
    for anchor in (WITH_004, WITH_005):
        a = duck.companions(geolife_stays, [CaseAnchor(3, anchor)], params)
        b = spark.companions(geolife_stays, [CaseAnchor(3, anchor)], params)
        assert_identical(a, b)
        found[anchor] = {r["person_id"]: r for r in a.to_pylist()}
    # 000 was near 003's dormitory on 10-23 morning, never at the same time.
    assert all(0 not in f for f in found.values())
    late = found[WITH_005]
    assert set(late) == {4, 5}
    # 005 travelled with 003 and stayed with it from 10-27 10:43:57; they met again on campus.
    if not dwell:
        assert late[5]["first_seen"] == dt.datetime(2008, 10, 27, 10, 43, 57, tzinfo=dt.UTC)
    assert dt.datetime(2008, 10, 28, 10, 33, tzinfo=dt.UTC) <= late[5]["last_seen"] <= WITH_005
    for row in late.values():
        assert 30 <= row["co_presence_minutes"] <= 14 * 60
        assert row["cells"] >= 1
    if dwell:
        # Within the window ending 10-24 12:00 neither 003 nor 004 stayed 30 h in any cell; by
        # 10-28 003 had stayed ~64 h on campus (a strong cell), where both were with it.
        assert found[WITH_004] == {}
        assert late[4]["cells"] == late[5]["cells"] == 1
    else:
        early = found[WITH_004]
        assert set(early) == {4}
        assert early[4]["last_seen"] == dt.datetime(2008, 10, 24, 11, 56, 1, tzinfo=dt.UTC)
        assert (
            early[4]["co_presence_minutes"] >= 89 if size == 800.0 else early[4]["co_presence_minutes"] > 60
        )
        assert late[4] == early[4]  # nothing new with 004 after 10-24


def test_geolife_trajectory_identical(
    duck: DuckDBEngine, spark: TracingEngine, geolife_stays: pa.Table
) -> None:
    grid = Grid(cell_size_m=200, utm_zone=50)
    start = WITH_005 - dt.timedelta(days=14)
    a = duck.trajectory(geolife_stays, 3, start, WITH_005, grid)
    assert a.num_rows == 18  # 003's 20 stays less the two after the anchor
    assert_identical(a, spark.trajectory(geolife_stays, 3, start, WITH_005, grid))


# ---------------------------------------------------------------- randomized: both engines identical


@pytest.fixture(scope="module")
def random_stays() -> pa.Table:
    rng = np.random.default_rng(20221028)
    n, persons = 3000, 250
    places_lon = 116.30 + rng.uniform(0, 0.06, 40)
    places_lat = 39.95 + rng.uniform(0, 0.05, 40)
    place = rng.integers(0, 40, n)
    start = BASE.timestamp() + rng.uniform(-2, 16, n) * 86400
    minutes = np.where(rng.random(n) < 0.1, rng.uniform(600, 2400, n), rng.exponential(90, n) + 1)
    start_us = (start * 1e6).astype(np.int64) // 60_000_000 * 60_000_000  # whole minutes: many ties
    end_us = start_us + (minutes * 60e6).astype(np.int64)
    table = pa.table(
        {
            "person_id": rng.integers(1, persons, n),
            "start": pa.array(start_us, pa.int64()).cast(TS),
            "end": pa.array(end_us, pa.int64()).cast(TS),
            "lon": places_lon[place] + rng.normal(0, 0.002, n),
            "lat": places_lat[place] + rng.normal(0, 0.002, n),
        }
    )
    dup = rng.choice(n, 150, replace=False)
    return pa.concat_tables([table, table.take(dup)])


def test_random_stays_identical(duck: DuckDBEngine, spark: TracingEngine, random_stays: pa.Table) -> None:
    rng = np.random.default_rng(7)
    cases = [
        CaseAnchor(int(p), BASE + dt.timedelta(days=float(d)))
        for p, d in zip(rng.choice(np.arange(1, 250), 12, replace=False), rng.uniform(8, 16, 12), strict=True)
    ]
    for params in (
        CompanionParams(grid=Grid(cell_size_m=800, utm_zone=50), min_dwell_h=0),
        CompanionParams(grid=Grid(cell_size_m=800, utm_zone=50), min_dwell_h=6, min_overlap_min=15),
    ):
        a = duck.companions(random_stays, cases, params)
        assert a.num_rows > 20
        assert_identical(a, spark.companions(random_stays, cases, params))


def test_random_checkins_identical(duck: DuckDBEngine, spark: TracingEngine) -> None:
    rng = np.random.default_rng(11)
    n = 2000
    times = (BASE.timestamp() + rng.uniform(0, 4, n) * 86400) * 1e6
    leave = np.where(rng.random(n) < 0.4, times + rng.uniform(-10, 180, n) * 60e6, np.nan)
    checkins = pa.table(
        {
            "person_id": rng.integers(1, 200, n),
            "place_id": rng.integers(1, 15, n),
            "time": pa.array(times.astype(np.int64), pa.int64()).cast(TS),
            "leave_time": pa.array(
                np.nan_to_num(leave).astype(np.int64), pa.int64(), mask=np.isnan(leave)
            ).cast(TS),
        }
    )
    cases = [CaseAnchor(int(p), T(3)) for p in range(1, 200, 17)]
    params = VenueParams(dwell_by_place={3: 15.0, 4: 240.0, 5: 0.5}, until_hours_after=12)
    a = duck.venue_contacts(checkins, cases, params)
    assert a.num_rows > 20
    assert_identical(a, spark.venue_contacts(checkins, cases, params))
