"""Build the deterministic synthetic demo city (成都市) into a database and Parquet files.

`build_city` generates geography, households, persons, units and venues with numpy, writes
them with driver-level executemany inside ONE transaction, then writes 14 days of stays
and check-ins to Parquet before committing. The same seed, size and end_date give the
same rows and the same Parquet content; end_date only moves dates and times.

Database rows get ids assigned here (after any existing ones), so the Parquet person_id
and place_id columns match the database. `created_at` / `updated_at` are the start of
the 14-day window (so that the rows are reproducible too).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, Connection, Engine, Table, func, select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.errors import Conflict, ErrorDetail, Invalid
from fangkong.person.key_groups import KEY_GROUPS
from fangkong.person.models import Household, Person, PersonIdentifier, PersonKeyGroup
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.place.models import Place
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.unit.models import Unit

from . import geography, movement, organisations, population
from .geography import Geography

BATCH = 50_000
MIN_SIZE = 100
MAX_SIZE = 20_000_000


@dataclass(frozen=True)
class CityStats:
    size: int
    seed: int
    end_date: dt.date
    communities: int
    grids: int
    households: int
    persons: int
    identifiers: int
    key_group_tags: int
    units: int
    places: int
    stays: int
    checkins: int
    stays_path: Path
    checkins_path: Path
    units_by_category: dict[str, int] = field(default_factory=dict)
    places_by_category: dict[str, int] = field(default_factory=dict)
    key_groups: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per phase, and "total"


def build_city(
    engine: Engine,
    movement_dir: Path,
    *,
    size: int = 100_000,
    seed: int = 20221101,
    end_date: dt.date,
    progress: Callable[[str], None] | None = None,
) -> CityStats:
    """Generate the demo city of `size` residents into `engine` and the movement store
    at `movement_dir` (its `stays/` and `checkins/` folders).

    Raises Conflict if the database already has persons or local areas under 5101, and
    Invalid for a size outside 100..20,000,000. On any failure nothing is committed and
    no Parquet file is left behind.
    """
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise Invalid(
            "size out of range", [ErrorDetail("size", f"must be between {MIN_SIZE:,} and {MAX_SIZE:,}", size)]
        )
    say = progress or (lambda _msg: None)
    seconds: dict[str, float] = {}
    began = clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = round(now - clock, 3)
        clock = now
        say(f"{phase}: {seconds[phase]:.1f} s")

    # The movement store's layout (docs/movement-data.md): one folder per kind of data.
    move_dir = Path(movement_dir)
    for kind in ("stays", "checkins"):
        (move_dir / kind).mkdir(parents=True, exist_ok=True)
    stays_path, checkins_path = move_dir / "stays" / "demo.parquet", move_dir / "checkins" / "demo.parquet"
    tmp_stays = move_dir / "stays" / f".demo.parquet.{os.getpid()}.tmp"
    tmp_checkins = move_dir / "checkins" / f".demo.parquet.{os.getpid()}.tmp"
    window_start = dt.datetime.fromtimestamp(int(movement.day_starts(end_date)[0]) / 1e6, dt.UTC)
    try:
        with engine.begin() as conn:
            cache_size = _tune(conn)
            try:
                _refuse_existing(conn)
                _ensure_divisions(conn, say)
                offsets = {t: _max_id(conn, t) for t in (Household, Unit, Place, Person, PersonIdentifier)}
                taken_credit = frozenset(c for c in conn.scalars(select(Unit.credit_code)) if c)
                taken_venue = frozenset(conn.scalars(select(Place.venue_code)))
                lap("checks")

                say(f"generating a city of {size:,} residents (seed {seed})")
                geo = geography.build_geography(seed, size)
                units = organisations.build_units(geo, size, seed, taken_credit)
                places = organisations.build_places(geo, units, size, seed, taken_venue)
                hh = population.build_households(geo, size, seed)
                persons = population.build_persons(geo, hh, units, seed, end_date)
                lap("generate")

                writer = _Writer(conn, window_start, say)
                writer.areas(geo)
                writer.units(geo, units, offsets[Unit])
                writer.places(places, offsets[Place], offsets[Unit])
                writer.households(geo, hh, offsets[Household])
                writer.persons(geo, hh, persons, offsets)
                writer.reset_sequences()
                lap("database")

                moved = movement.write_movement(
                    tmp_stays,
                    tmp_checkins,
                    geo=geo,
                    households=hh,
                    persons=persons,
                    units=units,
                    places=places,
                    person_id0=offsets[Person] + 1,
                    place_id0=offsets[Place] + 1,
                    seed=seed,
                    end_date=end_date,
                    progress=say,
                )
                lap("movement")
            finally:
                _untune(conn, cache_size)
        os.replace(tmp_stays, stays_path)
        os.replace(tmp_checkins, checkins_path)
        lap("commit")
    finally:
        for tmp in (tmp_stays, tmp_checkins):
            tmp.unlink(missing_ok=True)
    seconds["total"] = round(time.perf_counter() - began, 3)
    return CityStats(
        size=size,
        seed=seed,
        end_date=end_date,
        communities=len(geo.community_code),
        grids=len(geo.grid_code),
        households=len(hh.size),
        persons=len(persons),
        identifiers=len(persons),
        key_group_tags=len(persons.key_person),
        units=len(units.category),
        places=len(places.category),
        stays=moved.stays,
        checkins=moved.checkins,
        stays_path=stays_path,
        checkins_path=checkins_path,
        units_by_category=_count(units.category, UNIT_CATEGORIES),
        places_by_category=_count(places.category, PLACE_CATEGORIES),
        key_groups=_count(persons.key_group, KEY_GROUPS),
        seconds=seconds,
    )


def _count(index: NDArray[np.int64], labels: Sequence[str]) -> dict[str, int]:
    counts = np.bincount(index, minlength=len(labels))
    return {label: int(c) for label, c in zip(labels, counts.tolist(), strict=True)}


def _tune(conn: Connection) -> int | None:
    """Give SQLite a large page cache for the bulk load (indexes are updated in place)."""
    if conn.dialect.name != "sqlite":
        return None
    previous = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
    conn.exec_driver_sql("PRAGMA cache_size=-1000000")
    return previous


def _untune(conn: Connection, cache_size: int | None) -> None:
    if cache_size is not None:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_size)}")


def _refuse_existing(conn: Connection) -> None:
    persons = conn.scalar(select(func.count()).select_from(Person)) or 0
    if persons:
        raise Conflict(
            f"the database already has {persons:,} persons; the demo city is built "
            "only into a database without persons (use a fresh database)"
        )
    local = (
        conn.scalar(
            select(func.count())
            .select_from(Area)
            .where(Area.code.startswith(geography.CITY_CODE), Area.level.in_(("community", "grid")))
        )
        or 0
    )
    if local:
        raise Conflict(
            f"the database already has {local:,} communities or grids under "
            f"{geography.CITY_CODE}; the demo city needs a 成都市 without them"
        )


def _ensure_divisions(conn: Connection, say: Callable[[str], None]) -> None:
    """Load the national divisions of province 51 when 成都市 or any of its townships is missing."""
    _, townships = geography.chengdu_divisions()
    present = (
        conn.scalar(
            select(func.count())
            .select_from(Area)
            .where(Area.code.in_([geography.CITY_CODE, *(c for c, _ in townships)]))
        )
        or 0
    )
    if present == len(townships) + 1:
        return
    from fangkong.area.service import load_national
    from fangkong.auth.actor import system_actor

    say("loading the national divisions of province 51")
    with Session(bind=conn) as session:
        load_national(session=session, actor=system_actor("demo"), provinces=[geography.PROVINCE_CODE])
        session.flush()


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _max_id(conn: Connection, model: type[Any]) -> int:
    return int(conn.scalar(select(func.max(model.id))) or 0)


def _const(conn: Connection, column: ColumnElement[Any], value: Any) -> Any:
    """`value` as the driver expects it for `column` (e.g. UTCDateTime on SQLite)."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor is not None else value


