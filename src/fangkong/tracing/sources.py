"""Tracing inputs for DuckDB: a path (Parquet file, folder or glob of Parquet files, CSV file
or glob) or an Arrow table becomes a named relation with checked, normalised columns.

Headers are matched ignoring case and surrounding spaces; other columns are ignored. A missing
column is an `Invalid` error naming the column and the file. Parquet and Arrow columns keep their
types (a timestamp without a zone is local time of the engine's zone). CSV files are read as text
and converted once into a temporary table: times with ISO 8601 zones (`Z`, `+08`, `+0800`,
`+08:00`) are taken as written, naive times as local time; ids are integers when every value is
an integer (so `003` is `3`), text otherwise — the rule of docs/movement-data.md.
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import itertools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import duckdb
import pyarrow as pa

from fangkong.errors import ErrorDetail, Invalid

SourceLike = Union[str, Path, pa.Table]

PARQUET = (".parquet", ".pq")
CSV = (".csv", ".csv.gz", ".tsv", ".txt")
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
TEXT_TYPES = {"VARCHAR"}
_counter = itertools.count()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The first row of a query (all of its result read, as DuckDB 2 requires); (None,) if none."""
    rows = con.execute(sql).fetchall()
    return tuple(rows[0]) if rows else (None,)


def literal(value: object) -> str:
    """A SQL literal for an int, float or str."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"no SQL literal for {value!r}")
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


@dataclass
class Opened:
    """One input as a relation `name` with lower-case column names and their DuckDB types."""

    label: str
    name: str
    columns: dict[str, str] = field(default_factory=dict)
    csv: bool = False
    empty: bool = False  # a 0-byte file: no columns, no rows
    files: list[str] = field(default_factory=list)  # CSV files, for error messages

    def has(self, column: str) -> bool:
        return column in self.columns

    def typed(self, column: str) -> bool:
        """The column exists and has a type (not all-null without one)."""
        return column in self.columns and self.columns[column].strip('"') != "NULL"

    def type(self, column: str) -> str:
        return self.columns[column]

    def require(self, *names: str, what: str = "") -> None:
        missing = [n for n in names if n not in self.columns]
        if missing and not self.empty:
            found = ", ".join(self.columns) or "none"
            raise Invalid(
                f"{self.label}: missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}{f' ({what})' if what else ''}; found: {found}",
                [ErrorDetail(n, "missing required column", self.label) for n in missing],
                code="invalid_file",
            )

    def ids(self, column: str) -> str:
        """`int` or `str`: how this id column compares."""
        kind = self.columns.get(column)
        if kind is None or kind in INTEGER_TYPES or kind.strip('"') == "NULL":
            return "int"
        if kind in TEXT_TYPES:
            return "str"
        raise Invalid(
            f"{self.label}: column {column} must hold integers or text, not {kind}",
            [ErrorDetail(column, f"unsupported type {kind}", self.label)],
            code="invalid_file",
        )

    def id_sql(self, column: str) -> str:
        kind = self.ids(column)
        return f"CAST({quote(column)} AS {'BIGINT' if kind == 'int' else 'VARCHAR'})"


# ---------------------------------------------------------------- opening


def list_files(path: str) -> tuple[list[str], str]:
    """The files a local path names and their format (parquet | csv): a file, a folder (its
    Parquet and CSV files, hidden and `_` entries skipped) or a glob; one format only.
    Both engines read local paths by these rules."""
    if any(ch in path for ch in "*?["):
        files = sorted(f for f in globmod.glob(path, recursive=True) if Path(f).is_file())
        if not files:
            raise Invalid(f"{path}: no files match", [ErrorDetail("file", "no files match", path)])
    elif Path(path).is_dir():
        files = [
            str(p)
            for p in sorted(Path(path).rglob("*"))
            if p.is_file()
            and file_format(p.name)
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        ]
        if not files:
            raise Invalid(
                f"{path}: no Parquet or CSV files in this folder",
                [ErrorDetail("file", "no Parquet or CSV files", path)],
            )
    elif Path(path).is_file():
        files = [path]
    else:
        raise Invalid(f"{path}: file not found", [ErrorDetail("file", "file not found", path)])
    formats = {file_format(f) or _sniff(f) for f in files}
    if len(formats) > 1:
        raise Invalid(f"{path}: mixes Parquet and CSV files", [ErrorDetail("file", "mixed formats", path)])
    return files, formats.pop()


def file_format(name: str) -> str | None:
    """parquet or csv by the file name's ending, else None."""
    lower = name.lower()
    if lower.endswith(PARQUET):
        return "parquet"
    if lower.endswith(CSV):
        return "csv"
    return None


def _sniff(path: str) -> str:
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == b"PAR1" else "csv"


