"""One person's trajectory (`TracingEngine.trajectory`) on Spark: their stays clipped to a time
range, in time order, exact duplicates listed once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import functions as F

from fangkong.tracing.ports import Grid, PersonId, Source
from fangkong.tracing.sources import id_values
from fangkong.tracing.spark.helpers import INTEGER_TYPES, TS, epoch_us, finish, lit, q
from fangkong.tracing.spark.inputs import cell_expr, id_kind, open_stays, raw_predicate, time_us

if TYPE_CHECKING:
    from fangkong.tracing.spark.engine import SparkEngine


def find_trajectory(
    engine: SparkEngine, stays: Source, person_id: PersonId, start: dt.datetime, end: dt.datetime, grid: Grid
) -> pa.Table:
    """See `TracingEngine.trajectory`. Exact duplicate stays are listed once."""
    lo, hi = epoch_us(start, "start"), epoch_us(end, "end")
    with engine._session() as spark:
        opened = open_stays(engine, spark, stays)
        kind = id_kind(opened, "person_id", [person_id])
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
        pre = f"{raw_predicate(opened, 'end', lo, '>', -1)} AND {raw_predicate(opened, 'start', hi, '<', +1)}"
        x = (
            opened.frame.where(F.expr(pre))
            .where(F.expr(f"{opened.id_sql('person_id')} = {lit(ids[0])}"))
            .select(
                F.expr(time_us(engine, opened, "start", lo, hi)).alias("s"),
                F.expr(time_us(engine, opened, "end", lo, hi)).alias("e"),
                F.expr(f"CAST({q('lon')} AS DOUBLE)" if has_pos else "CAST(NULL AS DOUBLE)").alias("lon"),
                F.expr(f"CAST({q('lat')} AS DOUBLE)" if has_pos else "CAST(NULL AS DOUBLE)").alias("lat"),
                F.expr(cell_expr(opened, grid)).alias("cell_id"),
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
                    (F.least("e", F.lit(hi)) - F.greatest("s", F.lit(lo))).cast("double") / F.lit(60000000.0)
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
        return finish(engine._arrow("trajectory", result), schema)
