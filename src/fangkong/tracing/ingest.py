"""Movement files → the platform's Parquet store (formats and rules: docs/movement-data.md).

Pure functions over files and Arrow tables; the database's part (which persons and places
exist) comes in as a set or a callable.

- `validate_stays` / `validate_checkins` / `validate_travel`: a source (CSV, Parquet or an
  Arrow table) → `(good, problems)`: the rows that passed every check, normalised and without
  duplicates, and one `ErrorDetail` per problem with its 1-based data row and its column as
  written. A file that cannot be used at all (empty, no data rows, a required column
  missing) raises `Invalid`. `write_report` writes the problems as the import report CSV.
- `store_stays` / `store_checkins` / `store_travel`: good rows →
  `<store_dir>/<kind>/day=YYYY-MM-DD/part-<batch_id>.parquet`, idempotently (under a lock,
  only rows not yet stored for their day are written) and atomically (temporary file, fsync,
  rename). `ingest` does both and writes the report.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import os
import re
import uuid
import zoneinfo
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fangkong.errors import ErrorDetail, Invalid
from fangkong.imports import report
from fangkong.tracing.ports import PersonId, Source

TS = pa.timestamp("us", tz="UTC")
KnownIds = Union[Collection[PersonId], Callable[[list[PersonId]], Collection[PersonId]], None]
IdType = Literal["auto", "int", "str"]
MODES = {
    "flight": ("flight", "plane", "air", "航班", "飞机", "民航"),
    "train": ("train", "rail", "railway", "火车", "列车", "高铁", "动车"),
    "coach": ("coach", "bus", "长途汽车", "客车", "大巴"),
}
_MODE_OF = {alias: mode for mode, aliases in MODES.items() for alias in aliases}
# A time of day followed by a zone (Z, ±hh, ±hhmm, ±hh:mm); anything else is naive or bad.
_ZONED = r"\d{2}:?\d{2}(?::?\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_INT = r"^[+-]?\d{1,18}$"
_BATCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


# ---------------------------------------------------------------- reading a source


@dataclass
class _Sheet:
    """The columns of a source (canonical name → array), each row's 1-based number, the
    headers as written, and the problems collected so far (row index → details)."""

    columns: dict[str, pa.Array]
    rows: np.ndarray[Any, np.dtype[np.int64]]
    header: dict[str, str]
    bad: np.ndarray[Any, np.dtype[np.bool_]]
    problems: list[tuple[int, int, ErrorDetail]]

    def flag(self, name: str, where: Any, reason: str | list[str], values: pa.Array | None = None) -> None:
        """Record `reason` for every row where `where` (a numpy or Arrow boolean array; null is
        false) is true; a list gives one reason per row."""
        mask = where if isinstance(where, np.ndarray) else _np(pc.fill_null(where, False))
        if not mask.any():
            return
        if values is None:
            values = self.columns[name]
        order = list(self.header).index(name) if name in self.header else len(self.header)
        for k in np.flatnonzero(mask):
            why = reason if isinstance(reason, str) else reason[k]
            detail = ErrorDetail(self.header.get(name, name), why, values[int(k)].as_py(), int(self.rows[k]))
            self.problems.append((int(self.rows[k]), order, detail))
        self.bad |= mask

    def details(self) -> list[ErrorDetail]:
        return [d for _, _, d in sorted(self.problems, key=lambda p: (p[0], p[1]))]


def _np(array: Any) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _read(source: Source) -> tuple[pa.Table, np.ndarray[Any, np.dtype[np.int64]], list[ErrorDetail]]:
    """A table of the source (CSV: every column a string), the row numbers, and the lines
    that could not be read."""
    if isinstance(source, pa.Table):
        return source, np.arange(1, source.num_rows + 1, dtype=np.int64), []
    path = Path(source)
    if path.suffix.lower() in (".parquet", ".pq") or path.is_dir():
        table = pq.read_table(path)
        return table, np.arange(1, table.num_rows + 1, dtype=np.int64), []
    if path.stat().st_size == 0:
        raise Invalid("the file is empty", [ErrorDetail("file", "the file is empty")])
    names = _header(path)
    skipped: list[tuple[int, int, int, str]] = []

    def handler(row: Any) -> str:
        skipped.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    try:  # serially: only then does Arrow know the line number of a line it cannot read
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise Invalid("the file cannot be read as CSV", [ErrorDetail("file", str(exc)[:200])]) from None
    lost = np.array([n - 1 for n, *_ in skipped], dtype=np.int64)  # data rows = line - 1
    every = np.arange(1, table.num_rows + len(lost) + 1, dtype=np.int64)
    message = "has {} values but the header has {} columns"
    problems = [
        ErrorDetail("", message.format(got, want), text[:200], n - 1) for n, want, got, text in skipped
    ]
    return table, every[~np.isin(every, lost)], problems


def _header(path: Path) -> list[str]:
    """The names in the first line of a CSV file (gzip when named .gz)."""
    with pa.input_stream(str(path), compression="detect") as stream:
        first = stream.read(1 << 20).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "the file is not UTF-8", [ErrorDetail("file", "the header is not UTF-8 text")]
        ) from None
    try:
        names = next(csv.reader([line]), [])
    except csv.Error as exc:
        raise Invalid("the header line cannot be read", [ErrorDetail("file", str(exc))]) from None
    if not any(n.strip() for n in names):
        raise Invalid("the file has no header", [ErrorDetail("file", "the first line is empty")])
    return names


def _sheet(source: Source, required: Sequence[str], optional: Sequence[str], kind: str) -> _Sheet:
    """Read a source, match its header (case and surrounding spaces ignored), refuse it as
    a whole when it cannot be used, and drop blank rows."""
    table, rows, unreadable = _read(source)
    header: dict[str, str] = {}
    for name in table.column_names:
        key = name.strip().lower()
        if key in header:
            raise Invalid(
                f"the column {key} is given twice", [ErrorDetail(name, f"the column {key} is given twice")]
            )
        header[key] = name
    missing = [c for c in required if c not in header]
    if missing:
        raise Invalid(
            f"missing required columns: {', '.join(missing)}",
            [ErrorDetail(c, f"required column is missing ({kind}: {', '.join(required)})") for c in missing],
        )
    wanted = [c for c in (*required, *optional) if c in header]
    columns = {c: table[header[c]].combine_chunks() for c in wanted}
    for c, col in columns.items():
        if _is_text(col):
            trimmed = pc.utf8_trim_whitespace(col)
            columns[c] = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, col.type), trimmed)
    blank = np.ones(table.num_rows, dtype=bool)
    for col in columns.values():
        blank &= _np(col.is_null())
    if table.num_rows and blank.all() or (table.num_rows == 0 and not unreadable):
        raise Invalid(
            "the file has a header but no data rows", [ErrorDetail("file", "no data rows below the header")]
        )
    keep = pa.array(~blank)
    return _Sheet(
        {c: col.filter(keep) for c, col in columns.items()},
        rows[~blank],
        {c: header[c] for c in wanted},
        np.zeros(int((~blank).sum()), dtype=bool),
        [(d.row or 0, -1, d) for d in unreadable],
    )


def _required(sheet: _Sheet, *names: str) -> None:
    for name in names:
        if name in sheet.columns:
            sheet.flag(name, sheet.columns[name].is_null(), "required")


def _is_text(col: pa.Array) -> bool:
    return bool(pa.types.is_string(col.type) or pa.types.is_large_string(col.type))


def _ids(sheet: _Sheet, name: str, id_type: IdType, known: KnownIds, what: str) -> pa.Array:
    """Ids as int64 or string. `auto`: the type of the known set's elements, else int64 when
    every value is an integer, else string."""
    col = sheet.columns[name]
    if id_type == "auto" and isinstance(known, Collection) and known:
        id_type = "int" if all(isinstance(k, int) for k in known) else "str"
    if _is_text(col):
        is_int = pc.fill_null(pc.match_substring_regex(col, _INT), True)
        if id_type == "auto":
            id_type = "int" if pc.all(is_int).as_py() else "str"
        if id_type == "int":
            sheet.flag(name, pc.invert(is_int), f"not an integer {what} id")
            col = pc.cast(pc.if_else(is_int, col, pa.scalar(None, col.type)), pa.int64())
    elif pa.types.is_integer(col.type):
        col = pc.cast(col, pa.int64()) if id_type != "str" else pc.cast(col, pa.string())
    else:
        sheet.flag(name, np.ones(len(col), dtype=bool), f"not a {what} id")
        return pa.nulls(len(col), pa.string())
    if known is not None:
        valid = pc.drop_null(col)
        distinct = pc.unique(valid).to_pylist()
        found = set(known(distinct)) if callable(known) else known
        value_set = pa.array([i for i in distinct if i in found], type=col.type)
        unknown = pc.and_(pc.invert(pc.is_in(col, value_set=value_set)), pc.is_valid(col))
        sheet.flag(name, unknown, f"unknown {what}")
    return col


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz


def _times(sheet: _Sheet, name: str, tz: str | dt.tzinfo, require_zone: bool) -> pa.Array:
    """ISO 8601 times → timestamp[us, UTC]. A time without a zone is local time of `tz`, or an
    error when `require_zone`."""
    col = sheet.columns[name]
    n = len(col)
    zone = _zone(tz)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is not None:
            return pc.cast(col, TS)
        if require_zone:
            sheet.flag(name, col.is_valid(), "time without a zone")
            return pa.nulls(n, TS)
        col = pc.cast(pc.cast(col, pa.timestamp("us")), pa.string())
    if not _is_text(col):
        sheet.flag(name, col.is_valid(), "not a time")
        return pa.nulls(n, TS)
    zoned = pc.fill_null(pc.match_substring_regex(col, _ZONED), True)
    key = getattr(zone, "key", None)
    if key is not None:
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            naive = pc.if_else(zoned, pa.scalar(None, col.type), col)
            if require_zone and pc.any(pc.is_valid(naive)).as_py():
                raise pa.ArrowInvalid("naive times")  # report them row by row below
            local = pc.assume_timezone(pc.cast(naive, pa.timestamp("us")), key)
            aware = pc.cast(pc.if_else(zoned, col, pa.scalar(None, col.type)), TS)
            return pc.if_else(zoned, aware, pc.cast(local, TS))
    # Row by row, to name every bad value (and for zones that Arrow does not know).
    values: list[int | None] = []
    reasons: list[str] = []
    for text in col.to_pylist():
        micros, reason = _parse_time(text, zone, require_zone)
        values.append(micros)
        reasons.append(reason)
    sheet.flag(name, np.array([r != "" for r in reasons], dtype=bool), reasons)
    return pa.array(values, type=pa.int64()).cast(TS)


def _parse_time(text: str | None, zone: dt.tzinfo, require_zone: bool) -> tuple[int | None, str]:
    if text is None:
        return None, ""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None, "not an ISO 8601 time"
    if value.tzinfo is None:
        if require_zone:
            return None, "time without a zone"
        local = value.replace(tzinfo=zone)
        if local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != value:
            return None, "does not exist in local time (clock change)"
        value = local
    delta = value.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return delta // dt.timedelta(microseconds=1), ""


def _floats(sheet: _Sheet, name: str, low: float, high: float) -> pa.Array:
    col = sheet.columns[name]
    if _is_text(col):
        try:
            col = pc.cast(col, pa.float64())
        except pa.ArrowInvalid:
            parsed: list[float | None] = []
            for text in col.to_pylist():
                try:
                    parsed.append(None if text is None else float(text))
                except ValueError:
                    parsed.append(float("nan"))
            col = pa.array(parsed, type=pa.float64())
    elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        col = pc.cast(col, pa.float64())
    else:
        col = pa.array([float("nan")] * len(col), type=pa.float64())
    raw = sheet.columns[name]
    number = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    given = _np(raw.is_valid())
    finite = np.isfinite(number)
    sheet.flag(name, given & ~finite, "not a number", raw)
    sheet.flag(name, finite & ((number < low) | (number > high)), f"outside [{low:g}, {high:g}]", raw)
    return pc.if_else(pa.array(finite), col, pa.scalar(None, pa.float64()))


def _after(sheet: _Sheet, first: pa.Array, second: pa.Array, name: str, reason: str) -> None:
    sheet.flag(name, pc.less_equal(second, first), reason)


def _good(
    sheet: _Sheet, columns: dict[str, pa.Array], order: list[str]
) -> tuple[pa.Table, list[ErrorDetail]]:
    table = pa.table(columns).filter(pa.array(~sheet.bad))
    table = table.group_by(list(columns), use_threads=False).aggregate([]).select(list(columns))
    table = table.take(pc.sort_indices(table, [(c, "ascending") for c in order]))
    return table, sheet.details()


# ---------------------------------------------------------------- validation


def validate_stays(
    source: Source,
    *,
    known_persons: KnownIds = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    require_zone: bool = False,
    id_type: IdType = "auto",
) -> tuple[pa.Table, list[ErrorDetail]]:
    """Stays `person_id, start, end` with `lon, lat` and/or `cell_id`. Returns the good rows
    (`person_id, start, end[, lon, lat][, cell_id]`, sorted by person_id, start) and the
    problems. Each row needs a position: both lon and lat, or a cell_id."""
    sheet = _sheet(source, ("person_id", "start", "end"), ("lon", "lat", "cell_id"), "stays")
    has_lonlat = "lon" in sheet.columns or "lat" in sheet.columns
    if has_lonlat and not ("lon" in sheet.columns and "lat" in sheet.columns):
        other = "lat" if "lon" in sheet.columns else "lon"
        raise Invalid(f"missing required column: {other}", [ErrorDetail(other, "lon and lat come together")])
    if not has_lonlat and "cell_id" not in sheet.columns:
        raise Invalid(
            "missing a position: lon and lat, or cell_id",
            [ErrorDetail("lon", "required column is missing (or give cell_id)")],
        )
    _required(sheet, "person_id", "start", "end")
    person = _ids(sheet, "person_id", id_type, known_persons, "person")
    start = _times(sheet, "start", tz, require_zone)
    end = _times(sheet, "end", tz, require_zone)
    _after(sheet, start, end, "end", "end must be after start")
    columns: dict[str, pa.Array] = {"person_id": person, "start": start, "end": end}
    n = len(person)
    no_cell = np.ones(n, dtype=bool)
    if "cell_id" in sheet.columns:
        cell = sheet.columns["cell_id"]
        columns["cell_id"] = cell if _is_text(cell) else pc.cast(cell, pa.string())
        no_cell = _np(cell.is_null())
    if has_lonlat:
        lon_given = _np(sheet.columns["lon"].is_valid())
        lat_given = _np(sheet.columns["lat"].is_valid())
        columns["lon"] = _floats(sheet, "lon", -180.0, 180.0)
        columns["lat"] = _floats(sheet, "lat", -90.0, 90.0)
        sheet.flag("lon", ~lon_given & (lat_given | no_cell), "required")
        sheet.flag("lat", ~lat_given & (lon_given | no_cell), "required")
    else:
        sheet.flag("cell_id", no_cell, "required")
    order = [c for c in ("person_id", "start", "end", "lon", "lat", "cell_id") if c in columns]
    return _good(sheet, {c: columns[c] for c in order}, ["person_id", "start", "end"])


def validate_checkins(
    source: Source,
    *,
    known_persons: KnownIds = None,
    known_places: KnownIds = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    require_zone: bool = False,
    id_type: IdType = "auto",
    place_id_type: IdType = "auto",
) -> tuple[pa.Table, list[ErrorDetail]]:
    """Venue check-ins `person_id, place_id, time[, leave_time]` (leave_time, when given,
    after time). Good rows sorted by person_id, time."""
    sheet = _sheet(source, ("person_id", "place_id", "time"), ("leave_time",), "check-ins")
    _required(sheet, "person_id", "place_id", "time")
    columns = {
        "person_id": _ids(sheet, "person_id", id_type, known_persons, "person"),
        "place_id": _ids(sheet, "place_id", place_id_type, known_places, "place"),
        "time": _times(sheet, "time", tz, require_zone),
    }
    if "leave_time" in sheet.columns:
        columns["leave_time"] = _times(sheet, "leave_time", tz, require_zone)
        _after(sheet, columns["time"], columns["leave_time"], "leave_time", "leave_time must be after time")
    return _good(sheet, columns, ["person_id", "time", "place_id"])


def validate_travel(
    source: Source,
    *,
    known_persons: KnownIds = None,
    id_type: IdType = "auto",
) -> tuple[pa.Table, list[ErrorDetail]]:
    """Travel records `person_id, mode (flight|train|coach), number, date[, carriage, seat]`.
    Modes also accept common aliases (航班, 火车, 高铁, 长途汽车 …); numbers are upper-cased
    without spaces; carriages written as digits lose leading zeros (`05` → `5`); a flight
    seat is a row and a letter (`12A`). Good rows sorted by person_id, date, number."""
    sheet = _sheet(source, ("person_id", "mode", "number", "date"), ("carriage", "seat"), "travel records")
    _required(sheet, "person_id", "mode", "number", "date")
    columns: dict[str, pa.Array] = {"person_id": _ids(sheet, "person_id", id_type, known_persons, "person")}
    empty = pa.nulls(len(sheet.rows), pa.string())
    text = {
        c: pc.cast(sheet.columns.get(c, empty), pa.string())
        for c in ("mode", "number", "date", "carriage", "seat")
    }
    modes = [None if m is None else _MODE_OF.get(m.lower(), "") for m in text["mode"].to_pylist()]
    sheet.flag("mode", np.array([m == "" for m in modes]), "mode must be flight, train or coach")
    columns["mode"] = pa.array([m or None for m in modes], type=pa.string())
    columns["number"] = pc.utf8_upper(pc.replace_substring_regex(text["number"], r"\s+", ""))
    sheet.flag("number", pc.greater(pc.utf8_length(columns["number"]), 16), "longer than 16 characters")
    dates: list[dt.date | str | None] = []
    for value in text["date"].to_pylist():
        try:
            dates.append(None if value is None else dt.date.fromisoformat(value))
        except ValueError:
            dates.append("")
    sheet.flag("date", np.array([d == "" for d in dates]), "not a date (YYYY-MM-DD)")
    columns["date"] = pa.array([d or None for d in dates], type=pa.date32())
    columns["carriage"] = pc.replace_substring_regex(text["carriage"], r"^0+(\d)", r"\1")
    columns["seat"] = pc.utf8_upper(pc.replace_substring_regex(text["seat"], r"\s+", ""))
    flight_seat = pc.match_substring_regex(columns["seat"], r"^\d{1,3}[A-Z]$")
    sheet.flag(
        "seat",
        pc.and_(pc.equal(columns["mode"], "flight"), pc.invert(flight_seat)),
        "a flight seat is a row number and a letter (12A)",
    )
    return _good(sheet, columns, ["person_id", "date", "number", "carriage", "seat"])


def write_report(path: Path, problems: Sequence[ErrorDetail]) -> Path:
    """The problems as the import report CSV (`row,column,value,reason`, UTF-8 with BOM)."""
    return report.write(Path(path), problems)


# ---------------------------------------------------------------- the store


@dataclass(frozen=True)
class StoreResult:
    """What one `store_*` call did: rows written, rows already in the store (skipped), and
    the files written."""

    written: int
    duplicates: int
    files: list[Path]


def store_stays(good: pa.Table, store_dir: str | Path, *, batch_id: str) -> StoreResult:
    """Add stays to `<store_dir>/stays/day=<UTC date of start>/part-<batch_id>.parquet`."""
    return _store(good, Path(store_dir) / "stays", batch_id, "start")


def store_checkins(good: pa.Table, store_dir: str | Path, *, batch_id: str) -> StoreResult:
    """Add check-ins to `<store_dir>/checkins/day=<UTC date of time>/part-<batch_id>.parquet`."""
    return _store(good, Path(store_dir) / "checkins", batch_id, "time")


def store_travel(good: pa.Table, store_dir: str | Path, *, batch_id: str) -> StoreResult:
    """Add travel records to `<store_dir>/travel/day=<date>/part-<batch_id>.parquet`."""
    return _store(good, Path(store_dir) / "travel", batch_id, "date")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder/.lock` for the time of one store call (POSIX; elsewhere
    the caller must not store into the same folder concurrently)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _new_rows(rows: pa.Table, parts: list[Path]) -> pa.Table:
    """The distinct rows not already in the Parquet files `parts` (whole rows compared with
    SQL `EXCEPT`, which treats nulls as equal), sorted."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("batch", rows)
        query = "SELECT DISTINCT * FROM batch"
        if parts:
            query += " EXCEPT SELECT * FROM read_parquet($files, hive_partitioning = false)"
        params = {"files": [str(p) for p in parts]} if parts else None
        new = con.sql(f"SELECT * FROM ({query}) ORDER BY ALL", params=params).to_arrow_table()
    finally:
        con.close()
    return new.cast(rows.schema)


