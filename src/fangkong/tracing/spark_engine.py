"""The Spark tracing engine: every `TracingEngine` question answered with Spark SQL, for data
that outgrow one machine. `local[*]` in tests, any cluster by URL (`spark://…`, `yarn`, `k8s://…`).

Same questions, same rows, same columns as the DuckDB engine (`duckdb_engine.py`,
`sql/*.sql`): the steps follow its statements (the same filters, clipping, merging of a
person's stays per cell, time-bucketed join and dwell rule), times are UTC epoch microseconds
throughout, positions become cells through the same SQL expression (`projection.cell_sql`), and
every number that is fixed by the parameters (window, thresholds, dwell per venue) is worked
out once in Python the same way. The contract suite (tests/tracing/test_contract.py) runs both
engines on the same inputs and requires identical tables.

Inputs: a path (a Parquet file, a folder or glob of Parquet files, a CSV file or glob — local
paths are listed and checked like the DuckDB engine does; a URL such as `hdfs://…/stays/` or
`s3a://…/*.parquet` is handed to Spark as it is, CSV when its name says so, Parquet otherwise)
or an Arrow table (sent to the cluster through Arrow). CSV text is typed by the DuckDB rules:
ids are integers when every value is, times with a zone are taken as written and naive times
are local time of `timezone`.

The session: pass one (`spark=`; it is never stopped by `close()`) or let the engine build one
from `master`, `app_name` and `config` on first use (stopped by `close()` only if the engine
started it). The session time zone is set to UTC; nothing else of it is changed.
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import gzip
import math
import re
import time
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

try:
    from pyspark.errors import PySparkException
    from pyspark.sql import Column, DataFrame, SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the Spark tracing engine needs PySpark: pip install 'fangkong[spark]' (and Java 17+)"
    ) from exc

from fangkong.errors import ErrorDetail, Invalid
from fangkong.tracing.ports import (
    CaseAnchor,
    CompanionParams,
    Exposure,
    Grid,
    PersonId,
    Source,
    VehicleParams,
    VenueParams,
)
from fangkong.tracing.projection import cell_sql
from fangkong.tracing.sources import fixed_offset_us, id_values

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TS = pa.timestamp("us", tz="UTC")
PARQUET = (".parquet", ".pq")
CSV = (".csv", ".csv.gz", ".tsv", ".txt")
INTEGER_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
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
_FLIGHT = ("flight", "航班", "飞机", "民航", "plane", "air")
_TRAIN = ("train", "火车", "列车", "高铁", "动车", "rail")
_COACH = ("coach", "长途汽车", "客车", "大巴", "bus")


# ---------------------------------------------------------------- small helpers


def q(name: str) -> str:
    """A Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def lit(value: object) -> str:
    """A Spark SQL literal for an int, float or str."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"no SQL literal for {value!r}")
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def _us(moment: dt.datetime, what: str = "time") -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid(
            f"{what} needs a time zone: {moment.isoformat()}",
            [ErrorDetail(what, "time without a zone", moment.isoformat())],
        )
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def _moment(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def _ceil_us(value: float, unit: int) -> int:
    """A threshold in µs, as the DuckDB engine rounds it (`ceil(x · unit − 1e-6)`)."""
    return int(math.ceil(value * unit - 1e-6))


def _round_us(minutes: float) -> int:
    """`CAST(round(minutes * 60000000) AS BIGINT)`: the double product, halves away from zero."""
    return int(Decimal(minutes * 60000000).to_integral_value(rounding=ROUND_HALF_UP))


def _id_type(kind: str) -> pa.DataType:
    return pa.int64() if kind == "int" else pa.string()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _finish(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Epoch-µs columns become UTC timestamps; types as documented; empty keeps the schema."""
    if table.num_columns == 0:
        return schema.empty_table()
    columns = []
    for fld in schema:
        col = table.column(fld.name)
        if fld.type == TS and not pa.types.is_timestamp(col.type):
            col = pc.cast(col, pa.int64()).cast(TS)
        columns.append(col.cast(fld.type))
    return pa.Table.from_arrays(columns, schema=schema)


def companion_schema(kind: str) -> pa.Schema:
    ids = _id_type(kind)
    return pa.schema(
        [
            ("case_person_id", ids),
            ("person_id", ids),
            ("co_presence_minutes", pa.float64()),
            ("cells", pa.int64()),
            ("first_seen", TS),
            ("last_seen", TS),
        ]
    )


def _check_companion_params(params: CompanionParams) -> None:
    problems: list[ErrorDetail] = []
    checks: Mapping[str, tuple[float, bool]] = {
        "cell_size_m": (params.grid.cell_size_m, params.grid.cell_size_m > 0),
        "utm_zone": (params.grid.utm_zone, 1 <= params.grid.utm_zone <= 60),
        "min_overlap_min": (params.min_overlap_min, params.min_overlap_min >= 0),
        "window_days": (params.window_days, params.window_days > 0),
        "min_dwell_h": (params.min_dwell_h, params.min_dwell_h >= 0),
    }
    for name, (value, ok) in checks.items():
        if not ok or not math.isfinite(value):
            problems.append(ErrorDetail(name, "out of range", value))
    if problems:
        raise Invalid("invalid companion parameters", problems)


def _merge(df: DataFrame, keys: Sequence[str], carry: Sequence[str] = ()) -> DataFrame:
    """Per `keys`, the intervals [s, e) merged into disjoint ones (overlapping or touching
    intervals become one): the `case_intervals` statement of the DuckDB engine."""
    order = Window.partitionBy(*keys).orderBy("s", "e")
    before = order.rowsBetween(Window.unboundedPreceding, -1)
    upto = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    opened = df.withColumn("_prev", F.max("e").over(before))
    starts = F.when(F.col("_prev").isNull() | (F.col("s") > F.col("_prev")), 1).otherwise(0)
    grouped = opened.withColumn("_grp", F.sum(starts).over(upto))
    return (
        grouped.groupBy(*keys, "_grp")
        .agg(F.min("s").alias("s"), F.max("e").alias("e"), *[F.first(c).alias(c) for c in carry])
        .drop("_grp")
    )


