"""A plain pandas implementation of the companion definition (docs/tracing.md), the baseline
the DuckDB engine is compared with in `bench_companions.py --baseline`.

Written the way an analyst would with pandas, vectorised throughout and without the engine's
tricks (no time buckets, no dwell bounds):

1. read the stays, compute each stay's cell with the numpy projection (`projection.cell_ids`,
   the same formula as the engines' SQL), keep the stays that touch the union of the windows;
2. the cases' stays clipped to each case's window and merged per (case, cell) into disjoint
   intervals; the case's dwell per cell;
3. everyone's stays in those cells merged per (person, cell) into disjoint intervals;
4. merge the case intervals with the person intervals **on the cell**, keep the overlapping
   pairs, overlap = min(ends) − max(starts); since both sides are disjoint the overlaps add up
   to the co-presence; sum per (case, person, cell) and keep ≥ the minimum;
5. dwell test: the case's dwell in the cell, else the person's own dwell clipped to the case's
   window; aggregate the qualifying cells per (case, person).

Step 4 is done for a batch of cases at a time so that the merged frame stays under
`max_rows` rows (the merge on the cell alone is a product per cell).

Same output as `TracingEngine.companions`: `case_person_id, person_id, co_presence_minutes,
cells, first_seen, last_seen` sorted by case and person.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fangkong.tracing.ports import CaseAnchor, CompanionParams
from fangkong.tracing.projection import cell_ids

US = 1_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TS = pa.timestamp("us", tz="UTC")


def _us(moment: dt.datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def merge_intervals(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per `keys`, the union of the intervals [s, e) as disjoint intervals (touching ones joined)."""
    keys = list(keys)
    df = df.sort_values([*keys, "s", "e"], ignore_index=True)
    if df.empty:
        return df[[*keys, "s", "e"]]
    same = np.ones(len(df), dtype=bool)
    for k in keys:
        col = df[k].to_numpy()
        same[1:] &= col[1:] == col[:-1]
    same[0] = False
    reach = df.groupby(keys, sort=False)["e"].cummax().to_numpy()
    prev = np.empty(len(df), dtype=np.int64)
    prev[1:] = reach[:-1]
    prev[0] = 0
    starts = np.flatnonzero(~same | (df["s"].to_numpy() > prev))
    out = df.iloc[starts][keys].reset_index(drop=True)  # sorted by start: the first is the least
    out["s"] = df["s"].to_numpy()[starts]
    out["e"] = np.maximum.reduceat(df["e"].to_numpy(), starts) if len(df) else df["e"].to_numpy()
    return out


