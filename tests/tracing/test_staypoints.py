"""GPS points → stays: exact behaviour on synthetic points (thresholds, gaps, persons)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest

from fangkong.tracing.staypoints import EARTH_RADIUS_M, haversine_m, stays_from_points

T0 = dt.datetime(2022, 3, 1, 8, 0, tzinfo=dt.UTC)
LON, LAT = 104.0657, 30.6595  # Chengdu, Tianfu Square


def north(metres: float) -> float:
    """The latitude `metres` north of LAT (exact on the haversine sphere)."""
    return LAT + math.degrees(metres / EARTH_RADIUS_M)


def points(rows: list[tuple[object, float, float, float]]) -> pa.Table:
    """(person, minutes after T0, metres north, metres east) → a points table."""
    east = [LON + math.degrees(e / (EARTH_RADIUS_M * math.cos(math.radians(LAT)))) for _, _, _, e in rows]
    return pa.table(
        {
            "person_id": [p for p, _, _, _ in rows],
            "time": pa.array(
                [T0 + dt.timedelta(minutes=m) for _, m, _, _ in rows], pa.timestamp("us", "UTC")
            ),
            "lon": east,
            "lat": [north(n) for _, _, n, _ in rows],
        }
    )


def still(
    person: object, minutes: list[float], metres_north: float = 0.0
) -> list[tuple[object, float, float, float]]:
    return [(person, m, metres_north, 0.0) for m in minutes]


def test_haversine_is_exact_for_a_meridian_step() -> None:
    assert float(haversine_m(LON, LAT, LON, north(200.0))) == pytest.approx(200.0, abs=1e-9)
    # One degree of latitude on the mean sphere.
    assert float(haversine_m(0.0, 0.0, 0.0, 1.0)) == pytest.approx(111_195.08, abs=0.01)


def test_a_stay_of_exactly_twenty_minutes_counts_and_a_shorter_one_does_not() -> None:
    exactly = stays_from_points(points(still(1, [0, 5, 10, 15, 20]) + [(1, 21, 1000, 0)]))
    assert exactly.num_rows == 1
    row = exactly.to_pylist()[0]
    assert (row["start"], row["end"], row["points"]) == (T0, T0 + dt.timedelta(minutes=20), 5)
    short = stays_from_points(points(still(1, [0, 5, 10, 15, 19.99]) + [(1, 21, 1000, 0)]))
    assert short.num_rows == 0


def test_a_point_exactly_200_m_from_the_anchor_is_inside_and_200_5_m_is_outside() -> None:
    inside = points(still(1, [0, 10]) + [(1, 20, 200.0, 0.0), (1, 25, 1000, 0)])
    stay = stays_from_points(inside).to_pylist()
    assert [(s["start"], s["end"], s["points"]) for s in stay] == [(T0, T0 + dt.timedelta(minutes=20), 3)]
    outside = points(still(1, [0, 10]) + [(1, 20, 200.5, 0.0), (1, 25, 1000, 0)])
    assert stays_from_points(outside).num_rows == 0
    # The thresholds are parameters.
    assert stays_from_points(outside, distance_m=201.0).num_rows == 1
    assert stays_from_points(outside, min_duration_min=10.0).num_rows == 1


def test_every_point_must_be_near_the_anchor_not_only_the_last() -> None:
    # Out to 300 m and back: the window from the first point ends before the excursion.
    rows = still(1, [0, 5]) + [(1, 10, 300, 0)] + still(1, [15, 20, 25])
    stays = stays_from_points(points(rows)).to_pylist()
    assert stays == []
    # From the point after the excursion there are only 10 minutes; with 10 it is a stay.
    short = stays_from_points(points(rows), min_duration_min=10).to_pylist()
    assert [(s["start"], s["end"]) for s in short] == [
        (T0 + dt.timedelta(minutes=15), T0 + dt.timedelta(minutes=25))
    ]


def test_the_centroid_is_the_mean_of_the_points_and_the_scan_resumes_after_a_stay() -> None:
    # A drifting walk within 150 m of the first point; then a second place 1 km north.
    rows = [
        (1, 0, 0, 0),
        (1, 10, 100, 0),
        (1, 20, 150, 0),
        (1, 21, 1000, 0),
        (1, 40, 1010, 0),
        (1, 50, 1000, 0),
    ]
    stays = stays_from_points(points(rows)).to_pylist()
    assert [s["points"] for s in stays] == [3, 3]
    assert stays[0]["lat"] == pytest.approx(np.mean([north(0), north(100), north(150)]), abs=1e-12)
    assert stays[0]["lon"] == pytest.approx(LON, abs=1e-12)
    assert stays[1]["start"] == T0 + dt.timedelta(minutes=21)
    assert stays[1]["end"] == T0 + dt.timedelta(minutes=50)


def test_the_anchor_moves_on_by_one_point_when_the_window_is_too_short() -> None:
    # The first point is a passing fix 250 m south; the stay starts at the second point.
    rows = [(1, 0, -250, 0), *still(1, [1, 10, 21]), (1, 22, 900, 0)]
    stays = stays_from_points(points(rows)).to_pylist()
    assert [(s["start"], s["end"], s["points"]) for s in stays] == [
        (T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=21), 3)
    ]


def test_a_recording_gap_at_the_same_place_is_bridged() -> None:
    # Last fix at 08:05, next at 10:05 at the same place (60 m apart): a stay over the gap.
    rows = still(1, [0, 5]) + [(1, 125, 60, 0), (1, 126, 2000, 0)]
    stays = stays_from_points(points(rows)).to_pylist()
    assert [(s["start"], s["end"]) for s in stays] == [(T0, T0 + dt.timedelta(minutes=125))]


def test_a_recording_gap_between_different_places_never_makes_a_stay() -> None:
    # 10 minutes here, a 3 h gap, then 120 m north of the first fix.
    rows = [(1, 0, 0, 0), (1, 10, -120, 0), (1, 190, 120, 0), (1, 195, 2000, 0)]
    # Every point is within 200 m of the first one, so without the gap rule this is a stay:
    assert stays_from_points(points(rows), max_gap_min=None).num_rows == 1
    # The fixes on either side of the gap are 240 m apart: the person moved during the gap.
    assert stays_from_points(points(rows)).num_rows == 0
    # A gap up to max_gap is an ordinary sampling interval.
    assert stays_from_points(points(rows), max_gap_min=180).num_rows == 1


def test_a_stay_before_a_gap_ends_at_the_last_fix_before_it() -> None:
    rows = still(1, [0, 10, 25]) + [(1, 300, 5000, 0), (1, 330, 5000, 0)]
    stays = stays_from_points(points(rows)).to_pylist()
    assert [(s["start"], s["end"]) for s in stays] == [
        (T0, T0 + dt.timedelta(minutes=25)),
        (T0 + dt.timedelta(minutes=300), T0 + dt.timedelta(minutes=330)),
    ]


def test_persons_are_separate_and_input_order_does_not_matter() -> None:
    rows = still("b", [0, 30]) + still("a", [0, 10, 20]) + still("a", [21], 900)
    table = points(rows)
    shuffled = table.take(pa.array(np.random.default_rng(1).permutation(table.num_rows)))
    stays = stays_from_points(shuffled)
    assert stays.column_names == ["person_id", "start", "end", "lon", "lat", "points"]
    assert [(s["person_id"], s["points"]) for s in stays.to_pylist()] == [("a", 3), ("b", 2)]
    # Person b's points never join person a's window even though a's are at the same place.
    assert stays.schema.field("start").type == pa.timestamp("us", "UTC")


def test_integer_ids_naive_times_nulls_and_empty_input() -> None:
    table = points(still(7, [0, 30]))
    naive = table.set_column(1, "time", table["time"].cast(pa.timestamp("us")))
    with_null = pa.concat_tables(
        [
            naive,
            pa.table(
                {"person_id": [7], "time": pa.array([None], pa.timestamp("us")), "lon": [0.0], "lat": [0.0]}
            ),
        ]
    )
    stays = stays_from_points(with_null)
    assert stays.schema.field("person_id").type == pa.int64()
    assert stays.to_pylist()[0]["start"] == T0
    assert stays_from_points(table.slice(0, 0)).num_rows == 0
    with pytest.raises(ValueError, match="lack"):
        stays_from_points(table.drop_columns(["lat"]))


def test_long_stays_with_dense_sampling() -> None:
    """Six hours of 1-second fixes with ~10 m of noise: 3 h here, a walk of 3 km, then the
    rest of the time there. The walk makes no stay; the arrival may split the second place
    into two stays (the anchor is the first fix within reach, 180 m before the door)."""
    seconds = np.arange(0, 6 * 3600)
    metres = np.where(seconds < 3 * 3600, 0.0, np.minimum((seconds - 3 * 3600) * 1.4, 3000.0))
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "person_id": pa.array(np.ones(len(seconds), dtype=np.int64)),
            "time": pa.array([T0 + dt.timedelta(seconds=int(s)) for s in seconds], pa.timestamp("us", "UTC")),
            "lon": LON + rng.normal(0, 1e-4, len(seconds)),  # ~10 m of GPS noise
            "lat": [north(m) for m in metres] + rng.normal(0, 1e-4, len(seconds)),
        }
    )
    stays = stays_from_points(table).to_pylist()
    assert stays[0]["start"] == T0 and stays[0]["end"] >= T0 + dt.timedelta(hours=3)
    assert float(haversine_m(stays[0]["lon"], stays[0]["lat"], LON, LAT)) < 50
    assert stays[-1]["end"] == T0 + dt.timedelta(seconds=int(seconds[-1]))
    there = stays[1:]
    assert there and all(float(haversine_m(s["lon"], s["lat"], LON, north(3000))) < 200 for s in there)
    assert sum((s["end"] - s["start"]).total_seconds() for s in there) > 2.3 * 3600


def reference(table: pa.Table, distance_m: float, min_min: float, gap_min: float | None) -> list[tuple]:
    """The method written out point by point, as in the module docstring."""
    rows = sorted(table.to_pylist(), key=lambda r: (r["person_id"], r["time"]))

    def near(a: dict, b: dict) -> bool:
        return float(haversine_m(a["lon"], a["lat"], b["lon"], b["lat"])) <= distance_m + 1e-6

    def cut(a: dict, b: dict) -> bool:
        """A window may not go from a to the next fix b: a long gap between different places."""
        long = gap_min is not None and b["time"] - a["time"] > dt.timedelta(minutes=gap_min)
        return long and not near(a, b)

    out = []
    for person in sorted({r["person_id"] for r in rows}):
        pts = [r for r in rows if r["person_id"] == person]
        i = 0
        while i < len(pts):
            j = i
            while j + 1 < len(pts) and not cut(pts[j], pts[j + 1]) and near(pts[i], pts[j + 1]):
                j += 1
            if pts[j]["time"] - pts[i]["time"] >= dt.timedelta(minutes=min_min):
                out.append((person, pts[i]["time"], pts[j]["time"], j - i + 1))
                i = j + 1
            else:
                i += 1
    return out


@pytest.mark.parametrize(("distance_m", "min_min", "gap_min"), [(200, 20, 60), (50, 5, 10), (300, 30, None)])
def test_the_vectorised_scan_gives_the_same_stays_as_the_method_written_out(
    distance_m: float, min_min: float, gap_min: float | None
) -> None:
    rng = np.random.default_rng(7)
    rows = []
    for person in (1, 2, 3):
        minute, north_m, east_m = 0.0, 0.0, 0.0
        for _ in range(400):
            # Mostly small steps (staying), sometimes a walk, sometimes a recording gap.
            minute += float(rng.choice([0.5, 1.0, 2.0, 90.0], p=[0.5, 0.3, 0.17, 0.03]))
            step = 400.0 if rng.random() < 0.08 else 15.0
            north_m += float(rng.normal(0, step))
            east_m += float(rng.normal(0, step))
            rows.append((person, minute, north_m, east_m))
    table = points(rows)
    got = stays_from_points(table, distance_m=distance_m, min_duration_min=min_min, max_gap_min=gap_min)
    found = [(r["person_id"], r["start"], r["end"], r["points"]) for r in got.to_pylist()]
    expected = reference(table, distance_m, min_min, gap_min)
    assert len(expected) > 10
    assert found == expected
