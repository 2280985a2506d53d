"""The inputs of the Spark engine: opening a source (a local Parquet/CSV file, folder or glob, a
URL handed to Spark, or an Arrow table) as an `Input` with lower-case column names; typing CSV
text as the DuckDB engine does (ids are integers when every value is one, times with a zone as
written, naive times in the engine's zone) and reporting the first bad value by file, row and
column; and the SQL that turns time columns into UTC epoch microseconds.

Functions that need the engine's time zone take the engine and read `engine.timezone` only when
a value needs it (it may come from the settings on first use).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fangkong.errors import ErrorDetail, Invalid
from fangkong.tracing.ports import Grid, PersonId, Source
from fangkong.tracing.projection import cell_sql
from fangkong.tracing.sources import file_format, fixed_offset_us, list_files
from fangkong.tracing.spark.helpers import INTEGER_TYPES, TS, first_line, from_epoch_us, lit, q

if TYPE_CHECKING:
    from fangkong.tracing.spark.engine import SparkEngine

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Text times, as DuckDB's TIMESTAMPTZ cast reads them: a date, optionally a clock time (24:00 is
# the next midnight), optionally a zone right after it (Z, ±hh, ±hhmm, ±hh:mm) or a zone name
# after one space (`UTC`, `Asia/Shanghai`).
_ZONE = "(Z|[+-][0-9]{2}(:?[0-9]{2})?| [A-Za-z][A-Za-z0-9_/+-]*)"
_TIME_SHAPE = (
    f"^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}([ T][0-9]{{1,2}}:[0-9]{{2}}(:[0-9]{{2}}([.][0-9]+)?)?{_ZONE}?)?$"
)
_ZONED = f":[0-9]{{2}}([.][0-9]+)?{_ZONE}$"
_INTEGER = "^[+-]?[0-9]{1,18}$"


# ---------------------------------------------------------------- one input


@dataclass
class Input:
    """One input as a DataFrame with lower-case column names and their Spark types."""

    label: str
    df: DataFrame | None
    types: dict[str, T.DataType] = field(default_factory=dict)
    csv: bool = False
    empty: bool = False  # a 0-byte file: no columns, no rows
    untyped: set[str] = field(default_factory=set)  # all-null Arrow columns without a type
    files: list[str] = field(default_factory=list)  # local CSV files, for error messages
    reader: Callable[[str], DataFrame] | None = None  # reads one of `files` alone

    @property
    def frame(self) -> DataFrame:
        assert self.df is not None
        return self.df

    def has(self, column: str) -> bool:
        return column in self.types

    def typed(self, column: str) -> bool:
        """The column exists and has a type (not all-null without one)."""
        return column in self.types and column not in self.untyped

    def require(self, *names: str, what: str = "") -> None:
        missing = [n for n in names if n not in self.types]
        if missing and not self.empty:
            found = ", ".join(self.types) or "none"
            raise Invalid(
                f"{self.label}: missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}{f' ({what})' if what else ''}; found: {found}",
                [ErrorDetail(n, "missing required column", self.label) for n in missing],
                code="invalid_file",
            )

    def ids(self, column: str) -> str:
        """`int` or `str`: how this id column compares."""
        kind = self.types.get(column)
        if kind is None or isinstance(kind, INTEGER_TYPES) or column in self.untyped:
            return "int"
        if isinstance(kind, T.StringType):
            return "str"
        raise Invalid(
            f"{self.label}: column {column} must hold integers or text, not {kind.simpleString()}",
            [ErrorDetail(column, f"unsupported type {kind.simpleString()}", self.label)],
            code="invalid_file",
        )

    def id_sql(self, column: str) -> str:
        return f"CAST({q(column)} AS {'BIGINT' if self.ids(column) == 'int' else 'STRING'})"


# ---------------------------------------------------------------- reading files and tables


def _normalise_names(label: str, names: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in names:
        norm = name.lstrip("\ufeff").strip().lower()
        if norm in seen:
            raise Invalid(
                f"{label}: column {norm} is named twice",
                [ErrorDetail(norm, "named twice", label)],
                code="invalid_file",
            )
        seen.add(norm)
        out.append((name, norm))
    return out


def _header_line(path: str) -> str:
    opener: Any = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        return str(fh.readline().decode("utf-8", "replace")).lstrip("\ufeff").rstrip("\r\n")


def _delimiter(header: str) -> str:
    """The field separator of a CSV header line (comma unless another one is clearly used)."""
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


def open_input(engine: SparkEngine, spark: SparkSession, source: Source, label: str) -> Input:
    """A path (local, listed and checked as the DuckDB engine does, or a URL handed to Spark) or
    an Arrow table, opened as an `Input` (its columns still as read: CSV text is typed by
    `type_text`)."""
    if isinstance(source, pa.Table):
        return _from_arrow(engine, spark, source, f"{label} (Arrow table)")
    path = str(source)
    if _URL.match(path):
        fmt = "csv" if file_format(path.rstrip("/")) == "csv" else "parquet"
        files = [path]
    else:
        files, fmt = list_files(path)
    try:
        if fmt == "parquet":
            if len(files) > 1 and not _URL.match(path):
                _check_parquet_schemas(files, path)
            return _named(spark.read.parquet(*files), path)
        return _read_csv(spark, files, path, local=not _URL.match(path))
    except PySparkException as exc:
        raise Invalid(
            f"{path}: cannot be read ({first_line(exc)})",
            [ErrorDetail("file", "cannot be read", path)],
            code="invalid_file",
        ) from None


def _from_arrow(engine: SparkEngine, spark: SparkSession, table: pa.Table, label: str) -> Input:
    """An Arrow table on the cluster. Naive timestamps are local time of the engine's zone
    (as in DuckDB); they are made UTC here, before Spark could read them as UTC."""
    pairs = _normalise_names(label, table.column_names)
    columns: list[pa.Array | pa.ChunkedArray] = []
    untyped = {norm for raw, norm in pairs if pa.types.is_null(table.column(raw).type)}
    for raw, _ in pairs:
        col = table.column(raw)
        kind = col.type
        if pa.types.is_dictionary(kind):
            col = col.cast(kind.value_type)
            kind = col.type
        if pa.types.is_timestamp(kind):
            if kind.tz is None:
                col = pc.assume_timezone(col, engine.timezone, ambiguous="earliest", nonexistent="earliest")
            col = col.cast(TS, safe=False)
        elif pa.types.is_large_string(kind) or pa.types.is_null(kind):
            col = col.cast(pa.string())
        columns.append(col)
    if not pairs:
        return Input(label, None, {})
    normalised = pa.Table.from_arrays(columns, names=[norm for _, norm in pairs])
    df = spark.createDataFrame(normalised)
    return Input(label, df, {f.name: f.dataType for f in df.schema.fields}, untyped=untyped)


def _named(df: DataFrame, label: str) -> Input:
    pairs = _normalise_names(label, df.columns)
    named = df.select(*[F.col(q(raw)).alias(norm) for raw, norm in pairs])
    return Input(label, named, {f.name: f.dataType for f in named.schema.fields})


def _read_csv(spark: SparkSession, files: list[str], label: str, local: bool) -> Input:
    """CSV files as text columns; files with different headers are united by name."""
    options = {"header": "true", "inferSchema": "false", "escape": '"', "multiLine": "false"}
    if not local:
        df = spark.read.options(**options).csv(files[0])
        if not df.columns:
            return Input(label, None, csv=True, empty=True)
        opened = _named(df, label)
        opened.csv = True
        return opened
    nonempty = [f for f in files if Path(f).stat().st_size > 0]
    if not nonempty:
        return Input(label, None, csv=True, empty=True)
    groups: dict[str, list[str]] = {}
    for f in nonempty:
        groups.setdefault(_header_line(f), []).append(f)
    frames = [
        _named(spark.read.options(**options, sep=_delimiter(header)).csv(members), label).frame
        for header, members in groups.items()
    ]
    united = frames[0]
    for other in frames[1:]:
        united = united.unionByName(other, allowMissingColumns=True)

    def one_file(path: str) -> DataFrame:
        df = spark.read.options(**options, sep=_delimiter(_header_line(path))).csv(path)
        return _named(df, path).frame

    types = {f.name: f.dataType for f in united.schema.fields}
    return Input(label, united, types, csv=True, files=nonempty, reader=one_file)


# ---------------------------------------------------------------- typing text


def _parse_time(value: str, timezone: str) -> str:
    """SQL: text → TIMESTAMP (an instant); with a zone as written, naive → local time."""
    v = f"nullif(trim({value}), '')"
    # Seconds added where only hours and minutes are given (Spark needs them before a zone).
    w = f"regexp_replace({v}, '^([0-9-]+[ T][0-9]{{1,2}}:[0-9]{{2}})($|[^:0-9].*$)', '$1:00$2')"
    midnight = f"({w} RLIKE '^[0-9-]+[ T]24:00:00([.]0+)?([^0-9.].*)?$')"
    text = f"regexp_replace({w}, '[ T]24:00:00', ' 00:00:00')"
    instant = (
        f"CASE WHEN {w} RLIKE {lit(_ZONED)} THEN try_cast({text} AS TIMESTAMP)"
        f" ELSE to_utc_timestamp(try_cast({text} AS TIMESTAMP), {lit(timezone)}) END"
    )
    return (
        f"CASE WHEN NOT ({v} RLIKE {lit(_TIME_SHAPE)}) THEN NULL"
        f" WHEN {midnight} THEN ({instant}) + INTERVAL 1 DAY ELSE {instant} END"
    )


def type_text(
    engine: SparkEngine,
    opened: Input,
    *,
    ids: Sequence[Sequence[str]] = (),
    times: Sequence[str] = (),
    numbers: Sequence[str] = (),
    dates: Sequence[str] = (),
) -> None:
    """Give text columns their types, in place: for CSV the ids too (integers when every
    value of a group is one), for every source the text times, numbers and dates. A value
    that cannot be converted is an `Invalid` naming the row and the column."""
    if opened.empty or opened.df is None:
        return
    df = opened.frame
    exprs: dict[str, str] = {}
    if opened.csv:
        groups = [[c for c in g if opened.has(c)] for g in ids]
        groups = [g for g in groups if g]
        if groups:
            aggs = [
                F.min(
                    F.expr(
                        "CASE WHEN "
                        + " AND ".join(f"({q(c)} IS NULL OR trim({q(c)}) RLIKE {lit(_INTEGER)})" for c in g)
                        + " THEN 1 ELSE 0 END"
                    )
                )
                for g in groups
            ]
            row = df.agg(*aggs).first()
            for i, g in enumerate(groups):
                integer = row is None or row[i] is None or row[i] != 0
                for c in g:
                    exprs[c] = f"CAST(trim({q(c)}) AS BIGINT)" if integer else f"trim({q(c)})"
    checks: list[tuple[str, str, str]] = []  # column, reason, parsed
    text = [c for c, kind in opened.types.items() if isinstance(kind, T.StringType)]
    for c in times:
        if c in text:
            checks.append((c, "not an ISO 8601 time", _parse_time(q(c), engine.timezone)))
    for c in numbers:
        if c in text:
            checks.append((c, "not a number", f"try_cast(nullif(trim({q(c)}), '') AS DOUBLE)"))
    for c in dates:
        if c in text:
            checks.append((c, "not a date (YYYY-MM-DD)", f"try_cast(nullif(trim({q(c)}), '') AS DATE)"))
    if checks:
        bad = " OR ".join(f"(nullif(trim({q(c)}), '') IS NOT NULL AND ({p}) IS NULL)" for c, _, p in checks)
        if df.where(F.expr(bad)).limit(1).count():
            _report_bad(opened, checks)
        for c, _, parsed in checks:
            exprs[c] = parsed
    if not exprs:
        return
    typed = df.select(*[F.expr(exprs.get(c, q(c))).alias(c) for c in opened.types])
    opened.df = typed
    opened.types = {f.name: f.dataType for f in typed.schema.fields}


def _report_bad(opened: Input, checks: list[tuple[str, str, str]]) -> None:
    """The first bad value, as the DuckDB engine reports it: the first column (in the order
    checked) that has one, its first row in file order (row 1 follows the header)."""
    parts = (
        [(f, opened.reader(f)) for f in opened.files]
        if opened.reader is not None and opened.files
        else [(opened.label, opened.frame)]
    )
    for c, reason, parsed in checks:
        bad = F.expr(f"nullif(trim({q(c)}), '') IS NOT NULL AND ({parsed}) IS NULL")
        for label, frame in parts:
            if c not in frame.columns:
                continue
            hits = (
                frame.select(F.col(q(c)).alias("v"), bad.alias("bad"))
                .rdd.zipWithIndex()
                .filter(lambda r: bool(r[0][1]))
                .take(1)
            )
            if hits:
                (value, _), index = hits[0]
                raise Invalid(
                    f"{label}: row {index + 1} column {c}: {reason}: {value!r}",
                    [ErrorDetail(c, reason, value, int(index) + 1)],
                    code="invalid_file",
                )


# ---------------------------------------------------------------- times


def time_us(engine: SparkEngine, opened: Input, column: str, lo: int, hi: int) -> str:
    """SQL: the column as UTC epoch microseconds (after `_type_text`)."""
    kind = opened.types[column]
    col = q(column)
    if isinstance(kind, T.TimestampType):
        return f"unix_micros({col})"
    if isinstance(kind, T.TimestampNTZType):
        offset = fixed_offset_us(engine.timezone, from_epoch_us(lo), from_epoch_us(hi))
        if offset is not None:
            return f"(unix_micros(CAST({col} AS TIMESTAMP)) - {offset})"
        return f"unix_micros(to_utc_timestamp(CAST({col} AS TIMESTAMP), {lit(engine.timezone)}))"
    if isinstance(kind, T.DateType):
        return f"unix_micros(to_utc_timestamp(CAST({col} AS TIMESTAMP), {lit(engine.timezone)}))"
    raise Invalid(
        f"{opened.label}: column {column} must hold times, not {kind.simpleString()}",
        [ErrorDetail(column, f"not a time column ({kind.simpleString()})", opened.label)],
        code="invalid_file",
    )


def raw_predicate(opened: Input, column: str, us: int, op: str, widen: int) -> str:
    """A predicate on the raw column that Parquet can prune row groups with."""
    kind = opened.types[column]
    moment = from_epoch_us(us)
    if isinstance(kind, T.TimestampType):
        return f"{q(column)} {op} TIMESTAMP '{moment.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"
    if isinstance(kind, T.TimestampNTZType):
        local = moment.replace(tzinfo=None) + dt.timedelta(days=widen)  # any zone is within a day
        return f"{q(column)} {op} TIMESTAMP_NTZ '{local.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    return "true"


# ---------------------------------------------------------------- ids, stays, cells


def id_kind(opened: Input, column: str, fallback: Sequence[PersonId]) -> str:
    """`int` or `str`: the id type of the column, or of the given ids when it has none."""
    if opened.typed(column):
        return opened.ids(column)
    return "str" if any(isinstance(p, str) for p in fallback) else "int"


def open_stays(engine: SparkEngine, spark: SparkSession, stays: Source) -> Input:
    """The stays (`person_id, start, end` and `cell_id` or `lon, lat`), typed."""
    opened = open_input(engine, spark, stays, "stays")
    if opened.empty:
        return opened
    opened.require("person_id", "start", "end")
    if not opened.has("cell_id"):
        opened.require("lon", "lat", what="a position: lon and lat, or cell_id")
    type_text(engine, opened, ids=[("person_id",)], times=("start", "end"), numbers=("lon", "lat"))
    return opened


def cell_expr(opened: Input, grid: Grid) -> str:
    """SQL: the cell of a stay, its `cell_id` or its position on the grid."""
    if opened.has("cell_id"):
        return q("cell_id")
    return cell_sql(q("lon"), q("lat"), grid.utm_zone, float(grid.cell_size_m), grid.south)


def _check_parquet_schemas(files: list[str], label: str) -> None:
    """Every file of a multi-file source has the columns of the first (named when not)."""
    schemas = {f: {n.strip().lower() for n in pq.read_schema(f).names} for f in files}
    first = schemas[files[0]]
    for f in files[1:]:
        missing = sorted(first - schemas[f])
        if missing:
            raise Invalid(
                f"{f}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                f" (other files of {label} have {'them' if len(missing) > 1 else 'it'})",
                [ErrorDetail(c, "missing column", f) for c in missing],
                code="invalid_file",
            )
