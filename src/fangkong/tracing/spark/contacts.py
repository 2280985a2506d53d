"""Venue, vehicle and secondary contacts (`TracingEngine.venue_contacts`, `vehicle_contacts`,
`secondary_contacts`) on Spark, step for step as the DuckDB engine's statements
(`sql/*.sql`): presence at the cases' places, shared journeys by seat rule, and the household
and workplace contacts of close contacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fangkong.errors import ErrorDetail, Invalid
from fangkong.tracing.ports import CaseAnchor, Exposure, Source, VehicleParams, VenueParams, secondary_schema
from fangkong.tracing.sources import id_values
from fangkong.tracing.spark.cases import case_rows, cases_frame
from fangkong.tracing.spark.helpers import (
    DAY,
    HOUR,
    MINUTE,
    TS,
    ceil_us,
    epoch_us,
    finish,
    id_type,
    lit,
    merge_intervals,
    q,
    round_us,
)
from fangkong.tracing.spark.inputs import id_kind, open_input, raw_predicate, time_us, type_text

if TYPE_CHECKING:
    from fangkong.tracing.spark.engine import SparkEngine

_FLIGHT = ("flight", "航班", "飞机", "民航", "plane", "air")
_TRAIN = ("train", "火车", "列车", "高铁", "动车", "rail")
_COACH = ("coach", "长途汽车", "客车", "大巴", "bus")


# ---------------------------------------------------------------- venues


def find_venue_contacts(
    engine: SparkEngine, checkins: Source, cases: list[CaseAnchor], params: VenueParams
) -> pa.Table:
    """See `TracingEngine.venue_contacts`."""
    if params.min_overlap_min < 0 or params.default_dwell_min <= 0 or params.lookback_days < 0:
        raise Invalid(
            "venue parameters must be non-negative (default dwell positive)",
            [ErrorDetail("params", "out of range", repr(params))],
        )
    with engine._session() as spark:
        opened = open_input(engine, spark, checkins, "check-ins")
        if not opened.empty:
            opened.require("person_id", "place_id", "time")
            type_text(engine, opened, ids=[("person_id",), ("place_id",)], times=("time", "leave_time"))
        kind = id_kind(opened, "person_id", [c.person_id for c in cases])
        place_kind = id_kind(opened, "place_id", list(params.dwell_by_place))
        schema = pa.schema(
            [
                ("case_person_id", id_type(kind)),
                ("person_id", id_type(kind)),
                ("place_id", id_type(place_kind)),
                ("overlap_minutes", pa.float64()),
                ("first_seen", TS),
                ("last_seen", TS),
            ]
        )
        rows = case_rows(
            engine,
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
                        "place": pa.array(keys, id_type(place_kind)),
                        "dus": pa.array([round_us(m) for m in minutes], pa.int64()),
                    }
                )
            )
        )
        default_us = round_us(float(params.default_dwell_min))
        max_dwell = int(max([params.default_dwell_min, *minutes]) * MINUTE)
        lo, hi = min(r[2] for r in rows), max(r[3] for r in rows)
        mo = ceil_us(params.min_overlap_min, MINUTE)
        lt = (
            time_us(engine, opened, "leave_time", lo, hi)
            if opened.has("leave_time")
            else "CAST(NULL AS BIGINT)"
        )
        case_df = cases_frame(spark, kind, rows)

        # venue_presence: [time, leave_time], or [time, time + the venue's dwell].
        v = opened.frame.where(F.expr(raw_predicate(opened, "time", hi, "<", +1))).select(
            F.expr(opened.id_sql("person_id")).alias("pid"),
            F.expr(opened.id_sql("place_id")).alias("place"),
            F.expr(time_us(engine, opened, "time", lo, hi)).alias("s"),
            F.expr(lt).alias("lt"),
        )
        vp = (
            v.join(dwell, "place", "left")
            .where(
                "pid IS NOT NULL AND place IS NOT NULL AND s IS NOT NULL AND (lt IS NULL OR lt > s)"
                f" AND s < {hi} AND coalesce(lt, s + {max_dwell}) > {lo}"
            )
            .select("pid", "place", "s", F.expr(f"coalesce(lt, s + coalesce(dus, {default_us}))").alias("e"))
            .distinct()
        )
        # venue_merge: the cases' presence clipped to their windows; everyone's at those places.
        mine = (
            vp.join(case_df, "pid")
            .where("s < a AND e > lo")
            .select("cid", "pid", "place", F.greatest("s", "lo").alias("s"), F.least("e", "a").alias("e"))
        )
        k = merge_intervals(mine, ["cid", "place"]).select(
            "cid", "place", F.col("s").alias("ks"), F.col("e").alias("ke")
        )
        others = merge_intervals(
            vp.join(mine.select("place").distinct(), "place", "left_semi"), ["pid", "place"]
        )
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
        return finish(engine._arrow("venue_result", result), schema)


# ------------------------------------------------------------ vehicles

# ---------------------------------------------------------------- vehicles


def find_vehicle_contacts(
    engine: SparkEngine, travel: Source, cases: list[CaseAnchor], params: VehicleParams
) -> pa.Table:
    """See `TracingEngine.vehicle_contacts`. Seats give rows by their leading number (`12A` →
    12); a seat without a row (`无座`) matches only by carriage or vehicle."""
    if params.train not in ("carriage", "rows") or params.coach not in ("vehicle", "rows"):
        raise Invalid(
            "train must be carriage|rows and coach vehicle|rows",
            [ErrorDetail("params", "unknown rule", f"{params.train}/{params.coach}")],
        )
    with engine._session() as spark:
        opened = open_input(engine, spark, travel, "travel records")
        if not opened.empty:
            opened.require("person_id", "mode", "number", "date")
            type_text(engine, opened, ids=[("person_id",)], dates=("date",))
        kind = id_kind(opened, "person_id", [c.person_id for c in cases])
        schema = pa.schema(
            [
                ("case_person_id", id_type(kind)),
                ("person_id", id_type(kind)),
                ("mode", pa.string()),
                ("number", pa.string()),
                ("date", pa.date32()),
                ("carriage", pa.string()),
                ("seat", pa.string()),
                ("case_seat", pa.string()),
            ]
        )
        rows = case_rows(engine, kind, cases, int(round(params.lookback_days * DAY)))
        if opened.empty or not rows:
            return schema.empty_table()
        date_kind = opened.types["date"]
        if isinstance(date_kind, T.TimestampType):
            date = f"to_date(from_utc_timestamp({q('date')}, {lit(engine.timezone)}))"
        elif isinstance(date_kind, T.StringType):
            date = f"CAST(trim({q('date')}) AS DATE)"
        else:
            date = f"CAST({q('date')} AS DATE)"
        carriage = f"CAST({q('carriage')} AS STRING)" if opened.has("carriage") else "CAST(NULL AS STRING)"
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
        case_df = cases_frame(spark, kind, rows, dates=True)
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
        return finish(engine._arrow("vehicle_result", result), schema)


# ---------------------------------------------------------------- secondary contacts


def find_secondary_contacts(engine: SparkEngine, edges: Source, exposures: list[Exposure]) -> pa.Table:
    """See `TracingEngine.secondary_contacts`. Edges are undirected; a close contact given
    twice counts from the later exposure."""
    with engine._session() as spark:
        opened = open_input(engine, spark, edges, "contact edges")
        if not opened.empty:
            opened.require("person_id", "other_id", "setting")
            type_text(engine, opened, ids=[("person_id", "other_id")])
        kinds = {opened.ids(c) for c in ("person_id", "other_id") if opened.has(c)}
        kind = (
            ("str" if "str" in kinds else "int")
            if kinds
            else ("str" if any(isinstance(x.person_id, str) for x in exposures) else "int")
        )
        schema = secondary_schema(kind)
        latest: dict[Any, int] = {}
        for x in exposures:
            for pid in id_values([x.person_id], kind):
                latest[pid] = max(latest.get(pid, epoch_us(x.since, "since")), epoch_us(x.since, "since"))
        if opened.empty or not latest:
            return schema.empty_table()
        exp = F.broadcast(
            spark.createDataFrame(
                pa.table(
                    {
                        "xpid": pa.array(list(latest), id_type(kind)),
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
        return finish(engine._arrow("secondary", result), schema)