def _dates(conn: Connection, column: ColumnElement[Any], days: NDArray[np.datetime64]) -> list[Any]:
    uniq, inverse = np.unique(days, return_inverse=True)
    values = np.empty(len(uniq), dtype=object)
    values[:] = [_const(conn, column, d) for d in uniq.astype(object).tolist()]
    result: list[Any] = values[inverse].tolist()
    return result


def _nullable(values: NDArray[np.int64], offset: int) -> list[int | None]:
    out = (values + offset).astype(object)
    out[values < 0] = None
    result: list[int | None] = out.tolist()
    return result


class _Writer:
    """Bulk inserts of tuples in batches on the caller's transaction: driver executemany
    (SQLite), COPY (PostgreSQL)."""

    def __init__(self, conn: Connection, created: dt.datetime, say: Callable[[str], None]):
        self.conn = conn
        self.say = say
        self.created = created
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.counts: dict[str, int] = {}

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
        stamps = [c for c in ("created_at", "updated_at") if c in table.c and c not in columns]
        extra = tuple(_const(self.conn, table.c[c], self.created) for c in stamps)
        names = [*columns, *stamps]
        unknown = [
            c.name
            for c in table.columns
            if c.name not in names and not c.nullable and c.default is None and c.server_default is None
        ]
        if unknown:
            raise RuntimeError(f"demo city does not know how to fill {table.name}.{unknown}")
        quote = self.conn.dialect.identifier_preparer.quote
        target = f"{quote(table.name)} ({', '.join(quote(c) for c in names)})"
        sql = f"INSERT INTO {target} VALUES ({', '.join([self.mark] * len(names))})"
        postgres = self.conn.dialect.name == "postgresql"
        total = 0
        iterator: Iterator[tuple[Any, ...]] = iter(rows)
        while batch := list(islice(iterator, BATCH)):
            if extra:
                batch = [row + extra for row in batch]
            if postgres:  # COPY, on the same connection and transaction
                driver: Any = self.conn.connection.driver_connection
                with driver.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                self.conn.exec_driver_sql(sql, batch)
            total += len(batch)
        self.counts[table.name] = self.counts.get(table.name, 0) + total
        self.say(f"database: {total:,} rows into {table.name}")
        return total

    def areas(self, geo: Geography) -> None:
        area = _table(Area)
        comm_parent = [geo.township_code[t] for t in geo.community_township.tolist()]
        self.insert(
            area,
            ("code", "name", "level", "parent_code", "local", "lon", "lat"),
            zip(
                geo.community_code,
                geo.community_name,
                repeat("community"),
                comm_parent,
                repeat(True),
                geo.community_lon.tolist(),
                geo.community_lat.tolist(),
            ),
        )
        grid_parent = [geo.community_code[c] for c in geo.grid_community.tolist()]
        self.insert(
            area,
            ("code", "name", "level", "parent_code", "local", "lon", "lat"),
            zip(
                geo.grid_code,
                geo.grid_name,
                repeat("grid"),
                grid_parent,
                repeat(True),
                geo.grid_lon.tolist(),
                geo.grid_lat.tolist(),
            ),
        )
        # Give the national rows of the city, its districts and townships a position if unset.
        sql = f"UPDATE area SET lon = {self.mark}, lat = {self.mark} WHERE code = {self.mark} AND lon IS NULL"
        points = [(geography.CITY_LON, geography.CITY_LAT, geography.CITY_CODE)]
        points += zip(geo.district_lon.tolist(), geo.district_lat.tolist(), geo.district_code, strict=True)
        points += zip(geo.township_lon.tolist(), geo.township_lat.tolist(), geo.township_code, strict=True)
        self.conn.exec_driver_sql(sql, points)

    def units(self, geo: Geography, u: organisations.Units, offset: int) -> None:
        n = len(u.category)
        self.insert(
            _table(Unit),
            (
                "id",
                "name",
                "category",
                "area_code",
                "address",
                "lon",
                "lat",
                "credit_code",
                "contact_name",
                "contact_phone",
            ),
            zip(
                range(offset + 1, offset + n + 1),
                u.name,
                np.array(UNIT_CATEGORIES)[u.category].tolist(),
                u.area_code,
                u.address,
                u.lon.tolist(),
                u.lat.tolist(),
                u.credit_code,
                u.contact_name,
                u.contact_phone,
                strict=True,
            ),
        )

    def places(self, p: organisations.Places, offset: int, unit_offset: int) -> None:
        n = len(p.category)
        self.insert(
            _table(Place),
            (
                "id",
                "name",
                "category",
                "area_code",
                "address",
                "lon",
                "lat",
                "capacity",
                "responsible_unit_id",
                "venue_code",
            ),
            zip(
                range(offset + 1, offset + n + 1),
                p.name,
                np.array(PLACE_CATEGORIES)[p.category].tolist(),
                p.area_code,
                p.address,
                p.lon.tolist(),
                p.lat.tolist(),
                p.capacity.tolist(),
                _nullable(p.responsible, unit_offset + 1),
                p.venue_code,
                strict=True,
            ),
        )

    def households(self, geo: Geography, hh: population.Households, offset: int) -> None:
        n = len(hh.size)
        self.insert(
            _table(Household),
            ("id", "area_code", "address"),
            zip(
                range(offset + 1, offset + n + 1),
                np.array(geo.grid_code)[hh.grid].tolist(),
                hh.address.to_pylist(),
                strict=True,
            ),
        )

    def persons(
        self, geo: Geography, hh: population.Households, ps: population.Persons, offsets: dict[type[Any], int]
    ) -> None:
        n = len(ps)
        p0 = offsets[Person] + 1
        ids = range(p0, p0 + n)
        area = np.array(geo.grid_code)[hh.grid[ps.household]].tolist()
        address = hh.address.take(ps.household).to_pylist()
        self.insert(
            _table(Person),
            (
                "id",
                "name",
                "sex",
                "birth_date",
                "nationality",
                "phone",
                "area_code",
                "address",
                "lon",
                "lat",
                "household_id",
                "household_relation",
                "work_unit_id",
                "status",
            ),
            zip(
                ids,
                ps.name.to_pylist(),
                np.where(ps.male, "male", "female").tolist(),
                _dates(self.conn, _table(Person).c.birth_date, ps.birth),
                repeat("CHN"),
                ps.phone.to_pylist(),
                area,
                address,
                hh.lon[ps.household].tolist(),
                hh.lat[ps.household].tolist(),
                (ps.household + offsets[Household] + 1).tolist(),
                np.array(population.RELATIONS)[ps.relation].tolist(),
                _nullable(ps.unit, offsets[Unit] + 1),
                repeat("active"),
            ),
        )
        i0 = offsets[PersonIdentifier] + 1
        self.insert(
            _table(PersonIdentifier),
            ("id", "person_id", "kind", "value", "is_primary"),
            zip(range(i0, i0 + n), ids, repeat("resident_id"), ps.resident_id.tolist(), repeat(True)),
        )
        self.insert(
            _table(PersonKeyGroup),
            ("person_id", "key_group"),
            zip((ps.key_person + p0).tolist(), np.array(KEY_GROUPS)[ps.key_group].tolist(), strict=True),
        )

    def reset_sequences(self) -> None:
        if self.conn.dialect.name != "postgresql":
            return
        for table in ("household", "unit", "place", "person", "person_identifier"):
            self.conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(max(id), 0) + 1 FROM {table}), false)"
            )