def companions_pandas(
    path: str,
    cases: list[CaseAnchor],
    params: CompanionParams,
    *,
    max_rows: int = 30_000_000,
    timings: dict[str, float] | None = None,
) -> pa.Table:
    timings = {} if timings is None else timings
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 3)
        clock = now

    window = int(round(params.window_days * 86400 * US))
    mo = int(math.ceil(params.min_overlap_min * 60 * US - 1e-6))
    md = int(math.ceil(params.min_dwell_h * 3600 * US - 1e-6))
    cases_df = pd.DataFrame(
        {
            "cid": np.arange(len(cases)),
            "cpid": np.array([int(c.person_id) for c in cases], dtype=np.int64),
            "a": np.array([_us(c.anchor) for c in cases], dtype=np.int64),
        }
    )
    cases_df["lo"] = cases_df["a"] - window
    lo_all, hi_all = int(cases_df["lo"].min()), int(cases_df["a"].max())

    # 1. stays with their cells, in the union of the windows
    table = pq.read_table(path, columns=["person_id", "start", "end", "lon", "lat"])
    stays = pd.DataFrame(
        {
            "pid": table["person_id"].to_numpy(),
            "s": table["start"].cast(pa.int64()).to_numpy(),
            "e": table["end"].cast(pa.int64()).to_numpy(),
            "cell": cell_ids(
                table["lon"].to_numpy(),
                table["lat"].to_numpy(),
                params.grid.utm_zone,
                float(params.grid.cell_size_m),
                params.grid.south,
            ),
        }
    )
    del table
    stays = stays[(stays["e"] > stays["s"]) & (stays["s"] < hi_all) & (stays["e"] > lo_all)]
    lap("read+cells")

    # 2. the cases' presence per cell, clipped to their windows, and their dwell
    cs = stays.merge(cases_df, left_on="pid", right_on="cpid")
    cs["s"] = np.maximum(cs["s"], cs["lo"])
    cs["e"] = np.minimum(cs["e"], cs["a"])
    cs = cs[cs["e"] > cs["s"]]
    case_iv = merge_intervals(cs[["cid", "cell", "s", "e"]], ["cid", "cell"])
    case_iv = case_iv.merge(cases_df[["cid", "cpid"]], on="cid")
    case_dwell = (
        case_iv.assign(d=case_iv["e"] - case_iv["s"]).groupby(["cid", "cell"], as_index=False)["d"].sum()
    )
    case_dwell["strong"] = case_dwell["d"] >= md
    lap("case intervals")

    # 3. everyone's presence in those cells
    others = stays[stays["cell"].isin(case_iv["cell"].unique())]
    person_iv = merge_intervals(others[["pid", "cell", "s", "e"]], ["pid", "cell"])
    del others, stays
    lap("person intervals")

    # 4. case intervals × person intervals on the cell, in batches of cases
    per_cell = person_iv["cell"].value_counts()
    load = case_iv["cell"].map(per_cell).fillna(0).groupby(case_iv["cid"]).sum()
    batch_of = (load.cumsum() // max_rows).astype(np.int64)
    parts = []
    pv = person_iv.rename(columns={"s": "ps", "e": "pe"})
    for _, cids in batch_of.groupby(batch_of):
        k = case_iv[case_iv["cid"].isin(cids.index)].rename(columns={"s": "cs", "e": "ce"})
        m = k.merge(pv, on="cell")
        m = m[m["pid"] != m["cpid"]]
        os_ = np.maximum(m["cs"].to_numpy(), m["ps"].to_numpy())
        oe = np.minimum(m["ce"].to_numpy(), m["pe"].to_numpy())
        keep = oe > os_
        pieces = pd.DataFrame(
            {
                "cid": m["cid"].to_numpy()[keep],
                "pid": m["pid"].to_numpy()[keep],
                "cell": m["cell"].to_numpy()[keep],
                "co": (oe - os_)[keep],
                "fs": os_[keep],
                "ls": oe[keep],
            }
        )
        del m
        agg = pieces.groupby(["cid", "pid", "cell"], as_index=False, sort=False).agg(
            co=("co", "sum"), fs=("fs", "min"), ls=("ls", "max")
        )
        parts.append(agg[agg["co"] >= mo])
    agg = pd.concat(parts, ignore_index=True)
    lap("co-presence")

    # 5. the dwell rule, then one row per (case, person)
    agg = agg.merge(case_dwell[["cid", "cell", "strong"]], on=["cid", "cell"])
    if md > 0:
        weak = agg.loc[~agg["strong"], ["cid", "pid", "cell"]].merge(cases_df[["cid", "lo", "a"]], on="cid")
        w = weak.merge(person_iv, on=["pid", "cell"])
        w["d"] = np.maximum(np.minimum(w["e"], w["a"]) - np.maximum(w["s"], w["lo"]), 0)
        dwell = w.groupby(["cid", "pid", "cell"], as_index=False)["d"].sum()
        agg = agg.merge(dwell, on=["cid", "pid", "cell"], how="left")
        agg = agg[agg["strong"] | (agg["d"].fillna(0) >= md)]
    out = agg.groupby(["cid", "pid"], as_index=False).agg(
        co=("co", "sum"), cells=("cell", "size"), fs=("fs", "min"), ls=("ls", "max")
    )
    out = out.merge(cases_df[["cid", "cpid"]], on="cid").sort_values(["cpid", "pid"], ignore_index=True)
    lap("dwell+result")
    return pa.table(
        {
            "case_person_id": pa.array(out["cpid"].to_numpy(), pa.int64()),
            "person_id": pa.array(out["pid"].to_numpy(), pa.int64()),
            "co_presence_minutes": pa.array(out["co"].to_numpy() / 60_000_000.0, pa.float64()),
            "cells": pa.array(out["cells"].to_numpy(), pa.int64()),
            "first_seen": pa.array(out["fs"].to_numpy(), pa.int64()).cast(TS),
            "last_seen": pa.array(out["ls"].to_numpy(), pa.int64()).cast(TS),
        }
    )
