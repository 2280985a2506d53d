"""Companions (`TracingEngine.companions`) on Spark: the cases' stays clipped to their windows
and merged per cell, everyone's stays in those cells met in time buckets, the co-presence per
(case, person, cell) with the dwell rule, summed per (case, person). The steps and their names
follow the statements of the DuckDB engine (`sql/companions.sql`); the method is in
docs/tracing.md.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from fangkong.tracing.ports import (
    CaseAnchor,
    CompanionParams,
    Source,
    check_companion_params,
    companion_schema,
)
from fangkong.tracing.spark.cases import case_rows, cases_frame
from fangkong.tracing.spark.helpers import (
    DAY,
    HOUR,
    MINUTE,
    ceil_us,
    finish,
    merge_intervals,
    union_length,
)
from fangkong.tracing.spark.inputs import cell_expr, id_kind, open_stays, raw_predicate, time_us

if TYPE_CHECKING:
    from fangkong.tracing.spark.engine import SparkEngine


def find_companions(
    engine: SparkEngine, stays: Source, cases: list[CaseAnchor], params: CompanionParams
) -> pa.Table:
    """See `TracingEngine.companions`; the method is in docs/tracing.md."""
    check_companion_params(params)
    window = int(round(params.window_days * DAY))
    with engine._session() as spark:
        opened = open_stays(engine, spark, stays)
        kind = id_kind(opened, "person_id", [c.person_id for c in cases])
        schema = companion_schema(kind)
        rows = case_rows(engine, kind, cases, window)
        engine.last_cases_without_stays = [r[1] for r in rows]
        if opened.empty or not rows:
            return schema.empty_table()
        lo, hi = min(r[2] for r in rows), max(r[3] for r in rows)
        md = ceil_us(params.min_dwell_h, HOUR)
        mo = ceil_us(params.min_overlap_min, MINUTE)
        b = engine.bucket_us
        pre = f"{raw_predicate(opened, 'end', lo, '>', -1)} AND {raw_predicate(opened, 'start', hi, '<', +1)}"
        raw = opened.frame.where(F.expr(pre))
        st = [
            F.expr(opened.id_sql("person_id")).alias("pid"),
            F.expr(time_us(engine, opened, "start", lo, hi)).alias("s"),
            F.expr(time_us(engine, opened, "end", lo, hi)).alias("e"),
            F.expr(cell_expr(opened, params.grid)).alias("cell"),
        ]
        case_df = cases_frame(spark, kind, rows)

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
        ci_table = engine._arrow("case_intervals", merge_intervals(cst, ["cid", "cell"], carry=["cpid"]))
        with_stays = set(ci_table["cid"].to_pylist())
        engine.last_cases_without_stays = [r[1] for r in rows if r[0] not in with_stays]
        if not with_stays:
            return schema.empty_table()
        ci = spark.createDataFrame(ci_table)

        # case_dwell: cells where the case itself stayed long enough need no test of the person.
        spans = pc.subtract(ci_table["e"], ci_table["s"])
        dwell_table = ci_table.append_column("d", spans).group_by(["cid", "cell"]).aggregate([("d", "sum")])
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
            .select("pid", "cell", F.greatest("s", F.lit(lo)).alias("s"), F.least("e", F.lit(hi)).alias("e"))
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
                union_length(
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
                windows = F.broadcast(case_df.select("cid", F.col("lo").alias("wlo"), F.col("a").alias("wa")))
                kept = agg.persist()  # read twice: for the persons to test and for the result
                persisted.append(kept)
                need = kept.where(~F.col("strong")).select("cid", "pid", "cell").join(windows, "cid")
                start = time.perf_counter()
                small = need.count() <= engine.broadcast_rows
                engine.last_timings["co_presence"] = round(time.perf_counter() - start, 3)
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
                dwell = union_length(own, ["cid", "pid", "cell"], "s", "e", "d")
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
            return finish(engine._arrow("result", result), schema)
        finally:
            for frame in persisted:
                frame.unpersist()