def _normalise_names(label: str, names: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in names:
        norm = name.strip().lower()
        if norm in seen:
            raise Invalid(
                f"{label}: column {norm} is named twice",
                [ErrorDetail(norm, "named twice", label)],
                code="invalid_file",
            )
        seen.add(norm)
        out.append((name, norm))
    return out


def _sql_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(literal(i) for i in items) + "]"


def open_source(con: duckdb.DuckDBPyConnection, source: SourceLike, *, label: str = "input") -> Opened:
    """Register `source` on `con` as a relation with normalised column names."""
    name = f"_src{next(_counter)}"
    if isinstance(source, pa.Table):
        raw = name + "_arrow"
        con.register(raw, source)
        return _view(con, name, raw, f"{label} (Arrow table)")
    path = str(source)
    files, fmt = list_files(path)
    label = path
    if fmt == "parquet":
        glob_like = path if (any(ch in path for ch in "*?[") and len(files) > 1) else None
        target = literal(glob_like) if glob_like else _sql_list(files)
        if len(files) > 1:
            _check_parquet_schemas(con, files, label)
        return _view(con, name, f"read_parquet({target})", label)
    nonempty = [f for f in files if Path(f).stat().st_size > 0]
    if not nonempty:
        return Opened(label, name, {}, csv=True, empty=True)
    con.execute(
        f"CREATE TEMP TABLE {name}_csv AS SELECT * FROM read_csv({_sql_list(nonempty)}, header = true,"
        " all_varchar = true, union_by_name = true)"
    )
    opened = _view(con, name, f"{name}_csv", label)
    opened.csv = True
    opened.files = nonempty
    return opened


def _view(con: duckdb.DuckDBPyConnection, name: str, relation: str, label: str) -> Opened:
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error as exc:
        raise Invalid(
            f"{label}: cannot be read ({_first_line(exc)})",
            [ErrorDetail("file", "cannot be read", label)],
            code="invalid_file",
        ) from None
    pairs = _normalise_names(label, [str(r[0]) for r in described])
    types = {str(r[0]): str(r[1]) for r in described}
    select = ", ".join(f"{quote(raw)} AS {quote(norm)}" for raw, norm in pairs) or "*"
    con.execute(f"CREATE TEMP VIEW {name} AS SELECT {select} FROM {relation}")
    return Opened(label, name, {norm: types[raw] for raw, norm in pairs})


def _check_parquet_schemas(con: duckdb.DuckDBPyConnection, files: list[str], label: str) -> None:
    """Every file of a multi-file source has the columns of the first (named when not)."""
    rows = con.execute(
        f"SELECT file_name, list(lower(trim(name))) FROM parquet_schema({_sql_list(files)})"
        " WHERE num_children IS NULL OR num_children = 0 GROUP BY file_name"
    ).fetchall()
    schemas = {str(f): set(cols) for f, cols in rows}
    first = schemas.get(files[0], set())
    for f in files[1:]:
        missing = sorted(first - schemas.get(f, set()))
        if missing:
            raise Invalid(
                f"{f}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                f" (other files of {label} have {'them' if len(missing) > 1 else 'it'})",
                [ErrorDetail(c, "missing column", f) for c in missing],
                code="invalid_file",
            )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---------------------------------------------------------------- CSV typing


def type_csv(
    con: duckdb.DuckDBPyConnection,
    opened: Opened,
    *,
    ids: Sequence[Sequence[str]] = (),
    times: Sequence[str] = (),
    numbers: Sequence[str] = (),
    dates: Sequence[str] = (),
) -> None:
    """Give a CSV source's text columns their types, in place (one pass, then a check).

    `ids` are groups of id columns sharing one type (int when every value of the group is an
    integer); `times` become TIMESTAMPTZ (naive → the connection's TimeZone), `numbers` DOUBLE,
    `dates` DATE. A value that cannot be converted is an `Invalid` naming file, row and column.
    """
    if not opened.csv or opened.empty:
        return
    table = f"{opened.name}_csv"
    exprs: dict[str, str] = {}
    for group in ids:
        present = [c for c in group if opened.has(c)]
        if not present:
            continue
        checks = " AND ".join(
            f"bool_and({quote(c)} IS NULL OR regexp_full_match(trim({quote(c)}), '[+-]?[0-9]{{1,18}}'))"
            for c in present
        )
        integer = one(con, f"SELECT {checks} FROM {table}")[0] is not False
        for c in present:
            exprs[c] = f"CAST(trim({quote(c)}) AS BIGINT)" if integer else f"trim({quote(c)})"
    kinds = (
        [(c, "TIMESTAMPTZ", "not an ISO 8601 time") for c in times]
        + [(c, "DOUBLE", "not a number") for c in numbers]
        + [(c, "DATE", "not a date (YYYY-MM-DD)") for c in dates]
    )
    for c, kind, reason in kinds:
        if opened.has(c):
            val = f"nullif(trim({quote(c)}), '')"
            bad = f"{val} IS NOT NULL AND TRY_CAST({val} AS {kind}) IS NULL"
            if one(con, f"SELECT count(*) FROM {table} WHERE {bad}")[0]:
                raise _bad_value(con, opened, c, bad, reason)
            exprs[c] = f"CAST({val} AS {kind})"
    if not exprs:
        return
    select = ", ".join(f"{exprs.get(c, quote(c))} AS {quote(c)}" for c in opened.columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select} FROM {table}")
    described = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    opened.columns = {str(r[0]): str(r[1]) for r in described}


def _bad_value(con: duckdb.DuckDBPyConnection, opened: Opened, column: str, bad: str, reason: str) -> Invalid:
    """The first bad value of a CSV column with its file and row (read again on one thread, so
    that rows are numbered in file order: row 1 is the first line after the header)."""
    threads = one(con, "SELECT current_setting('threads')")[0]
    con.execute("SET threads = 1")
    try:
        file, row, value = one(
            con,
            f"SELECT filename, rn, {quote(column)} FROM (SELECT *, row_number() OVER (PARTITION BY filename)"
            f" AS rn FROM read_csv({_sql_list(opened.files)}, header = true, all_varchar = true,"
            f" union_by_name = true, filename = true)) WHERE {bad} ORDER BY filename, rn LIMIT 1",
        )
    finally:
        con.execute(f"SET threads = {int(threads)}")
    return Invalid(
        f"{file}: row {row} column {column}: {reason}: {value!r}",
        [ErrorDetail(column, reason, value, int(row) if row is not None else None)],
        code="invalid_file",
    )


def median_position(stays: SourceLike, timezone: str = "UTC") -> tuple[float, float] | None:
    """The median longitude and latitude of the stays (None without positions): picks the
    UTM zone when none is given."""
    con = duckdb.connect()
    try:
        con.execute(f"SET TimeZone = {literal(timezone)}")
        opened = open_source(con, stays, label="stays")
        if opened.empty or not (opened.has("lon") and opened.has("lat")):
            return None
        type_csv(con, opened, numbers=("lon", "lat"))
        lon, lat = one(con, f'SELECT median("lon"), median("lat") FROM {opened.name}')
        return None if lon is None or lat is None else (float(lon), float(lat))
    finally:
        con.close()


# ---------------------------------------------------------------- times


def fixed_offset_us(tz: str, lo: dt.datetime, hi: dt.datetime) -> int | None:
    """The zone's UTC offset in µs when it does not change between lo and hi (± 2 days)."""
    zone = zoneinfo.ZoneInfo(tz)
    start, stop = lo - dt.timedelta(days=2), hi + dt.timedelta(days=2)
    if stop - start > dt.timedelta(days=3660):
        return None
    step = dt.timedelta(hours=1)
    offsets: set[dt.timedelta | None] = set()
    t = start
    while t <= stop and len(offsets) <= 1:
        offsets.add(t.astimezone(zone).utcoffset())
        t += step
    if len(offsets) != 1:
        return None
    offset = offsets.pop()
    return None if offset is None else int(offset.total_seconds() * 1_000_000)


@dataclass(frozen=True)
class Clock:
    """How a source's time columns become UTC epoch microseconds, for one query's span."""

    tz: str
    lo: dt.datetime
    hi: dt.datetime

    def us(self, opened: Opened, column: str) -> str:
        kind = opened.type(column)
        col = quote(column)
        if "WITH TIME ZONE" in kind:
            return f"epoch_us({col})"
        if kind.startswith("TIMESTAMP"):
            offset = fixed_offset_us(self.tz, self.lo, self.hi)
            if offset is not None:
                return f"(epoch_us({col}) - {offset})"
            return f"epoch_us(CAST({col} AS TIMESTAMPTZ))"
        if kind in TEXT_TYPES or kind == "DATE":
            return f"epoch_us(CAST({col} AS TIMESTAMPTZ))"
        raise Invalid(
            f"{opened.label}: column {column} must hold times, not {kind}",
            [ErrorDetail(column, f"not a time column ({kind})", opened.label)],
            code="invalid_file",
        )

    def raw_after(self, opened: Opened, column: str, us: int) -> str:
        """A predicate on the raw column, `column > us` or weaker, that Parquet can prune on."""
        return self._raw(opened, column, us, ">", -1)

    def raw_before(self, opened: Opened, column: str, us: int) -> str:
        return self._raw(opened, column, us, "<", +1)

    def _raw(self, opened: Opened, column: str, us: int, op: str, widen: int) -> str:
        kind = opened.type(column)
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
        if "WITH TIME ZONE" in kind:
            return f"{quote(column)} {op} TIMESTAMPTZ '{moment.isoformat()}'"
        if kind.startswith("TIMESTAMP"):
            local = moment.replace(tzinfo=None) + dt.timedelta(days=widen)  # any zone is within a day
            return f"{quote(column)} {op} TIMESTAMP '{local.isoformat()}'"
        return "true"


def id_values(values: Iterable[Any], kind: str) -> list[Any]:
    """Ids converted to the type of the data's id column (`int` or `str`); an id that cannot be
    an integer matches nothing in integer data and is dropped."""
    out: list[Any] = []
    for v in values:
        if kind == "str":
            out.append(str(v))
            continue
        try:
            out.append(int(str(v).strip()) if not isinstance(v, int) else v)
        except ValueError:
            continue
    return out
