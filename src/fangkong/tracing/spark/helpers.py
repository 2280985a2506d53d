"""Small helpers shared by the steps of the Spark engine: units (everything is UTC epoch
microseconds), SQL text (`q` for identifiers, `lit` for literals), the conversions of times and
thresholds done in Python exactly as the DuckDB engine does them, the typing of result tables
(`finish`), and the two interval steps on DataFrames (`merge_intervals`, `union_length`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fangkong.errors import ErrorDetail, Invalid

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TS = pa.timestamp("us", tz="UTC")
INTEGER_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)


# ---------------------------------------------------------------- SQL text


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


# ---------------------------------------------------------------- times and numbers


def epoch_us(moment: dt.datetime, what: str = "time") -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid(
            f"{what} needs a time zone: {moment.isoformat()}",
            [ErrorDetail(what, "time without a zone", moment.isoformat())],
        )
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def from_epoch_us(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def ceil_us(value: float, unit: int) -> int:
    """A threshold in µs, as the DuckDB engine rounds it (`ceil(x · unit − 1e-6)`)."""
    return int(math.ceil(value * unit - 1e-6))


def round_us(minutes: float) -> int:
    """`CAST(round(minutes * 60000000) AS BIGINT)`: the double product, halves away from zero."""
    return int(Decimal(minutes * 60000000).to_integral_value(rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- results


def id_type(kind: str) -> pa.DataType:
    return pa.int64() if kind == "int" else pa.string()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def finish(table: pa.Table, schema: pa.Schema) -> pa.Table:
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


# ---------------------------------------------------------------- intervals


def merge_intervals(df: DataFrame, keys: Sequence[str], carry: Sequence[str] = ()) -> DataFrame:
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


def union_length(df: DataFrame, keys: Sequence[str], s: str, e: str, name: str, *extra: Column) -> DataFrame:
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
