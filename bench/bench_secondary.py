"""Benchmark: secondary contacts (次密接) — the close contacts' household and workplace contacts
over a contact graph, with the DuckDB engine.

Generates (once; cached in --scratch, never in the repository) an undirected contact graph of
exactly --edges edges (`bench/gen_movement.py`: households as China's 2020 census, every pair
of a household linked; work teams of 3–40, every pair linked; `person_id, other_id, setting`,
zstd Parquet), picks --contacts persons of the graph as close contacts with exposure times over
two days, and times `DuckDBEngine.secondary_contacts(edges, exposures)` --repeat times, each in
a fresh process (peak memory as in bench_companions.py). The rows are checked against a plain
numpy computation of the same definition (edges both ways, household and workplace only, one
row per (contact, person, setting), `since` the contact's exposure).

    .venv/bin/python bench/bench_secondary.py [--edges 10_000_000] [--contacts 10000]

Benchmarks are not tests: this prints figures; record them in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_movement as gen
from bench_companions import GB, Sampler

TZ = "Asia/Shanghai"


def _int(value: str) -> int:
    return int(value.replace("_", "").replace(",", ""))


def exposures(first_id: int, persons: int, n: int, seed: int) -> list[tuple[int, str]]:
    rng = np.random.default_rng([seed, 30])
    ids = rng.choice(persons, n, replace=False) + first_id
    start = dt.datetime(2022, 3, 13, tzinfo=gen.LOCAL)
    minutes = rng.integers(0, 2 * 1440, n)
    return [
        (int(i), (start + dt.timedelta(minutes=int(m))).isoformat())
        for i, m in zip(ids, minutes, strict=True)
    ]


def _child(spec: dict[str, Any], conn: Connection) -> None:
    import resource

    from fangkong.tracing.duckdb_engine import DuckDBEngine
    from fangkong.tracing.ports import Exposure

    found = [Exposure(p, dt.datetime.fromisoformat(s)) for p, s in spec["exposures"]]
    engine = DuckDBEngine(memory_limit=spec["memory_limit"], timezone=TZ, temp_directory=spec["spill"])
    start = time.perf_counter()
    table = engine.secondary_contacts(spec["path"], found)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    pq.write_table(table, spec["out"])
    conn.send({"seconds": seconds, "ru_maxrss": peak, "rows": table.num_rows, "steps": engine.last_timings})
    conn.close()


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    ctx = get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(spec, child))
    proc.start()
    child.close()
    sampler = Sampler(proc.pid or 0)
    sampler.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    sampler.done.set()
    sampler.join()
    result["peak"] = max(result["ru_maxrss"], sampler.peak)
    return result


def expected(path: Path, found: list[tuple[int, str]]) -> pa.Table:
    """The same definition in numpy: (contact, other, setting) both ways, deduplicated."""
    edges = pq.read_table(path)
    a, b = edges["person_id"].to_numpy(), edges["other_id"].to_numpy()
    setting = np.asarray(edges["setting"].to_pylist(), dtype=object)
    ids = np.array([p for p, _ in found], dtype=np.int64)
    since = {p: dt.datetime.fromisoformat(s) for p, s in found}
    fwd, back = np.isin(a, ids), np.isin(b, ids)
    contact = np.concatenate([a[fwd], b[back]])
    other = np.concatenate([b[fwd], a[back]])
    kind = np.concatenate([setting[fwd], setting[back]])
    rows = sorted({(int(c), int(o), str(k)) for c, o, k in zip(contact, other, kind, strict=True) if c != o})
    return pa.table(
        {
            "contact_person_id": pa.array([r[0] for r in rows], pa.int64()),
            "person_id": pa.array([r[1] for r in rows], pa.int64()),
            "setting": pa.array([r[2] for r in rows], pa.string()),
            "since": pa.array([since[r[0]] for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", type=_int, default=10_000_000)
    parser.add_argument("--contacts", type=_int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory-limit", default="8GB")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/fk_bench"))
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--target-seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(
        f"# secondary contacts benchmark — {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    args.scratch.mkdir(parents=True, exist_ok=True)
    path, facts, made = gen.edges_dataset(args.scratch, args.edges, args.seed)
    print(
        f"data: {facts['edges']:,} edges among {facts['persons']:,} persons, "
        f"{int(facts['bytes']) / GB:.2f} GB, "
        f"{path} — {'generated' if made else 'cached, generated earlier'} in {facts['generate_seconds']} s "
        "(not counted)"
    )
    found = exposures(int(facts["first_id"]), int(facts["persons"]), args.contacts, args.seed)
    out = args.scratch / "results" / f"secondary-{args.edges}-{args.contacts}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "path": str(path),
        "exposures": found,
        "memory_limit": args.memory_limit,
        "spill": str(args.scratch / "spill"),
        "out": str(out),
    }
    runs = []
    for i in range(args.repeat):
        r = measure(spec)
        runs.append(r)
        print(f"  run {i + 1}: {r['seconds']:.2f} s, peak {r['peak'] / GB:.2f} GB, {r['rows']:,} rows")
    want = expected(path, found)
    got = pq.read_table(out)
    same = got.equals(want)
    times = [r["seconds"] for r in runs]
    print()
    print("| close contacts | edges | rows | best s | median s | peak RSS (GB) | same rows as numpy |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.contacts:,} | {facts['edges']:,} | {got.num_rows:,} | {min(times):.2f} | "
        f"{statistics.median(times):.2f} | {max(r['peak'] for r in runs) / GB:.2f} | "
        f"{'yes' if same else 'NO'} |"
    )
    print(
        f"target ≤ {args.target_seconds} s (median): "
        f"{'MET' if statistics.median(times) <= args.target_seconds else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