def _write_atomic(table: pa.Table, path: Path) -> None:
    """Write to a hidden temporary file in the same folder, flush it to disk, rename it into
    place; on any failure remove the temporary file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _store(good: pa.Table, folder: Path, batch_id: str, day_of: str) -> StoreResult:
    if not _BATCH.match(batch_id):
        raise Invalid(
            "invalid batch_id", [ErrorDetail("batch_id", "letters, digits, _ . - only (≤ 100)", batch_id)]
        )
    if good.num_rows == 0:
        return StoreResult(0, 0, [])
    col = good[day_of]
    days = pc.strftime(col, "%Y-%m-%d") if pa.types.is_timestamp(col.type) else pc.cast(col, pa.string())
    written, files = 0, []
    with _locked(folder):
        for stale in folder.glob("day=*/.*.tmp"):  # left by a process that was killed mid-write
            stale.unlink(missing_ok=True)
        reference = next(iter(sorted(folder.glob("day=*/*.parquet"))), None)
        if reference is not None and not pq.read_schema(reference).equals(good.schema, check_metadata=False):
            found = ", ".join(f"{f.name} {f.type}" for f in pq.read_schema(reference))
            problem = f"the store holds {found}; this file gives {', '.join(good.schema.names)}"
            raise Invalid(f"the {folder.name} store holds other columns", [ErrorDetail("file", problem)])
        for day in pc.unique(days).to_pylist():
            rows = good.filter(pc.equal(days, day))
            part_dir = folder / f"day={day}"
            new = _new_rows(rows, sorted(part_dir.glob("*.parquet")))
            if new.num_rows == 0:
                continue
            part_dir.mkdir(parents=True, exist_ok=True)
            path, k = part_dir / f"part-{batch_id}.parquet", 1
            while path.exists():
                path, k = part_dir / f"part-{batch_id}-{k}.parquet", k + 1
            _write_atomic(new, path)
            written += new.num_rows
            files.append(path)
    return StoreResult(written, good.num_rows - written, files)


# ---------------------------------------------------------------- one call


@dataclass(frozen=True)
class IngestResult:
    good: int
    stored: StoreResult
    problems: list[ErrorDetail]
    report: Path | None


def ingest(
    kind: Literal["stays", "checkins", "travel"],
    source: Source,
    store_dir: str | Path,
    *,
    batch_id: str,
    report_path: Path | None = None,
    **options: Any,
) -> IngestResult:
    """Validate a movement file, store its good rows, and write the report of its problems
    (when `report_path` is given and there are any). `options` go to `validate_<kind>`."""
    validate = {"stays": validate_stays, "checkins": validate_checkins, "travel": validate_travel}[kind]
    store = {"stays": store_stays, "checkins": store_checkins, "travel": store_travel}[kind]
    good, problems = validate(source, **options)
    stored = store(good, store_dir, batch_id=batch_id)
    written = write_report(report_path, problems) if report_path is not None and problems else None
    return IngestResult(good.num_rows, stored, problems, written)
