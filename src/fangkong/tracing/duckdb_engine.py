"""The DuckDB tracing engine (default): every `TracingEngine` question answered in SQL, on
Parquet out of core (filters pushed into the scan, spilling to `temp_directory` under
`memory_limit`), on CSV files and on Arrow tables.

The statements live in `sql/companions.sql` and `sql/contacts.sql`, one per `-- name:`
section, so each step can be read and timed on its own (`engine.last_timings`). The method of
each question is in docs/tracing.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import shutil
import string
import tempfile
import time
import zoneinfo
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from fangkong.errors import ErrorDetail, Invalid
from fangkong.tracing import sources
from fangkong.tracing.ports import (
    CaseAnchor,
    CompanionParams,
    Exposure,
    Grid,
    PersonId,
    Source,
    VehicleParams,
    VenueParams,
    check_companion_params,
    companion_schema,
    secondary_schema,
)
from fangkong.tracing.projection import cell_sql
from fangkong.tracing.sources import Clock, Opened, literal

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TS = pa.timestamp("us", tz="UTC")
COMPANION_STEPS = (
    "case_cells",
    "case_intervals",
    "case_dwell",
    "case_buckets",
    "cell_stays",
    "pieces",
    "co_presence",
    "need_dwell",
)  # then person_dwell … result, when needed
STAY_COLUMNS = ("person_id", "start", "end", "cell_id", "lon", "lat")


@functools.cache
def _statements(name: str) -> dict[str, str]:
    text = resources.files("fangkong.tracing").joinpath("sql", f"{name}.sql").read_text("utf-8")
    out: dict[str, str] = {}
    for chunk in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        title, _, body = chunk.partition("\n")
        out[title.strip()] = body.strip().rstrip(";")
    return out


def _sql(file: str, section: str, **values: object) -> str:
    return string.Template(_statements(file)[section]).substitute({k: str(v) for k, v in values.items()})


def _us(moment: dt.datetime, what: str = "time") -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid(
            f"{what} needs a time zone: {moment.isoformat()}",
            [ErrorDetail(what, "time without a zone", moment.isoformat())],
        )
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def _as_id_type(kind: str) -> pa.DataType:
    return pa.int64() if kind == "int" else pa.string()


class DuckDBEngine:
    """Tracing on DuckDB. `database`: a DuckDB file to work in (default: in memory);
    `memory_limit` (e.g. "8GB"), `threads`, `temp_directory` (where work spills when memory is
    short; default a folder in the system temp dir); `timezone`: the zone of naive times in the
    inputs (default: the settings' `FANGKONG_TIMEZONE`); `bucket_hours`: the time bucket of the
    companion join (a tuning knob; results do not depend on it)."""

    name = "duckdb"
    count_rows = False  # benchmarks: also record each step's row count in last_timings

    def __init__(
        self,
        database: str | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | None = None,
        timezone: str | None = None,
        bucket_hours: float = 6.0,
    ) -> None:
        self.database = database
        self.memory_limit = memory_limit
        self.threads = threads
        self.temp_directory = temp_directory
        self._timezone = timezone
        if not bucket_hours > 0:
            raise ValueError("bucket_hours must be positive")
        self.bucket_us = int(bucket_hours * HOUR)
        self.last_timings: dict[str, float] = {}
        self.last_cases_without_stays: list[PersonId] = []

    @property
    def timezone(self) -> str:
        if self._timezone is None:
            from fangkong.config import get_settings

            self._timezone = get_settings().timezone
        return self._timezone

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh connection per question (nothing is left behind); spills go to a folder of
        its own under `temp_directory`, removed afterwards."""
        base = Path(self.temp_directory or Path(tempfile.gettempdir()) / "fangkong-duckdb")
        base.mkdir(parents=True, exist_ok=True)
        spill = tempfile.mkdtemp(prefix="spill-", dir=base)
        config: dict[str, Any] = {"temp_directory": spill}
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        try:
            con = duckdb.connect(self.database or ":memory:", config=config)
        except duckdb.Error as exc:
            shutil.rmtree(spill, ignore_errors=True)
            raise Invalid(
                f"cannot start DuckDB: {sources._first_line(exc)}",
                [ErrorDetail("engine", "bad option", sources._first_line(exc))],
            ) from None
        try:
            con.execute(f"SET TimeZone = {literal(self.timezone)}")
            con.execute("SET preserve_insertion_order = false")
            self.last_timings = {}
            yield con
        except duckdb.OutOfMemoryException as exc:
            raise Invalid(
                f"out of memory: {sources._first_line(exc)}; raise memory_limit or free memory",
                [ErrorDetail("memory_limit", "out of memory", self.memory_limit)],
            ) from None
        except duckdb.ConversionException as exc:
            raise Invalid(
                f"cannot read input: {sources._first_line(exc)}",
                [ErrorDetail("input", "conversion error", sources._first_line(exc))],
            ) from None
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)

    def _run(self, con: duckdb.DuckDBPyConnection, step: str, sql: str) -> None:
        start = time.perf_counter()
        con.execute(sql)
        self.last_timings[step] = round(time.perf_counter() - start, 3)
        if self.count_rows and (m := re.search(r"CREATE TEMP TABLE (\w+)", sql)):
            self.last_timings[f"{step}.rows"] = float(
                sources.one(con, f"SELECT count(*) FROM {m.group(1)}")[0]
            )

    def _fetch(self, con: duckdb.DuckDBPyConnection, step: str, sql: str) -> pa.Table:
        start = time.perf_counter()
        table = con.sql(sql).to_arrow_table()
        self.last_timings[step] = round(time.perf_counter() - start, 3)
        return table

    def _cases_table(
        self,
        con: duckdb.DuckDBPyConnection,
        id_kind: str,
        cases: Sequence[CaseAnchor],
        before_us: int,
        after_us: int = 0,
        with_dates: bool = False,
    ) -> list[tuple[int, Any, int, int]]:
        """_cases(cid, pid, lo, a[, d_lo, d_hi]) with one row per case person; ids converted to
        the data's id type (a case whose id cannot be converted matches nothing)."""
        seen: dict[Any, int] = {}
        rows: list[tuple[int, Any, int, int]] = []
        dates: list[tuple[dt.date, dt.date]] = []
        for case in cases:
            anchor = _us(case.anchor, "anchor")
            converted = sources.id_values([case.person_id], id_kind)
            if not converted:
                continue
            pid = converted[0]
            if pid in seen:
                if seen[pid] != anchor:
                    raise Invalid(
                        f"case {case.person_id} is given twice with different anchors",
                        [ErrorDetail("cases", "person given twice", case.person_id)],
                    )
                continue
            seen[pid] = anchor
            rows.append((len(rows), pid, anchor - before_us, anchor + after_us))
            if with_dates:
                zone = zoneinfo.ZoneInfo(self.timezone)
                lo_local = (case.anchor - dt.timedelta(microseconds=before_us)).astimezone(zone)
                dates.append((lo_local.date(), case.anchor.astimezone(zone).date()))
        id_sql = "BIGINT" if id_kind == "int" else "VARCHAR"
        extra = ", d_lo DATE, d_hi DATE" if with_dates else ""
        con.execute(f"CREATE TEMP TABLE _cases (cid INTEGER, pid {id_sql}, lo BIGINT, a BIGINT{extra})")
        if rows:
            columns: dict[str, Any] = {
                "cid": pa.array([r[0] for r in rows], pa.int32()),
                "pid": pa.array([r[1] for r in rows], _as_id_type(id_kind)),
                "lo": pa.array([r[2] for r in rows], pa.int64()),
                "a": pa.array([r[3] for r in rows], pa.int64()),
            }
            if with_dates:
                columns["d_lo"] = pa.array([d[0] for d in dates], pa.date32())
                columns["d_hi"] = pa.array([d[1] for d in dates], pa.date32())
            con.register("_cases_arrow", pa.table(columns))
            con.execute("INSERT INTO _cases SELECT * FROM _cases_arrow")
            con.unregister("_cases_arrow")
        return rows

    @staticmethod
    def _finish(table: pa.Table, schema: pa.Schema) -> pa.Table:
        """Epoch-µs columns become UTC timestamps; types as documented; empty keeps the schema."""
        if table.num_rows == 0 and table.num_columns == 0:
            return schema.empty_table()
        columns = []
        for fld in schema:
            col = table.column(fld.name)
            if fld.type == TS and not pa.types.is_timestamp(col.type):
                col = pc.cast(col, pa.int64()).cast(TS)
            columns.append(col.cast(fld.type))
        return pa.Table.from_arrays(columns, schema=schema)

    @staticmethod
    def _id_kind(opened: Opened, column: str, fallback: Sequence[PersonId]) -> str:
        if opened.typed(column):
            return opened.ids(column)
        return "str" if any(isinstance(p, str) for p in fallback) else "int"

    # ------------------------------------------------------------ companions

    def _open_stays(self, con: duckdb.DuckDBPyConnection, stays: Source) -> Opened:
        opened = sources.open_source(con, stays, label="stays")
        if opened.empty:
            return opened
        opened.require("person_id", "start", "end")
        if not opened.has("cell_id"):
            opened.require("lon", "lat", what="a position: lon and lat, or cell_id")
        sources.type_csv(con, opened, ids=[("person_id",)], times=("start", "end"), numbers=("lon", "lat"))
        return opened

    def _cell(self, opened: Opened, grid: Grid) -> str:
        if opened.has("cell_id"):
            return sources.quote("cell_id")
        return cell_sql(
            sources.quote("lon"), sources.quote("lat"), grid.utm_zone, float(grid.cell_size_m), grid.south
        )

    def companions(self, stays: Source, cases: list[CaseAnchor], params: CompanionParams) -> pa.Table:
        """See `TracingEngine.companions`; the method is in docs/tracing.md."""
        check_companion_params(params)
        window = int(round(params.window_days * DAY))
        with self._connect() as con:
            opened = self._open_stays(con, stays)
            kind = self._id_kind(opened, "person_id", [c.person_id for c in cases])
            schema = companion_schema(kind)
            rows = self._cases_table(con, kind, cases, window)
            self.last_cases_without_stays = [r[1] for r in rows]
            if opened.empty or not rows:
                return schema.empty_table()
            lo, hi = min(r[2] for r in rows), max(r[3] for r in rows)
            clock = Clock(
                self.timezone, EPOCH + dt.timedelta(microseconds=lo), EPOCH + dt.timedelta(microseconds=hi)
            )
            values: dict[str, object] = {
                "src": opened.name,
                "pid": opened.id_sql("person_id"),
                "s": clock.us(opened, "start"),
                "e": clock.us(opened, "end"),
                "cell": self._cell(opened, params.grid),
                "cols": ", ".join(sources.quote(c) for c in STAY_COLUMNS if opened.has(c)),
                "pre": f"{clock.raw_after(opened, 'end', lo)} AND {clock.raw_before(opened, 'start', hi)}",
                "lo": lo,
                "hi": hi,
                "b": self.bucket_us,
                "mo": int(math.ceil(params.min_overlap_min * MINUTE - 1e-6)),
                "md": int(math.ceil(params.min_dwell_h * HOUR - 1e-6)),
            }
            for step in ("stays", "case_stays"):
                self._run(con, step, _sql("companions", step, **values))
            with_stays = {r[0] for r in con.execute("SELECT DISTINCT cid FROM _cst").fetchall()}
            self.last_cases_without_stays = [r[1] for r in rows if r[0] not in with_stays]
            if not with_stays:
                return schema.empty_table()
            for step in COMPANION_STEPS:
                self._run(con, step, _sql("companions", step, **values))
            if not sources.one(con, "SELECT count(*) FROM _need")[0]:
                con.execute("CREATE TEMP TABLE _pu AS SELECT pid, ci, 0::BIGINT AS d FROM _need")
            else:
                self._run(con, "person_dwell", _sql("companions", "person_dwell", **values))
            self._run(con, "dwell_undecided", _sql("companions", "dwell_undecided", **values))
            if not sources.one(con, "SELECT count(*) FROM _amb")[0]:
                con.execute("CREATE TEMP TABLE _pdx AS SELECT pid, ci, lo, a, 0::BIGINT AS d FROM _amb")
            else:
                self._run(con, "dwell_exact", _sql("companions", "dwell_exact", **values))
            result = self._fetch(con, "result", _sql("companions", "result", **values))
            return self._finish(result, schema)

    # ------------------------------------------------------------ venues

    def venue_contacts(self, checkins: Source, cases: list[CaseAnchor], params: VenueParams) -> pa.Table:
        """See `TracingEngine.venue_contacts`."""
        if params.min_overlap_min < 0 or params.default_dwell_min <= 0 or params.lookback_days < 0:
            raise Invalid(
                "venue parameters must be non-negative (default dwell positive)",
                [ErrorDetail("params", "out of range", repr(params))],
            )
        with self._connect() as con:
            opened = sources.open_source(con, checkins, label="check-ins")
            if not opened.empty:
                opened.require("person_id", "place_id", "time")
                sources.type_csv(
                    con, opened, ids=[("person_id",), ("place_id",)], times=("time", "leave_time")
                )
            kind = self._id_kind(opened, "person_id", [c.person_id for c in cases])
            place_kind = self._id_kind(opened, "place_id", list(params.dwell_by_place))
            schema = pa.schema(
                [
                    ("case_person_id", _as_id_type(kind)),
                    ("person_id", _as_id_type(kind)),
                    ("place_id", _as_id_type(place_kind)),
                    ("overlap_minutes", pa.float64()),
                    ("first_seen", TS),
                    ("last_seen", TS),
                ]
            )
            rows = self._cases_table(
                con,
                kind,
                cases,
                int(round(params.lookback_days * DAY)),
                int(round(params.until_hours_after * HOUR)),
            )
            if opened.empty or not rows:
                return schema.empty_table()
            places = [(p, float(m)) for p, m in params.dwell_by_place.items()]
            keys = sources.id_values([p for p, _ in places], place_kind)
            minutes = [m for p, m in places if sources.id_values([p], place_kind)]
            con.register(
                "_dwell_arrow",
                pa.table(
                    {
                        "place": pa.array(keys, _as_id_type(place_kind)),
                        "minutes": pa.array(minutes, pa.float64()),
                    }
                ),
            )
            con.execute("CREATE TEMP TABLE _dwell AS SELECT * FROM _dwell_arrow")
            max_dwell = max([params.default_dwell_min, *minutes]) * MINUTE
            lo, hi = min(r[2] for r in rows), max(r[3] for r in rows)
            clock = Clock(
                self.timezone, EPOCH + dt.timedelta(microseconds=lo), EPOCH + dt.timedelta(microseconds=hi)
            )
            lt = clock.us(opened, "leave_time") if opened.has("leave_time") else "CAST(NULL AS BIGINT)"
            values = {
                "src": opened.name,
                "pid": opened.id_sql("person_id"),
                "place": opened.id_sql("place_id"),
                "t": clock.us(opened, "time"),
                "lt": lt,
                "lo": lo,
                "hi": hi,
                "pre": clock.raw_before(opened, "time", hi),
                "default_dwell": float(params.default_dwell_min),
                "max_dwell": int(max_dwell),
                "mo": int(math.ceil(params.min_overlap_min * MINUTE - 1e-6)),
            }
            for step in ("venue_presence", "venue_merge"):
                self._run(con, step, _sql("contacts", step, **values))
            return self._finish(
                self._fetch(con, "venue_result", _sql("contacts", "venue_result", **values)), schema
            )

    # ------------------------------------------------------------ vehicles

    def vehicle_contacts(self, travel: Source, cases: list[CaseAnchor], params: VehicleParams) -> pa.Table:
        """See `TracingEngine.vehicle_contacts`. Seats give rows by their leading number (`12A` →
        12); a seat without a row (`无座`) matches only by carriage or vehicle."""
        if params.train not in ("carriage", "rows") or params.coach not in ("vehicle", "rows"):
            raise Invalid(
                "train must be carriage|rows and coach vehicle|rows",
                [ErrorDetail("params", "unknown rule", f"{params.train}/{params.coach}")],
            )
        with self._connect() as con:
            opened = sources.open_source(con, travel, label="travel records")
            if not opened.empty:
                opened.require("person_id", "mode", "number", "date")
                sources.type_csv(con, opened, ids=[("person_id",)], dates=("date",))
            kind = self._id_kind(opened, "person_id", [c.person_id for c in cases])
            schema = pa.schema(
                [
                    ("case_person_id", _as_id_type(kind)),
                    ("person_id", _as_id_type(kind)),
                    ("mode", pa.string()),
                    ("number", pa.string()),
                    ("date", pa.date32()),
                    ("carriage", pa.string()),
                    ("seat", pa.string()),
                    ("case_seat", pa.string()),
                ]
            )
            rows = self._cases_table(
                con, kind, cases, int(round(params.lookback_days * DAY)), with_dates=True
            )
            if opened.empty or not rows:
                return schema.empty_table()
            q = sources.quote
            values = {
                "src": opened.name,
                "pid": opened.id_sql("person_id"),
                "mode": q("mode"),
                "number": q("number"),
                "date": q("date"),
                "carriage": q("carriage") if opened.has("carriage") else "NULL",
                "seat": q("seat") if opened.has("seat") else "NULL",
                "aircraft_rows": int(params.aircraft_rows),
                "train_rows": int(params.train_rows),
                "coach_rows": int(params.coach_rows),
                "train_carriage": "true" if params.train == "carriage" else "false",
                "coach_vehicle": "true" if params.coach == "vehicle" else "false",
            }
            self._run(con, "travel", _sql("contacts", "travel", **values))
            return self._finish(
                self._fetch(con, "vehicle_result", _sql("contacts", "vehicle_result", **values)), schema
            )

    # ------------------------------------------------------------ secondary contacts

    def secondary_contacts(self, edges: Source, exposures: list[Exposure]) -> pa.Table:
        """See `TracingEngine.secondary_contacts`. Edges are undirected; a close contact given
        twice counts from the later exposure."""
        with self._connect() as con:
            opened = sources.open_source(con, edges, label="contact edges")
            if not opened.empty:
                opened.require("person_id", "other_id", "setting")
                sources.type_csv(con, opened, ids=[("person_id", "other_id")])
            kinds = {opened.ids(c) for c in ("person_id", "other_id") if opened.has(c)}
            kind = (
                ("str" if "str" in kinds else "int")
                if kinds
                else ("str" if any(isinstance(x.person_id, str) for x in exposures) else "int")
            )
            schema = secondary_schema(kind)
            latest: dict[Any, int] = {}
            for x in exposures:
                for pid in sources.id_values([x.person_id], kind):
                    latest[pid] = max(latest.get(pid, _us(x.since, "since")), _us(x.since, "since"))
            if opened.empty or not latest:
                return schema.empty_table()
            con.register(
                "_exp_arrow",
                pa.table(
                    {
                        "pid": pa.array(list(latest), _as_id_type(kind)),
                        "since": pa.array(list(latest.values()), pa.int64()),
                    }
                ),
            )
            con.execute("CREATE TEMP TABLE _exp AS SELECT * FROM _exp_arrow")
            cast = "BIGINT" if kind == "int" else "VARCHAR"
            values = {
                "src": opened.name,
                "a": f"CAST({sources.quote('person_id')} AS {cast})",
                "b": f"CAST({sources.quote('other_id')} AS {cast})",
                "setting": sources.quote("setting"),
            }
            return self._finish(
                self._fetch(con, "secondary", _sql("contacts", "secondary_result", **values)), schema
            )

    # ------------------------------------------------------------ trajectory

    def trajectory(
        self, stays: Source, person_id: PersonId, start: dt.datetime, end: dt.datetime, grid: Grid
    ) -> pa.Table:
        """See `TracingEngine.trajectory`. Exact duplicate stays are listed once."""
        lo, hi = _us(start, "start"), _us(end, "end")
        with self._connect() as con:
            opened = self._open_stays(con, stays)
            kind = self._id_kind(opened, "person_id", [person_id])
            cell_type = (
                pa.int64()
                if not opened.has("cell_id")
                else pa.int64()
                if opened.type("cell_id") in sources.INTEGER_TYPES
                else pa.string()
            )
            schema = pa.schema(
                [
                    ("start", TS),
                    ("end", TS),
                    ("lon", pa.float64()),
                    ("lat", pa.float64()),
                    ("cell_id", cell_type),
                    ("minutes", pa.float64()),
                ]
            )
            ids = sources.id_values([person_id], kind)
            if opened.empty or not ids or hi <= lo:
                return schema.empty_table()
            clock = Clock(self.timezone, start, end)
            has_pos = opened.has("lon") and opened.has("lat")
            values = {
                "src": opened.name,
                "pid": opened.id_sql("person_id"),
                "person": literal(ids[0]),
                "s": clock.us(opened, "start"),
                "e": clock.us(opened, "end"),
                "lon": sources.quote("lon") + "::DOUBLE" if has_pos else "CAST(NULL AS DOUBLE)",
                "lat": sources.quote("lat") + "::DOUBLE" if has_pos else "CAST(NULL AS DOUBLE)",
                "cell": self._cell(opened, grid),
                "pre": f"{clock.raw_after(opened, 'end', lo)} AND {clock.raw_before(opened, 'start', hi)}",
                "lo": lo,
                "hi": hi,
            }
            return self._finish(
                self._fetch(con, "trajectory", _sql("contacts", "trajectory_result", **values)), schema
            )
