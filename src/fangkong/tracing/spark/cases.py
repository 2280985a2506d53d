"""The cases of a question: each case person's window worked out once in Python (`case_rows`,
as the DuckDB engine does) and sent to every executor as a small broadcast table
(`cases_frame`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fangkong.errors import ErrorDetail, Invalid
from fangkong.tracing.ports import CaseAnchor
from fangkong.tracing.sources import id_values
from fangkong.tracing.spark.helpers import epoch_us, id_type

if TYPE_CHECKING:
    from fangkong.tracing.spark.engine import SparkEngine


def case_rows(
    engine: SparkEngine, kind: str, cases: Sequence[CaseAnchor], before_us: int, after_us: int = 0
) -> list[tuple[int, Any, int, int, dt.date, dt.date]]:
    """(cid, pid, lo, a, first local date, last local date), one per case person; ids
    converted to the data's id type (a case whose id cannot be converted matches nothing)."""
    seen: dict[Any, int] = {}
    rows: list[tuple[int, Any, int, int, dt.date, dt.date]] = []
    zone = zoneinfo.ZoneInfo(engine.timezone)
    for case in cases:
        anchor = epoch_us(case.anchor, "anchor")
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


def cases_frame(
    spark: SparkSession, kind: str, rows: Sequence[tuple[Any, ...]], dates: bool = False
) -> DataFrame:
    """The case rows on the cluster (`cid, pid, lo, a`, with `dates`: `d_lo, d_hi`), broadcast."""
    columns: dict[str, Any] = {
        "cid": pa.array([r[0] for r in rows], pa.int32()),
        "pid": pa.array([r[1] for r in rows], id_type(kind)),
        "lo": pa.array([r[2] for r in rows], pa.int64()),
        "a": pa.array([r[3] for r in rows], pa.int64()),
    }
    if dates:
        columns["d_lo"] = pa.array([r[4] for r in rows], pa.date32())
        columns["d_hi"] = pa.array([r[5] for r in rows], pa.date32())
    return F.broadcast(spark.createDataFrame(pa.table(columns)))
