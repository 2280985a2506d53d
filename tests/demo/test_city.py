"""The synthetic demo city: determinism, validity of every generated value, and the
all-or-nothing database write."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from fangkong.db.engine import make_engine
from fangkong.db.migrate import upgrade
from fangkong.demo import movement as movement_module
from fangkong.demo.city import CityStats, build_city
from fangkong.demo.movement import day_starts
from fangkong.errors import Conflict, Invalid
from fangkong.person.identity import cross_check, make_resident_id, parse_resident_id
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.unit.credit_code import normalize_credit_code

SIZE = 3000
SEED = 20221101
END = dt.date(2022, 11, 1)


def _engine(path: Path) -> Engine:
    engine = make_engine(url=f"sqlite:///{path}")
    upgrade(engine)
    return engine


def _build(tmp: Path, *, seed: int = SEED, size: int = SIZE) -> tuple[Engine, CityStats]:
    engine = _engine(tmp / "city.db")
    return engine, build_city(engine, tmp, size=size, seed=seed, end_date=END)


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, CityStats]]:
    engine, stats = _build(tmp_path_factory.mktemp("city"))
    yield engine, stats
    engine.dispose()


def test_counts_match_the_database(built: tuple[Engine, CityStats]) -> None:
    engine, stats = built
    assert stats.persons == SIZE
    counts = dict(
        _rows(
            engine,
            """
        SELECT 'person', count(*) FROM person UNION ALL SELECT 'household', count(*) FROM household
        UNION ALL SELECT 'unit', count(*) FROM unit UNION ALL SELECT 'place', count(*) FROM place
        UNION ALL SELECT 'ident', count(*) FROM person_identifier
        UNION ALL SELECT 'kg', count(*) FROM person_key_group""",
        )
    )
    assert counts == {
        "person": SIZE,
        "household": stats.households,
        "unit": stats.units,
        "place": stats.places,
        "ident": SIZE,
        "kg": stats.key_group_tags,
    }
    assert _rows(engine, "SELECT min(id), max(id) FROM person") == [(1, SIZE)]
    assert pq.read_metadata(stats.stays_path).num_rows == stats.stays
    assert pq.read_metadata(stats.checkins_path).num_rows == stats.checkins
    assert set(stats.seconds) >= {"generate", "database", "movement", "total"}


def test_same_seed_same_city_other_seed_other_city(tmp_path: Path, built: tuple[Engine, CityStats]) -> None:
    engine, stats = built
    again_engine, again = _build(tmp_path / "a")
    other_engine, other = _build(tmp_path / "b", seed=SEED + 1)
    sql = "SELECT * FROM person ORDER BY id"
    assert _rows(again_engine, sql) == _rows(engine, sql)
    for q in (
        "SELECT * FROM place ORDER BY id",
        "SELECT * FROM unit ORDER BY id",
        "SELECT * FROM person_identifier ORDER BY id",
        "SELECT * FROM area WHERE local ORDER BY code",
    ):
        assert _rows(again_engine, q) == _rows(engine, q)
    assert pq.read_table(again.stays_path).equals(pq.read_table(stats.stays_path))
    assert pq.read_table(again.checkins_path).equals(pq.read_table(stats.checkins_path))
    assert _rows(other_engine, sql) != _rows(engine, sql)
    assert not pq.read_table(other.stays_path).equals(pq.read_table(stats.stays_path))
    for e in (again_engine, other_engine):
        e.dispose()


def test_resident_ids_valid_unique_and_consistent(built: tuple[Engine, CityStats]) -> None:
    engine, _ = built
    rows = _rows(
        engine,
        """
        SELECT i.value, p.sex, p.birth_date, i.is_primary, i.kind
        FROM person_identifier i JOIN person p ON p.id = i.person_id""",
    )
    assert len(rows) == SIZE
    assert len({r[0] for r in rows}) == SIZE
    warned = 0
    for value, sex, birth, primary, kind in rows:
        rid = parse_resident_id(value, today=END)
        born = dt.date.fromisoformat(birth)
        assert cross_check(rid, sex=sex, birth_date=born) == []
        assert make_resident_id(value[:6], born, int(value[14:17]) // 2, sex=sex) == value
        assert primary in (1, True) and kind == "resident_id"
        warned += bool(rid.warnings)
    assert warned == 0  # address codes are chosen to be in use in the birth year
    local = sum(r[0].startswith("5101") for r in rows) / SIZE
    assert 0.7 < local < 0.9


def test_persons_look_right(built: tuple[Engine, CityStats]) -> None:
    engine, _ = built
    rows = _rows(engine, "SELECT name, birth_date, phone, nationality, status FROM person")
    phone = re.compile(r"1[3-9]\d{9}")
    ages = []
    for name, birth, tel, nationality, status in rows:
        born = dt.date.fromisoformat(birth)
        age = END.year - born.year - ((END.month, END.day) < (born.month, born.day))
        ages.append(age)
        assert 2 <= len(name) <= 4 and nationality == "CHN" and status == "active"
        if age < 12:
            assert tel is None
        elif tel is not None:
            assert phone.fullmatch(tel)
    ages_a = np.array(ages)
    assert ages_a.min() >= 0 and ages_a.max() <= 95
    assert 0.10 < (ages_a < 15).mean() < 0.22
    assert 0.14 < (ages_a >= 60).mean() < 0.28
    phones = [r[2] for r in rows if r[2] is not None]
    assert len(set(phones)) == len(phones)


def test_households(built: tuple[Engine, CityStats]) -> None:
    engine, _ = built
    sizes = np.array([r[0] for r in _rows(engine, "SELECT count(*) FROM person GROUP BY household_id")])
    assert sizes.min() >= 1 and sizes.max() <= 6
    assert 2.4 < sizes.mean() < 2.8
    heads = _rows(
        engine,
        """SELECT household_id, count(*) FROM person
                             WHERE household_relation = 'head' GROUP BY household_id""",
    )
    assert len(heads) == len(sizes) and all(c == 1 for _, c in heads)
    # Members share their household's grid and address.
    assert _rows(
        engine,
        """SELECT count(*) FROM person p JOIN household h ON h.id = p.household_id
                            WHERE p.area_code != h.area_code OR p.address != h.address""",
    ) == [(0,)]


def test_key_groups_follow_age_and_work(built: tuple[Engine, CityStats]) -> None:
    engine, _ = built
    rows = _rows(
        engine,
        """SELECT p.birth_date, k.key_group, u.category FROM person_key_group k
                            JOIN person p ON p.id = k.person_id
                            LEFT JOIN unit u ON u.id = p.work_unit_id""",
    )
    groups = {g for _, g, _ in rows}
    assert {
        "elderly",
        "children",
        "students",
        "enterprise_employees",
        "drivers",
        "couriers",
        "police",
        "community_workers",
    } <= groups
    for birth, group, category in rows:
        born = dt.date.fromisoformat(birth)
        age = END.year - born.year - ((END.month, END.day) < (born.month, born.day))
        if group == "elderly":
            assert age >= 60
        elif group == "children":
            assert age < 14
        elif group == "students":
            assert 6 <= age <= 22 and category in ("school", "university")
        elif group == "couriers":
            assert category == "postal_courier"
        elif group == "enterprise_employees":
            assert category == "enterprise"
    elderly = _rows(
        engine,
        """SELECT count(*) FROM person WHERE birth_date <= '1962-11-01'
        AND id NOT IN (SELECT person_id FROM person_key_group WHERE key_group = 'elderly')""",
    )
    assert elderly == [(0,)]


def test_categories_and_codes(built: tuple[Engine, CityStats]) -> None:
    engine, stats = built
    assert {r[0] for r in _rows(engine, "SELECT DISTINCT category FROM place")} == set(PLACE_CATEGORIES)
    assert {r[0] for r in _rows(engine, "SELECT DISTINCT category FROM unit")} == set(UNIT_CATEGORIES)
    assert all(stats.places_by_category[c] > 0 for c in PLACE_CATEGORIES)
    assert all(stats.units_by_category[c] > 0 for c in UNIT_CATEGORIES)
    venue = re.compile(r"V[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{11}")
    codes = [r[0] for r in _rows(engine, "SELECT venue_code FROM place")]
    assert len(set(codes)) == len(codes) and all(venue.fullmatch(c) for c in codes)
    credit = [r[0] for r in _rows(engine, "SELECT credit_code FROM unit")]
    assert len(set(credit)) == len(credit)
    assert all(normalize_credit_code(c) == c for c in credit)
    # Places have a responsible unit except private cars; capacities are positive.
    assert _rows(
        engine,
        """SELECT count(*) FROM place WHERE capacity <= 0 OR
        (responsible_unit_id IS NULL) != (category = 'private_car')""",
    ) == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM unit WHERE contact_phone IS NULL") == [(0,)]


def test_every_area_chain_leads_to_chengdu(built: tuple[Engine, CityStats]) -> None:
    engine, _ = built
    areas = {
        code: (level, parent, local)
        for code, level, parent, local in _rows(engine, "SELECT code, level, parent_code, local FROM area")
    }
    used = {
        r[0]
        for r in _rows(
            engine,
            """SELECT area_code FROM person UNION
        SELECT area_code FROM household UNION SELECT area_code FROM unit UNION
        SELECT area_code FROM place""",
        )
    }
    expected = ["grid", "community", "township", "county", "city"]
    for code in {r[0] for r in _rows(engine, "SELECT DISTINCT area_code FROM person")}:
        chain = []
        current: str | None = code
        while current is not None and current != "51":
            level, current_parent, _ = areas[current]
            chain.append((current, level))
            current = current_parent
        assert [lv for _, lv in chain] == expected and chain[-1][0] == "5101"
    for code in used:
        assert code.startswith("5101") and areas[code][0] in ("community", "grid")
        assert areas[code][2] in (1, True)
    assert _rows(engine, "SELECT count(*) FROM area WHERE code LIKE '5101%' AND level = 'township'") == [
        (261,)
    ]
    assert _rows(engine, "SELECT count(*) FROM area WHERE code LIKE '5101%' AND lon IS NULL") == [(0,)]


def test_stays_are_ordered_and_cover_every_night(built: tuple[Engine, CityStats]) -> None:
    engine, stats = built
    table = pq.read_table(stats.stays_path)
    assert table.schema.field("start").type == pa.timestamp("us", tz="UTC")
    person = table.column("person_id").to_numpy()
    start = table.column("start").cast(pa.int64()).to_numpy()
    end = table.column("end").cast(pa.int64()).to_numpy()
    lon, lat = table.column("lon").to_numpy(), table.column("lat").to_numpy()
    days = day_starts(END)
    assert (start < end).all()
    assert start.min() >= days[0] and end.max() <= days[-1]
    assert (np.diff(person) >= 0).all()
    same = person[1:] == person[:-1]
    assert (start[1:][same] >= end[:-1][same]).all()  # ordered, never overlapping
    assert set(np.unique(person).tolist()) == set(range(1, SIZE + 1))
    homes = dict((pid, (x, y)) for pid, x, y in _rows(engine, "SELECT id, lon, lat FROM person"))
    home_lon = np.array([homes[p][0] for p in range(1, SIZE + 1)])
    home_lat = np.array([homes[p][1] for p in range(1, SIZE + 1)])
    first = np.searchsorted(person, np.arange(1, SIZE + 1))
    last = np.searchsorted(person, np.arange(1, SIZE + 1), side="right")
    for night in days[:-1] + 3 * 3600 * 1_000_000:  # 03:00 local every night
        key = (person.astype(np.int64) << 42) | (start - days[0])
        probe = (np.arange(1, SIZE + 1, dtype=np.int64) << 42) | (night - days[0])
        i = np.searchsorted(key, probe, side="right") - 1
        assert ((i >= first) & (i < last)).all()
        assert (end[i] > night).all()
        assert np.allclose(lon[i], home_lon) and np.allclose(lat[i], home_lat)
    per_day = len(person) / SIZE / 14
    assert 1.5 < per_day < 5


def test_checkins_match_places_and_stays(built: tuple[Engine, CityStats]) -> None:
    engine, stats = built
    checkins = pq.read_table(stats.checkins_path)
    assert checkins.schema.field("venue_code").type == pa.string()
    places = {
        pid: (code, x, y) for pid, code, x, y in _rows(engine, "SELECT id, venue_code, lon, lat FROM place")
    }
    stays = pq.read_table(stats.stays_path).to_pydict()
    at = {
        (p, s): (x, y)
        for p, s, x, y in zip(stays["person_id"], stays["start"], stays["lon"], stays["lat"], strict=True)
    }
    rows = checkins.to_pydict()
    assert len(rows["person_id"]) > SIZE  # everyone visits something now and then
    last = (0, dt.datetime.min.replace(tzinfo=dt.UTC))
    categories = dict(_rows(engine, "SELECT id, category FROM place"))
    for person, place, code, time in zip(
        rows["person_id"], rows["place_id"], rows["venue_code"], rows["time"], strict=True
    ):
        assert places[place][0] == code
        assert at[(person, time)] == places[place][1:]
        assert categories[place] != "home"
        assert (person, time) > last
        last = (person, time)


def test_second_build_is_refused_and_changes_nothing(built: tuple[Engine, CityStats]) -> None:
    engine, stats = built
    before = (
        _rows(engine, "SELECT count(*), max(id) FROM person")
        + _rows(engine, "SELECT count(*) FROM area")
        + _rows(engine, "SELECT count(*) FROM place")
    )
    stays_before = stats.stays_path.read_bytes()
    with pytest.raises(Conflict, match="already has"):
        build_city(engine, stats.stays_path.parent.parent, size=SIZE, seed=SEED + 7, end_date=END)
    after = (
        _rows(engine, "SELECT count(*), max(id) FROM person")
        + _rows(engine, "SELECT count(*) FROM area")
        + _rows(engine, "SELECT count(*) FROM place")
    )
    assert after == before
    assert stats.stays_path.read_bytes() == stays_before
    assert not list(stats.stays_path.parent.glob(".*tmp"))


def test_failure_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path / "city.db")

    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(movement_module, "write_movement", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        build_city(engine, tmp_path, size=500, end_date=END)
    assert _rows(engine, "SELECT count(*) FROM person") == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM unit") == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM area") == [(0,)]  # even the national load
    assert [p for kind in ("stays", "checkins") for p in (tmp_path / kind).iterdir()] == []
    engine.dispose()


def test_size_is_checked(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "city.db")
    with pytest.raises(Invalid):
        build_city(engine, tmp_path, size=5, end_date=END)
    engine.dispose()


def test_end_date_only_moves_time(tmp_path: Path, built: tuple[Engine, CityStats]) -> None:
    engine, stats = built
    other = _engine(tmp_path / "later.db")
    week = dt.timedelta(days=7)
    moved = build_city(other, tmp_path, size=SIZE, seed=SEED, end_date=END + week)
    sql = """SELECT name, sex, phone, area_code, address, household_id, household_relation,
             work_unit_id FROM person ORDER BY id"""
    assert _rows(other, sql) == _rows(engine, sql)
    for q in (
        "SELECT id, name, category, area_code, lon, lat, capacity, responsible_unit_id, "
        "venue_code FROM place ORDER BY id",
        "SELECT person_id, key_group FROM person_key_group ORDER BY 1, 2",
    ):
        assert _rows(other, q) == _rows(engine, q)
    births = _rows(engine, "SELECT birth_date FROM person ORDER BY id")
    later = _rows(other, "SELECT birth_date FROM person ORDER BY id")
    shift = {
        (dt.date.fromisoformat(b[0]) - dt.date.fromisoformat(a[0])).days
        for a, b in zip(births, later, strict=True)
    }
    assert shift <= {6, 7, 8}  # whole years before a date a week later (leap days aside)
    # A whole week later the weekdays line up: the same stays, seven days later.
    original, shifted = pq.read_table(stats.stays_path), pq.read_table(moved.stays_path)
    us = 7 * 86400 * 1_000_000
    for column in ("start", "end"):
        a = original.column(column).cast(pa.int64()).to_numpy()
        b = shifted.column(column).cast(pa.int64()).to_numpy()
        assert (b - a == us).all()
    assert shifted.select(["person_id", "lon", "lat"]).equals(original.select(["person_id", "lon", "lat"]))
    other.dispose()


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A fresh schema on the PostgreSQL server of FANGKONG_TEST_PG_URL (or of the suite's
    FANGKONG_TEST_DATABASE_URL when that is PostgreSQL), dropped afterwards."""
    url = os.environ.get("FANGKONG_TEST_PG_URL") or ""
    suite_url = os.environ.get("FANGKONG_TEST_DATABASE_URL") or ""
    if not url and suite_url.startswith("postgres"):
        url = suite_url
    if not url:
        pytest.skip("FANGKONG_TEST_PG_URL not set")
    schema = f"fk_demo_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url=url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url=url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_postgresql(pg_engine: Engine, tmp_path: Path) -> None:
    stats = build_city(pg_engine, tmp_path, size=1000, end_date=END)
    rows = _rows(pg_engine, "SELECT count(*), max(id) FROM person")
    assert rows == [(1000, 1000)]
    # Sequences continue after the explicit ids.
    grid = _rows(pg_engine, "SELECT min(area_code) FROM household")[0][0]
    with pg_engine.begin() as conn:
        new_id = conn.execute(
            text(
                "INSERT INTO household (area_code, address, created_at, updated_at) "
                "VALUES (:a, 'x', now(), now()) RETURNING id"
            ),
            {"a": grid},
        ).scalar_one()
    assert new_id == stats.households + 1
    for value, sex, birth in _rows(
        pg_engine,
        """SELECT i.value, p.sex, p.birth_date
            FROM person_identifier i JOIN person p ON p.id = i.person_id""",
    ):
        assert cross_check(parse_resident_id(value, today=END), sex=sex, birth_date=birth) == []
    with pytest.raises(Conflict):
        build_city(pg_engine, tmp_path, size=1000, end_date=END)
    checkins = pq.read_table(stats.checkins_path).to_pydict()
    codes = dict(_rows(pg_engine, "SELECT id, venue_code FROM place"))
    assert all(codes[p] == c for p, c in zip(checkins["place_id"], checkins["venue_code"], strict=True))
