"""Real GeoLife trajectories (tests/data/geolife): the readers, and the stays of users 003,
004 and 005, who were together on 2008-10-24 (003, 004) and 2008-10-27/28 (003, 005)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fangkong.tracing.geolife import read_plt, read_skmob, read_user_folder
from fangkong.tracing.staypoints import haversine_m, stays_from_points

DATA = Path(__file__).resolve().parents[1] / "data" / "geolife"
SUBSET = DATA / "trackintel_subset"
USERS = ("000", "003", "004", "005")
UTC = dt.UTC


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def stays() -> dict[str, list[dict[str, Any]]]:
    points = pa.concat_tables([read_user_folder(SUBSET / user) for user in USERS])
    table = stays_from_points(points)
    out: dict[str, list[dict[str, Any]]] = {user: [] for user in USERS}
    for row in table.to_pylist():
        out[row["person_id"]].append(row)
    return out


def shared(a: list[dict[str, Any]], b: list[dict[str, Any]], day: str) -> list[tuple[float, float]]:
    """(overlap minutes, distance metres) of every pair of stays of a and b that overlap in
    time on the UTC date `day`."""
    out = []
    for x in a:
        for y in b:
            start, end = max(x["start"], y["start"]), min(x["end"], y["end"])
            if end > start and start.date().isoformat() <= day <= end.date().isoformat():
                minutes = (end - start).total_seconds() / 60
                metres = float(haversine_m(x["lon"], x["lat"], y["lon"], y["lat"]))
                out.append((minutes, metres))
    return out


def test_every_plt_file_is_read_whole() -> None:
    files = sorted(SUBSET.glob("*/Trajectory/*.plt"))
    assert len(files) == 10
    total = 0
    for path in files:
        lines = path.read_bytes().count(b"\n")
        table = read_plt(path)
        assert table.num_rows == lines - 6, path.name
        assert table.column_names == ["person_id", "time", "lon", "lat"]
        assert table.schema.field("time").type == pa.timestamp("us", "UTC")
        assert set(table["person_id"].to_pylist()) == {path.parent.parent.name}
        total += table.num_rows
    assert total == 154 + 1109 + 1847 + 1681 + 126 + 151 + 604 + 1444 + 3829 + 908


def test_a_plt_point_keeps_its_fields() -> None:
    first = read_plt(SUBSET / "003" / "Trajectory" / "20081023175854.plt").to_pylist()[0]
    # 39.999844,116.326752,0,492,39744.7492361111,2008-10-23,17:58:54
    assert first == {
        "person_id": "003",
        "time": utc("2008-10-23 17:58:54"),
        "lon": 116.326752,
        "lat": 39.999844,
    }
    assert (
        read_plt(SUBSET / "003" / "Trajectory" / "20081023175854.plt", person_id=3)["person_id"][0].as_py()
        == 3
    )


def test_a_user_folder_is_read_in_time_order() -> None:
    table = read_user_folder(SUBSET / "003")
    assert table.num_rows == 154 + 1109 + 1847 + 1681
    times = table["time"]
    assert pc.all(pc.greater_equal(times.slice(1), times.slice(0, len(times) - 1))).as_py()
    assert read_user_folder(SUBSET / "003", person_id="u3")["person_id"][0].as_py() == "u3"
    assert read_user_folder(DATA).num_rows == 0  # no .plt files there


def test_the_skmob_reader_matches_the_plt_reader() -> None:
    sample = read_skmob(DATA / "skmob_sample" / "geolife_sample_head.txt.gz")
    assert sample.num_rows == 1744
    assert sample.column_names == ["person_id", "time", "lon", "lat"]
    assert pc.value_counts(sample["person_id"]).to_pylist() == [
        {"values": "001", "counts": 300},
        {"values": "005", "counts": 1444},
    ]
    five = sample.filter(pc.equal(sample["person_id"], "005"))
    plt = read_plt(SUBSET / "005" / "Trajectory" / "20081027092607.plt")
    assert five.equals(plt)


def test_stays_per_user(stays: dict[str, list[dict[str, Any]]]) -> None:
    # The method's results on this subset (200 m, 20 min, 60 min gaps).
    assert {user: len(rows) for user, rows in stays.items()} == {"000": 3, "003": 20, "004": 5, "005": 7}
    for rows in stays.values():
        for row in rows:
            assert row["end"] > row["start"]
            assert row["end"] - row["start"] >= dt.timedelta(minutes=20)


def test_003_and_004_share_a_stay_on_2008_10_24(stays: dict[str, list[dict[str, Any]]]) -> None:
    together = shared(stays["003"], stays["004"], "2008-10-24")
    assert any(minutes > 30 and metres < 100 for minutes, metres in together)
    # The first of them: 02:09–03:38 UTC at Tsinghua, about 20 m apart.
    first = next(s for s in stays["003"] if s["start"] >= utc("2008-10-24 02:00"))
    assert (first["start"], first["end"]) == (utc("2008-10-24 02:09:27"), utc("2008-10-24 03:38:45"))
    partner = next(s for s in stays["004"] if s["start"] <= first["start"] < s["end"])
    assert float(haversine_m(first["lon"], first["lat"], partner["lon"], partner["lat"])) < 30


def test_003_and_004_only_walked_together_on_2008_10_23(stays: dict[str, list[dict[str, Any]]]) -> None:
    """They start logging together at 17:58 UTC but walk (no stay) and then spend the night
    at two places ~350 m apart: overlapping in time, never at the same place."""
    night = shared(stays["003"], stays["004"], "2008-10-23")
    assert night and all(metres > 300 for _, metres in night)


def test_003_and_005_share_stays_on_2008_10_27_and_28(stays: dict[str, list[dict[str, Any]]]) -> None:
    for day in ("2008-10-27", "2008-10-28"):
        together = [(m, d) for m, d in shared(stays["003"], stays["005"], day) if d < 100]
        assert any(minutes > 30 for minutes, _ in together), day
    # On the 27th both went to western Beijing (116.185 E, 39.906 N), ~12 km from campus.
    trip = [s for s in stays["003"] + stays["005"] if float(s["lon"]) < 116.2]
    assert {s["person_id"] for s in trip} == {"003", "005"}
    assert all(s["start"].date() == dt.date(2008, 10, 27) for s in trip)


def test_000_is_never_with_them(stays: dict[str, list[dict[str, Any]]]) -> None:
    for other in ("003", "004", "005"):
        assert shared(stays["000"], stays[other], "2008-10-23") == []