def _union_length(df: DataFrame, keys: Sequence[str], s: str, e: str, name: str, *extra: Column) -> DataFrame:
    """Per `keys`, the length of the union of the intervals [s, e) as `name` (overlapping and
    duplicate intervals count once), plus the `extra` aggregates. Sorted by start, each interval
    adds what lies after the ends of those before it: [greatest(s, max(previous ends)), e) — the
    DuckDB statements' window, done here per group on its own list (no global sort)."""
    spans = F.array_sort(F.collect_list(F.struct(F.col(s).alias("s"), F.col(e).alias("e"))))
    length = F.expr(
        "aggregate(_spans, named_struct('m', CAST(NULL AS BIGINT), 't', CAST(0 AS BIGINT)),"
        " (acc, x) -> named_struct('m', greatest(acc.m, x.e),"
        " 't', acc.t + greatest(x.e - greatest(x.s, acc.m), CAST(0 AS BIGINT))), acc -> acc.t)"
    )
    grouped = df.groupBy(*keys).agg(spans.alias("_spans"), *extra)
    return grouped.withColumn(name, length).drop("_spans")


# ---------------------------------------------------------------- inputs


@dataclass
class _Input:
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


def _fmt(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(PARQUET):
        return "parquet"
    if lower.endswith(CSV):
        return "csv"
    return None


def _sniff(path: str) -> str:
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == b"PAR1" else "csv"


def _local_files(path: str) -> tuple[list[str], str]:
    """The files a local path names and their format (parquet | csv) — the DuckDB rules."""
    if any(ch in path for ch in "*?["):
        files = sorted(f for f in globmod.glob(path, recursive=True) if Path(f).is_file())
        if not files:
            raise Invalid(f"{path}: no files match", [ErrorDetail("file", "no files match", path)])
    elif Path(path).is_dir():
        files = [
            str(p)
            for p in sorted(Path(path).rglob("*"))
            if p.is_file()
            and _fmt(p.name)
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
    formats = {_fmt(f) or _sniff(f) for f in files}
    if len(formats) > 1:
        raise Invalid(f"{path}: mixes Parquet and CSV files", [ErrorDetail("file", "mixed formats", path)])
    return files, formats.pop()


def _header_line(path: str) -> str:
    opener: Any = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        return str(fh.readline().decode("utf-8", "replace")).lstrip("\ufeff").rstrip("\r\n")


def _delimiter(header: str) -> str:
    """The field separator of a CSV header line (comma unless another one is clearly used)."""
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


# ---------------------------------------------------------------- the engine


class SparkEngine:
    """Tracing on Spark. `master`: where to run (`local[*]`, `spark://host:7077`, `yarn`, …;
    default: the settings' `FANGKONG_SPARK_MASTER`, itself `local[*]` by default);
    `spark`: a session to use instead (the engine never stops it); `app_name`, `config`
    (`spark.*` settings for a session the engine builds); `timezone`: the zone of naive times in
    the inputs (default: the settings' `FANGKONG_TIMEZONE`); `bucket_hours`: the time bucket of
    the companion join (a tuning knob; results do not depend on it).

    `broadcast_rows`: up to this many (case, person, cell) rows whose dwell must be measured are
    sent to every executor instead of shuffling the stays (a tuning knob too). `last_timings`:
    seconds of the Spark jobs of the last call, by step; `last_cases_without_stays`: the cases of
    the last `companions` call with no stays in their window."""

    name = "spark"

    def __init__(
        self,
        master: str | None = None,
        spark: SparkSession | None = None,
        app_name: str = "fangkong-tracing",
        config: dict[str, str] | None = None,
        *,
        timezone: str | None = None,
        bucket_hours: float = 6.0,
    ) -> None:
        self.master = master
        self.app_name = app_name
        self.config = dict(config or {})
        self._spark = spark
        self._owned = False
        self._timezone = timezone
        if not bucket_hours > 0:
            raise ValueError("bucket_hours must be positive")
        self.bucket_us = int(bucket_hours * HOUR)
        self.last_timings: dict[str, float] = {}
        self.last_cases_without_stays: list[PersonId] = []
        self.broadcast_rows = 5_000_000

    # ------------------------------------------------------------ session

    @property
    def timezone(self) -> str:
        if self._timezone is None:
            from fangkong.config import get_settings

            self._timezone = get_settings().timezone
        return self._timezone

    @property
    def spark(self) -> SparkSession:
        """The session (built on first use)."""
        if self._spark is None:
            from pyspark import SparkContext

            existed = SparkContext._active_spark_context is not None
            if self.master is None:
                from fangkong.config import get_settings

                self.master = get_settings().spark_master
            builder: Any = SparkSession.builder.master(self.master).appName(self.app_name)
            settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false"}
            for key, value in {**settings, **self.config}.items():
                builder = builder.config(key, value)
            try:
                self._spark = builder.getOrCreate()
            except Exception as exc:  # no Java, a bad master URL, …
                raise Invalid(
                    f"cannot start Spark ({self.master}): {_first_line(exc)}; the Spark engine needs Java 17+"
                    " (java on the PATH or JAVA_HOME) and a reachable master",
                    [ErrorDetail("engine", "Spark did not start", _first_line(exc))],
                ) from None
            self._owned = not existed
        session = self._spark
        assert session is not None
        if session.conf.get("spark.sql.session.timeZone") != "UTC":
            session.conf.set("spark.sql.session.timeZone", "UTC")
        return session

    def close(self) -> None:
        """Stop the session if this engine started it."""
        if self._spark is not None and self._owned:
            self._spark.stop()
        self._spark = None
        self._owned = False

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _session(self) -> Iterator[SparkSession]:
        spark = self.spark
        self.last_timings = {}
        try:
            yield spark
        except PySparkException as exc:
            raise Invalid(
                f"cannot read input: {_first_line(exc)}",
                [ErrorDetail("input", "Spark error", _first_line(exc))],
            ) from None
        except Exception as exc:  # Py4J errors raised by Spark jobs
            if type(exc).__name__ != "Py4JJavaError":
                raise
            raise Invalid(
                f"cannot read input: {_first_line(exc)}",
                [ErrorDetail("input", "Spark error", _first_line(exc))],
            ) from None

    def _arrow(self, step: str, df: DataFrame) -> pa.Table:
        start = time.perf_counter()
        table = df.toArrow()
        self.last_timings[step] = round(time.perf_counter() - start, 3)
        return table

    def _open(self, spark: SparkSession, source: Source, label: str) -> _Input:
        if isinstance(source, pa.Table):
            return self._from_arrow(spark, source, f"{label} (Arrow table)")
        path = str(source)
        if _URL.match(path):
            fmt = "csv" if _fmt(path.rstrip("/")) == "csv" else "parquet"
            files = [path]
        else:
            files, fmt = _local_files(path)
        try:
            if fmt == "parquet":
                if len(files) > 1 and not _URL.match(path):
                    _check_parquet_schemas(files, path)
                return self._named(spark.read.parquet(*files), path)
            return self._read_csv(spark, files, path, local=not _URL.match(path))
        except PySparkException as exc:
            raise Invalid(
                f"{path}: cannot be read ({_first_line(exc)})",
                [ErrorDetail("file", "cannot be read", path)],
                code="invalid_file",
            ) from None

    def _from_arrow(self, spark: SparkSession, table: pa.Table, label: str) -> _Input:
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
                    col = pc.assume_timezone(col, self.timezone, ambiguous="earliest", nonexistent="earliest")
                col = col.cast(TS, safe=False)
            elif pa.types.is_large_string(kind) or pa.types.is_null(kind):
                col = col.cast(pa.string())
            columns.append(col)
        if not pairs:
            return _Input(label, None, {})
        normalised = pa.Table.from_arrays(columns, names=[norm for _, norm in pairs])
        df = spark.createDataFrame(normalised)
        return _Input(label, df, {f.name: f.dataType for f in df.schema.fields}, untyped=untyped)

    @staticmethod
    def _named(df: DataFrame, label: str) -> _Input:
        pairs = _normalise_names(label, df.columns)
        named = df.select(*[F.col(q(raw)).alias(norm) for raw, norm in pairs])
        return _Input(label, named, {f.name: f.dataType for f in named.schema.fields})

    def _read_csv(self, spark: SparkSession, files: list[str], label: str, local: bool) -> _Input:
        """CSV files as text columns; files with different headers are united by name."""
        options = {"header": "true", "inferSchema": "false", "escape": '"', "multiLine": "false"}
        if not local:
            df = spark.read.options(**options).csv(files[0])
            if not df.columns:
                return _Input(label, None, csv=True, empty=True)
            opened = self._named(df, label)
            opened.csv = True
            return opened
        nonempty = [f for f in files if Path(f).stat().st_size > 0]
        if not nonempty:
            return _Input(label, None, csv=True, empty=True)
        groups: dict[str, list[str]] = {}
        for f in nonempty:
            groups.setdefault(_header_line(f), []).append(f)
        frames = [
            self._named(spark.read.options(**options, sep=_delimiter(header)).csv(members), label).frame
            for header, members in groups.items()
        ]
        united = frames[0]
        for other in frames[1:]:
            united = united.unionByName(other, allowMissingColumns=True)

        def one_file(path: str) -> DataFrame:
            df = spark.read.options(**options, sep=_delimiter(_header_line(path))).csv(path)
            return self._named(df, path).frame

        types = {f.name: f.dataType for f in united.schema.fields}
        return _Input(label, united, types, csv=True, files=nonempty, reader=one_file)

    # ------------------------------------------------------------ typing text

    def _parse_time(self, value: str) -> str:
        """SQL: text → TIMESTAMP (an instant); with a zone as written, naive → local time."""
        v = f"nullif(trim({value}), '')"
        # Seconds added where only hours and minutes are given (Spark needs them before a zone).
        w = f"regexp_replace({v}, '^([0-9-]+[ T][0-9]{{1,2}}:[0-9]{{2}})($|[^:0-9].*$)', '$1:00$2')"
        midnight = f"({w} RLIKE '^[0-9-]+[ T]24:00:00([.]0+)?([^0-9.].*)?$')"
        text = f"regexp_replace({w}, '[ T]24:00:00', ' 00:00:00')"
        instant = (
            f"CASE WHEN {w} RLIKE {lit(_ZONED)} THEN try_cast({text} AS TIMESTAMP)"
            f" ELSE to_utc_timestamp(try_cast({text} AS TIMESTAMP), {lit(self.timezone)}) END"
        )
        return (
            f"CASE WHEN NOT ({v} RLIKE {lit(_TIME_SHAPE)}) THEN NULL"
            f" WHEN {midnight} THEN ({instant}) + INTERVAL 1 DAY ELSE {instant} END"
        )

    def _type_text(
        self,
        opened: _Input,
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
                            + " AND ".join(
                                f"({q(c)} IS NULL OR trim({q(c)}) RLIKE {lit(_INTEGER)})" for c in g
                            )
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
                checks.append((c, "not an ISO 8601 time", self._parse_time(q(c))))
        for c in numbers:
            if c in text:
                checks.append((c, "not a number", f"try_cast(nullif(trim({q(c)}), '') AS DOUBLE)"))
        for c in dates:
            if c in text:
                checks.append((c, "not a date (YYYY-MM-DD)", f"try_cast(nullif(trim({q(c)}), '') AS DATE)"))
        if checks:
            bad = " OR ".join(
                f"(nullif(trim({q(c)}), '') IS NOT NULL AND ({p}) IS NULL)" for c, _, p in checks
            )
            if df.where(F.expr(bad)).limit(1).count():
                self._report_bad(opened, checks)
            for c, _, parsed in checks:
                exprs[c] = parsed
        if not exprs:
            return
        typed = df.select(*[F.expr(exprs.get(c, q(c))).alias(c) for c in opened.types])
        opened.df = typed
        opened.types = {f.name: f.dataType for f in typed.schema.fields}

    @staticmethod
    def _report_bad(opened: _Input, checks: list[tuple[str, str, str]]) -> None:
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

    # ------------------------------------------------------------ times

    def _time_us(self, opened: _Input, column: str, lo: int, hi: int) -> str:
        """SQL: the column as UTC epoch microseconds (after `_type_text`)."""
        kind = opened.types[column]
        col = q(column)
        if isinstance(kind, T.TimestampType):
            return f"unix_micros({col})"
        if isinstance(kind, T.TimestampNTZType):
            offset = fixed_offset_us(self.timezone, _moment(lo), _moment(hi))
            if offset is not None:
                return f"(unix_micros(CAST({col} AS TIMESTAMP)) - {offset})"
            return f"unix_micros(to_utc_timestamp(CAST({col} AS TIMESTAMP), {lit(self.timezone)}))"
        if isinstance(kind, T.DateType):
            return f"unix_micros(to_utc_timestamp(CAST({col} AS TIMESTAMP), {lit(self.timezone)}))"
        raise Invalid(
            f"{opened.label}: column {column} must hold times, not {kind.simpleString()}",
            [ErrorDetail(column, f"not a time column ({kind.simpleString()})", opened.label)],
            code="invalid_file",
        )

    @staticmethod
    def _raw(opened: _Input, column: str, us: int, op: str, widen: int) -> str:
        """A predicate on the raw column that Parquet can prune row groups with."""
        kind = opened.types[column]
        moment = _moment(us)
        if isinstance(kind, T.TimestampType):
            return f"{q(column)} {op} TIMESTAMP '{moment.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"
        if isinstance(kind, T.TimestampNTZType):
            local = moment.replace(tzinfo=None) + dt.timedelta(days=widen)  # any zone is within a day
            return f"{q(column)} {op} TIMESTAMP_NTZ '{local.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
        return "true"

    # ------------------------------------------------------------ cases

    def _case_rows(
        self, kind: str, cases: Sequence[CaseAnchor], before_us: int, after_us: int = 0
    ) -> list[tuple[int, Any, int, int, dt.date, dt.date]]:
        """(cid, pid, lo, a, first local date, last local date), one per case person; ids
        converted to the data's id type (a case whose id cannot be converted matches nothing)."""
        seen: dict[Any, int] = {}
        rows: list[tuple[int, Any, int, int, dt.date, dt.date]] = []
        zone = zoneinfo.ZoneInfo(self.timezone)
        for case in cases:
            anchor = _us(case.anchor, "anchor")
            converted = id_values([case.person_id], kind)
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
            lo_local = (case.anchor - dt.timedelta(microseconds=before_us)).astimezone(zone)
            rows.append(
                (
                    len(rows),
                    pid,
                    anchor - before_us,
                    anchor + after_us,
                    lo_local.date(),
                    case.anchor.astimezone(zone).date(),
                )
            )
        return rows

    @staticmethod
    def _cases_df(
        spark: SparkSession, kind: str, rows: Sequence[tuple[Any, ...]], dates: bool = False
    ) -> DataFrame:
        columns: dict[str, Any] = {
            "cid": pa.array([r[0] for r in rows], pa.int32()),
            "pid": pa.array([r[1] for r in rows], _id_type(kind)),
            "lo": pa.array([r[2] for r in rows], pa.int64()),
            "a": pa.array([r[3] for r in rows], pa.int64()),
        }
        if dates:
            columns["d_lo"] = pa.array([r[4] for r in rows], pa.date32())
            columns["d_hi"] = pa.array([r[5] for r in rows], pa.date32())
        return F.broadcast(spark.createDataFrame(pa.table(columns)))

    @staticmethod
    def _id_kind(opened: _Input, column: str, fallback: Sequence[PersonId]) -> str:
        if opened.typed(column):
            return opened.ids(column)
        return "str" if any(isinstance(p, str) for p in fallback) else "int"

    # ------------------------------------------------------------ companions

    def _open_stays(self, spark: SparkSession, stays: Source) -> _Input:
        opened = self._open(spark, stays, "stays")
        if opened.empty:
            return opened
        opened.require("person_id", "start", "end")
        if not opened.has("cell_id"):
            opened.require("lon", "lat", what="a position: lon and lat, or cell_id")
        self._type_text(opened, ids=[("person_id",)], times=("start", "end"), numbers=("lon", "lat"))
        return opened

    @staticmethod
    def _cell(opened: _Input, grid: Grid) -> str:
        if opened.has("cell_id"):
            return q("cell_id")
        return cell_sql(q("lon"), q("lat"), grid.utm_zone, float(grid.cell_size_m), grid.south)

    def companions(self, stays: Source, cases: list[CaseAnchor], params: CompanionParams) -> pa.Table:
        """See `TracingEngine.companions`; the method is in docs/tracing.md."""
        _check_companion_params(params)
        window = int(round(params.window_days * DAY))
        with self._session() as spark:
            opened = self._open_stays(spark, stays)
            kind = self._id_kind(opened, "person_id", [c.person_id for c in cases])
            schema = companion_schema(kind)
            rows = self._case_rows(kind, cases, window)
            self.last_cases_without_stays = [r[1] for r in rows]
            if opened.empty or not rows:
                return schema.empty_table()
            lo, hi = min(r[2] for r in rows), max(r[3] for r in rows)
            md = _ceil_us(params.min_dwell_h, HOUR)
            mo = _ceil_us(params.min_overlap_min, MINUTE)
            b = self.bucket_us
            pre = f"{self._raw(opened, 'end', lo, '>', -1)} AND {self._raw(opened, 'start', hi, '<', +1)}"
            raw = opened.frame.where(F.expr(pre))
            st = [
                F.expr(opened.id_sql("person_id")).alias("pid"),
                F.expr(self._time_us(opened, "start", lo, hi)).alias("s"),
                F.expr(self._time_us(opened, "end", lo, hi)).alias("e"),
                F.expr(self._cell(opened, params.grid)).alias("cell"),
            ]
            case_df = self._cases_df(spark, kind, rows)

            # case_stays, case_intervals: the cases' stays clipped to their windows, merged per cell.
            ids = [r[1] for r in rows]
            cst = (
                raw.where(F.expr(opened.id_sql("person_id")).isin(ids))
                .select(*st)
                .join(case_df, "pid")
                .where("s < a AND e > lo AND e > s AND cell IS NOT NULL")
                .select(
                    "cid",
                    F.col("pid").alias("cpid"),
                    "cell",
                    F.greatest("s", "lo").alias("s"),
                    F.least("e", "a").alias("e"),
                )
            )
            ci_table = self._arrow("case_intervals", _merge(cst, ["cid", "cell"], carry=["cpid"]))
            with_stays = set(ci_table["cid"].to_pylist())
            self.last_cases_without_stays = [r[1] for r in rows if r[0] not in with_stays]
            if not with_stays:
                return schema.empty_table()
            ci = spark.createDataFrame(ci_table)

            # case_dwell: cells where the case itself stayed long enough need no test of the person.
            spans = pc.subtract(ci_table["e"], ci_table["s"])
            dwell_table = (
                ci_table.append_column("d", spans).group_by(["cid", "cell"]).aggregate([("d", "sum")])
            )
            strong = pc.greater_equal(dwell_table["d_sum"], md)
            cd = F.broadcast(
                spark.createDataFrame(
                    pa.table({"cid": dwell_table["cid"], "cell": dwell_table["cell"], "strong": strong})
                )
            )
            weak = md > 0 and not pc.all(strong).as_py()
            cib = ci.select(
                "cid",
                "cpid",
                "cell",
                F.col("s").alias("ks"),
                F.col("e").alias("ke"),
                F.expr(f"s div {b}").alias("kb0"),
                F.explode(F.sequence(F.expr(f"s div {b}"), F.expr(f"(e - 1) div {b}"))).alias("b"),
            )
            cells = F.broadcast(ci.select("cell").distinct())

            # cell_stays: every stay in the union window in a cell some case visited, clipped to it.
            stc = (
                raw.select(*st)
                .where(f"e > s AND s < {hi} AND e > {lo}")
                .join(cells, "cell", "left_semi")
                .select(
                    "pid", "cell", F.greatest("s", F.lit(lo)).alias("s"), F.least("e", F.lit(hi)).alias("e")
                )
            )
            persisted: list[DataFrame] = []
            try:
                # pieces: each (case interval, stay) overlap, met in the bucket where it starts.
                x = stc.select(
                    "pid",
                    "cell",
                    "s",
                    "e",
                    F.expr(f"s div {b}").alias("b0"),
                    F.explode(F.sequence(F.expr(f"s div {b}"), F.expr(f"(e - 1) div {b}"))).alias("b"),
                )
                pieces = (
                    x.join(F.broadcast(cib), ["cell", "b"])
                    .where("b = greatest(b0, kb0) AND s < ke AND e > ks AND pid <> cpid")
                    .select(
                        "cid",
                        "pid",
                        "cell",
                        F.greatest("s", "ks").alias("os"),
                        F.least("e", "ke").alias("oe"),
                    )
                )
                # co_presence: the union of the pieces per (case, person, cell).
                agg = (
                    _union_length(
                        pieces,
                        ["cid", "pid", "cell"],
                        "os",
                        "oe",
                        "co",
                        F.min("os").alias("fs"),
                        F.max("oe").alias("ls"),
                    )
                    .where(F.col("co") >= F.lit(mo))
                    .join(cd, ["cid", "cell"])
                )
                if weak:
                    # person_dwell: where the case stayed less than the threshold, the person's
                    # own stays in the cell, clipped to the case's window, merged.
                    windows = F.broadcast(
                        case_df.select("cid", F.col("lo").alias("wlo"), F.col("a").alias("wa"))
                    )
                    kept = agg.persist()  # read twice: for the persons to test and for the result
                    persisted.append(kept)
                    need = kept.where(~F.col("strong")).select("cid", "pid", "cell").join(windows, "cid")
                    start = time.perf_counter()
                    small = need.count() <= self.broadcast_rows
                    self.last_timings["co_presence"] = round(time.perf_counter() - start, 3)
                    if small:
                        need = F.broadcast(need)
                    own = (
                        stc.join(need, ["pid", "cell"])
                        .where("s < wa AND e > wlo")
                        .select(
                            "cid",
                            "pid",
                            "cell",
                            F.greatest("s", "wlo").alias("s"),
                            F.least("e", "wa").alias("e"),
                        )
                    )
                    dwell = _union_length(own, ["cid", "pid", "cell"], "s", "e", "d")
                    agg = kept.join(dwell, ["cid", "pid", "cell"], "left").where(
                        F.col("strong") | (F.col("d") >= F.lit(md))
                    )
                else:
                    agg = agg.where(F.col("strong"))
                result = (
                    agg.join(case_df.select("cid", F.col("pid").alias("case_person_id")), "cid")
                    .groupBy("case_person_id", "pid")
                    .agg(
                        F.sum("co").alias("co"),
                        F.count(F.lit(1)).alias("cells"),
                        F.min("fs").alias("first_seen"),
                        F.max("ls").alias("last_seen"),
                    )
                    .select(
                        "case_person_id",
                        F.col("pid").alias("person_id"),
                        (F.col("co").cast("double") / F.lit(60000000.0)).alias("co_presence_minutes"),
                        "cells",
                        "first_seen",
                        "last_seen",
                    )
                    .orderBy("case_person_id", "person_id")
                )
                return _finish(self._arrow("result", result), schema)
            finally:
                for frame in persisted:
                    frame.unpersist()

    # ------------------------------------------------------------ venues

    def venue_contacts(self, checkins: Source, cases: list[CaseAnchor], params: VenueParams) -> pa.Table:
        """See `TracingEngine.venue_contacts`."""
        if params.min_overlap_min < 0 or params.default_dwell_min <= 0 or params.lookback_days < 0:
            raise Invalid(
                "venue parameters must be non-negative (default dwell positive)",
                [ErrorDetail("params", "out of range", repr(params))],
            )
        with self._session() as spark:
            opened = self._open(spark, checkins, "check-ins")
            if not opened.empty:
                opened.require("person_id", "place_id", "time")
                self._type_text(opened, ids=[("person_id",), ("place_id",)], times=("time", "leave_time"))
            kind = self._id_kind(opened, "person_id", [c.person_id for c in cases])
            place_kind = self._id_kind(opened, "place_id", list(params.dwell_by_place))
            schema = pa.schema(
                [
                    ("case_person_id", _id_type(kind)),
                    ("person_id", _id_type(kind)),
                    ("place_id", _id_type(place_kind)),
                    ("overlap_minutes", pa.float64()),
                    ("first_seen", TS),
                    ("last_seen", TS),
                ]
            )
            rows = self._case_rows(
                kind,
                cases,
                int(round(params.lookback_days * DAY)),
                int(round(params.until_hours_after * HOUR)),
            )
            if opened.empty or not rows:
                return schema.empty_table()
            places = [(p, float(m)) for p, m in params.dwell_by_place.items()]
            keys = id_values([p for p, _ in places], place_kind)
            minutes = [m for p, m in places if id_values([p], place_kind)]
            dwell = F.broadcast(
                spark.createDataFrame(
                    pa.table(
                        {
                            "place": pa.array(keys, _id_type(place_kind)),
                            "dus": pa.array([_round_us(m) for m in minutes], pa.int64()),
                        }
                    )
                )
            )
            default_us = _round_us(float(params.default_dwell_min))
            max_dwell = int(max([params.default_dwell_min, *minutes]) * MINUTE)
            lo, hi = min(r[2] for r in rows), max(r[3] for r in rows)
            mo = _ceil_us(params.min_overlap_min, MINUTE)
            lt = (
                self._time_us(opened, "leave_time", lo, hi)
                if opened.has("leave_time")
                else "CAST(NULL AS BIGINT)"
            )
            case_df = self._cases_df(spark, kind, rows)

            # venue_presence: [time, leave_time], or [time, time + the venue's dwell].
            v = opened.frame.where(F.expr(self._raw(opened, "time", hi, "<", +1))).select(
                F.expr(opened.id_sql("person_id")).alias("pid"),
                F.expr(opened.id_sql("place_id")).alias("place"),
                F.expr(self._time_us(opened, "time", lo, hi)).alias("s"),
                F.expr(lt).alias("lt"),
            )
            vp = (
                v.join(dwell, "place", "left")
                .where(
                    "pid IS NOT NULL AND place IS NOT NULL AND s IS NOT NULL AND (lt IS NULL OR lt > s)"
                    f" AND s < {hi} AND coalesce(lt, s + {max_dwell}) > {lo}"
                )
                .select(
                    "pid", "place", "s", F.expr(f"coalesce(lt, s + coalesce(dus, {default_us}))").alias("e")
                )
                .distinct()
            )
            # venue_merge: the cases' presence clipped to their windows; everyone's at those places.
            mine = (
                vp.join(case_df, "pid")
                .where("s < a AND e > lo")
                .select("cid", "pid", "place", F.greatest("s", "lo").alias("s"), F.least("e", "a").alias("e"))
            )
            k = _merge(mine, ["cid", "place"]).select(
                "cid", "place", F.col("s").alias("ks"), F.col("e").alias("ke")
            )
            others = _merge(vp.join(mine.select("place").distinct(), "place", "left_semi"), ["pid", "place"])
            result = (
                k.join(case_df.select("cid", F.col("pid").alias("case_person_id")), "cid")
                .join(others, "place")
                .where("s < ke AND e > ks AND pid <> case_person_id")
                .withColumn("os", F.greatest("s", "ks"))
                .withColumn("oe", F.least("e", "ke"))
                .groupBy("case_person_id", "pid", "place")
                .agg(
                    F.sum(F.col("oe") - F.col("os")).alias("ov"),
                    F.min("os").alias("first_seen"),
                    F.max("oe").alias("last_seen"),
                )
                .where(F.col("ov") >= F.lit(mo))
                .select(
                    "case_person_id",
                    F.col("pid").alias("person_id"),
                    F.col("place").alias("place_id"),
                    (F.col("ov").cast("double") / F.lit(60000000.0)).alias("overlap_minutes"),
                    "first_seen",
                    "last_seen",
                )
                .orderBy("case_person_id", "person_id", "place_id")
            )
            return _finish(self._arrow("venue_result", result), schema)

    # ------------------------------------------------------------ vehicles

    def vehicle_contacts(self, travel: Source, cases: list[CaseAnchor], params: VehicleParams) -> pa.Table:
        """See `TracingEngine.vehicle_contacts`. Seats give rows by their leading number (`12A` →
        12); a seat without a row (`无座`) matches only by carriage or vehicle."""
        if params.train not in ("carriage", "rows") or params.coach not in ("vehicle", "rows"):
            raise Invalid(
                "train must be carriage|rows and coach vehicle|rows",
                [ErrorDetail("params", "unknown rule", f"{params.train}/{params.coach}")],
            )
        with self._session() as spark:
            opened = self._open(spark, travel, "travel records")
            if not opened.empty:
                opened.require("person_id", "mode", "number", "date")
                self._type_text(opened, ids=[("person_id",)], dates=("date",))
            kind = self._id_kind(opened, "person_id", [c.person_id for c in cases])
            schema = pa.schema(
                [
                    ("case_person_id", _id_type(kind)),
                    ("person_id", _id_type(kind)),
                    ("mode", pa.string()),
                    ("number", pa.string()),
                    ("date", pa.date32()),
                    ("carriage", pa.string()),
                    ("seat", pa.string()),
                    ("case_seat", pa.string()),
                ]
            )
            rows = self._case_rows(kind, cases, int(round(params.lookback_days * DAY)))
            if opened.empty or not rows:
                return schema.empty_table()
            date_kind = opened.types["date"]
            if isinstance(date_kind, T.TimestampType):
                date = f"to_date(from_utc_timestamp({q('date')}, {lit(self.timezone)}))"
            elif isinstance(date_kind, T.StringType):
                date = f"CAST(trim({q('date')}) AS DATE)"
            else:
                date = f"CAST({q('date')} AS DATE)"
            carriage = (
                f"CAST({q('carriage')} AS STRING)" if opened.has("carriage") else "CAST(NULL AS STRING)"
            )
            seat = f"CAST({q('seat')} AS STRING)" if opened.has("seat") else "CAST(NULL AS STRING)"
            t0 = opened.frame.select(
                F.expr(opened.id_sql("person_id")).alias("pid"),
                F.expr(f"lower(trim(CAST({q('mode')} AS STRING)))").alias("m0"),
                F.expr(f"upper(replace(trim(CAST({q('number')} AS STRING)), ' ', ''))").alias("number"),
                F.expr(date).alias("date"),
                F.expr(f"nullif(trim({carriage}), '')").alias("c0"),
                F.expr(f"nullif(upper(trim({seat})), '')").alias("seat"),
            )

            def one_of(values: Sequence[str]) -> str:
                return "m0 IN (" + ", ".join(lit(v) for v in values) + ")"

            tr = (
                t0.where("pid IS NOT NULL AND number IS NOT NULL AND date IS NOT NULL")
                .select(
                    "pid",
                    F.expr(
                        f"CASE WHEN {one_of(_FLIGHT)} THEN 'flight' WHEN {one_of(_TRAIN)} THEN 'train'"
                        f" WHEN {one_of(_COACH)} THEN 'coach' END"
                    ).alias("mode"),
                    "number",
                    "date",
                    F.expr(
                        "CASE WHEN c0 RLIKE '^[0-9]+$' THEN regexp_replace(c0, '^0+(?=[0-9])', '')"
                        " ELSE upper(c0) END"
                    ).alias("carriage"),
                    "seat",
                    F.expr("try_cast(nullif(regexp_extract(seat, '^0*([0-9]+)', 1), '') AS INT)").alias(
                        "seat_row"
                    ),
                )
                .distinct()
            )
            case_df = self._cases_df(spark, kind, rows, dates=True)
            k = tr.select(
                F.col("pid").alias("kpid"),
                "mode",
                "number",
                "date",
                F.col("carriage").alias("kcarriage"),
                F.col("seat").alias("case_seat"),
                F.col("seat_row").alias("krow"),
            )
            mine = (
                k.join(case_df.withColumnRenamed("pid", "kpid"), "kpid")
                .where("date BETWEEN d_lo AND d_hi")
                .select(
                    F.col("kpid").alias("case_person_id"),
                    "mode",
                    "number",
                    "date",
                    "kcarriage",
                    "case_seat",
                    "krow",
                )
            )
            rule = (
                f"(mode = 'flight' AND abs(seat_row - krow) <= {int(params.aircraft_rows)})"
                f" OR (mode = 'train' AND carriage = kcarriage"
                f" AND ({'true' if params.train == 'carriage' else 'false'}"
                f" OR abs(seat_row - krow) <= {int(params.train_rows)}))"
                f" OR (mode = 'coach' AND ({'true' if params.coach == 'vehicle' else 'false'}"
                f" OR abs(seat_row - krow) <= {int(params.coach_rows)}))"
            )
            matched = (
                mine.join(tr, ["mode", "number", "date"])
                .where(f"pid <> case_person_id AND ({rule})")
                .withColumn("_dist", F.expr("abs(seat_row - krow)"))
            )
            # DISTINCT ON (case, person, date, number, mode): the nearest seat of the case.
            best = Window.partitionBy("case_person_id", "pid", "date", "number", "mode").orderBy(
                F.col("_dist").asc_nulls_last(),
                F.col("case_seat").asc_nulls_last(),
                F.col("kcarriage").asc_nulls_last(),
                F.col("carriage").asc_nulls_last(),
                F.col("seat").asc_nulls_last(),
            )
            result = (
                matched.withColumn("_rank", F.row_number().over(best))
                .where("_rank = 1")
                .select(
                    "case_person_id",
                    F.col("pid").alias("person_id"),
                    "mode",
                    "number",
                    "date",
                    "carriage",
                    "seat",
                    "case_seat",
                )
                .orderBy("case_person_id", "person_id", "date", "number", "mode")
            )
            return _finish(self._arrow("vehicle_result", result), schema)

    # ------------------------------------------------------------ secondary contacts

    def secondary_contacts(self, edges: Source, exposures: list[Exposure]) -> pa.Table:
        """See `TracingEngine.secondary_contacts`. Edges are undirected; a close contact given
        twice counts from the later exposure."""
        with self._session() as spark:
            opened = self._open(spark, edges, "contact edges")
            if not opened.empty:
                opened.require("person_id", "other_id", "setting")
                self._type_text(opened, ids=[("person_id", "other_id")])
            kinds = {opened.ids(c) for c in ("person_id", "other_id") if opened.has(c)}
            kind = (
                ("str" if "str" in kinds else "int")
                if kinds
                else ("str" if any(isinstance(x.person_id, str) for x in exposures) else "int")
            )
            schema = pa.schema(
                [
                    ("contact_person_id", _id_type(kind)),
                    ("person_id", _id_type(kind)),
                    ("setting", pa.string()),
                    ("since", TS),
                ]
            )
            latest: dict[Any, int] = {}
            for x in exposures:
                for pid in id_values([x.person_id], kind):
                    latest[pid] = max(latest.get(pid, _us(x.since, "since")), _us(x.since, "since"))
            if opened.empty or not latest:
                return schema.empty_table()
            exp = F.broadcast(
                spark.createDataFrame(
                    pa.table(
                        {
                            "xpid": pa.array(list(latest), _id_type(kind)),
                            "since": pa.array(list(latest.values()), pa.int64()),
                        }
                    )
                )
            )
            cast = "BIGINT" if kind == "int" else "STRING"
            e = opened.frame.select(
                F.expr(f"CAST({q('person_id')} AS {cast})").alias("a"),
                F.expr(f"CAST({q('other_id')} AS {cast})").alias("b"),
                F.expr(f"lower(trim(CAST({q('setting')} AS STRING)))").alias("setting"),
            )
            both_ways = e.join(exp.select(F.col("xpid").alias("a")), "a", "left_semi").unionByName(
                e.join(exp.select(F.col("xpid").alias("b")), "b", "left_semi").select(
                    F.col("b").alias("a"), F.col("a").alias("b"), "setting"
                )
            )
            result = (
                both_ways.join(exp, F.col("a") == F.col("xpid"))
                .where("setting IN ('household', 'workplace') AND b IS NOT NULL AND b <> xpid")
                .groupBy("xpid", "b", "setting")
                .agg(F.first("since").alias("since"))
                .select(
                    F.col("xpid").alias("contact_person_id"),
                    F.col("b").alias("person_id"),
                    "setting",
                    "since",
                )
                .orderBy("contact_person_id", "person_id", "setting")
            )
            return _finish(self._arrow("secondary", result), schema)

    # ------------------------------------------------------------ trajectory

    def trajectory(
        self, stays: Source, person_id: PersonId, start: dt.datetime, end: dt.datetime, grid: Grid
    ) -> pa.Table:
        """See `TracingEngine.trajectory`. Exact duplicate stays are listed once."""
        lo, hi = _us(start, "start"), _us(end, "end")
        with self._session() as spark:
            opened = self._open_stays(spark, stays)
            kind = self._id_kind(opened, "person_id", [person_id])
            cell_type = (
                pa.int64()
                if not opened.has("cell_id") or isinstance(opened.types["cell_id"], INTEGER_TYPES)
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
            ids = id_values([person_id], kind)
            if opened.empty or not ids or hi <= lo:
                return schema.empty_table()
            has_pos = opened.has("lon") and opened.has("lat")
            pre = f"{self._raw(opened, 'end', lo, '>', -1)} AND {self._raw(opened, 'start', hi, '<', +1)}"
            x = (
                opened.frame.where(F.expr(pre))
                .where(F.expr(f"{opened.id_sql('person_id')} = {lit(ids[0])}"))
                .select(
                    F.expr(self._time_us(opened, "start", lo, hi)).alias("s"),
                    F.expr(self._time_us(opened, "end", lo, hi)).alias("e"),
                    F.expr(f"CAST({q('lon')} AS DOUBLE)" if has_pos else "CAST(NULL AS DOUBLE)").alias("lon"),
                    F.expr(f"CAST({q('lat')} AS DOUBLE)" if has_pos else "CAST(NULL AS DOUBLE)").alias("lat"),
                    F.expr(self._cell(opened, grid)).alias("cell_id"),
                )
                .where(f"s < {hi} AND e > {lo} AND e > s")
            )
            result = (
                x.select(
                    F.greatest("s", F.lit(lo)).alias("start"),
                    F.least("e", F.lit(hi)).alias("end"),
                    "lon",
                    "lat",
                    "cell_id",
                    (
                        (F.least("e", F.lit(hi)) - F.greatest("s", F.lit(lo))).cast("double")
                        / F.lit(60000000.0)
                    ).alias("minutes"),
                )
                .distinct()
                .orderBy(
                    F.col("start").asc(),
                    F.col("end").asc(),
                    F.col("cell_id").asc_nulls_last(),
                    F.col("lon").asc_nulls_last(),
                    F.col("lat").asc_nulls_last(),
                )
            )
            return _finish(self._arrow("trajectory", result), schema)


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
