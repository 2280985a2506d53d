"""Benchmark: spatiotemporal companions (时空伴随者) — the DuckDB engine, a pandas baseline and
the Spark engine on generated movement data.

Generates (once; cached in --scratch, never in the repository) a city of persons with homes,
workplaces and venues around Chengdu and their stays over 14 days (`bench/gen_movement.py`),
picks --cases persons as cases with anchors spread over the last two days, and times
`companions(stays, cases, CompanionParams(Grid(800 m, UTM 48), min_overlap_min=10,
window_days=14, min_dwell_h=30))`. Each measured call runs in a fresh process, so its peak
memory is its own: `ru_maxrss` of that process and the peak RSS of its process tree (the JVM
for Spark) sampled every 0.2 s. Data generation is reported separately and not counted.

    .venv/bin/python bench/bench_companions.py --stays 100_000_000 --cases 1000      # target 1
    .venv/bin/python bench/bench_companions.py --stays 10_000_000 --baseline          # target 2
    .venv/bin/python bench/bench_companions.py --stays 1_000_000_000 --partitioned \\
        --region-km 126 --memory-limit 16GB --repeat 1 --delete-data                  # target 3
    .venv/bin/python bench/bench_companions.py --stays 10_000_000 --engine spark      # target 5

--baseline also runs `bench/pandas_companions.py` and --engine spark the Spark engine
(`local[*]`); both compare their table with DuckDB's: the same (case, person) rows, minutes
within 1e-6, the same cells, first and last seen.

Benchmarks are not tests: this prints figures; record them in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import threading
import time
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_movement as gen

TZ = "Asia/Shanghai"
GB = 1e9


def _int(value: str) -> int:
    return int(value.replace("_", "").replace(",", ""))


# ---------------------------------------------------------------- memory


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self.done.wait(self.every)


# ---------------------------------------------------------------- measured calls (child processes)


def _params(dwell: float) -> Any:
    from fangkong.tracing.ports import CompanionParams, Grid

    return CompanionParams(
        grid=Grid(cell_size_m=800, utm_zone=48), min_overlap_min=10, window_days=14, min_dwell_h=dwell
    )


def _child(kind: str, spec: dict[str, Any], conn: Connection) -> None:
    from fangkong.tracing.ports import CaseAnchor

    cases = [CaseAnchor(p, dt.datetime.fromisoformat(a)) for p, a in spec["cases"]]
    params = _params(spec["dwell"])
    runs: list[dict[str, Any]] = []
    table: pa.Table | None = None
    if kind == "duckdb":
        from fangkong.tracing.duckdb_engine import DuckDBEngine

        engine = DuckDBEngine(
            memory_limit=spec["memory_limit"],
            threads=spec["threads"],
            temp_directory=spec["spill"],
            timezone=TZ,
        )
        engine.count_rows = spec["count_rows"]
        start = time.perf_counter()
        table = engine.companions(spec["path"], cases, params)
        runs.append({"seconds": time.perf_counter() - start, "steps": dict(engine.last_timings)})
    elif kind == "pandas":
        from pandas_companions import companions_pandas

        steps: dict[str, float] = {}
        start = time.perf_counter()
        table = companions_pandas(spec["path"], cases, params, timings=steps)
        runs.append({"seconds": time.perf_counter() - start, "steps": steps})
    elif kind == "spark":
        from fangkong.tracing.ports import engine as make_engine

        config = {
            "spark.driver.memory": spec["spark_memory"],
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": str(spec["shuffle_partitions"]),
        }
        spark = make_engine("spark", master=spec["master"], config=config, timezone=TZ)
        start = time.perf_counter()
        spark.spark.sparkContext.setLogLevel("ERROR")  # type: ignore[attr-defined]
        session_seconds = time.perf_counter() - start
        for _ in range(spec["runs"]):
            start = time.perf_counter()
            table = spark.companions(spec["path"], cases, params)
            runs.append({"seconds": time.perf_counter() - start, "steps": dict(spark.last_timings)})  # type: ignore[attr-defined]
        runs[0]["session_seconds"] = session_seconds
    assert table is not None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime  # the whole process: imports, reading cases, the call(s)
    pq.write_table(table, spec["out"])
    if kind == "spark":
        spark.close()  # type: ignore[attr-defined]
    conn.send({"runs": runs, "ru_maxrss": peak, "rows": table.num_rows, "cpu": cpu})
    conn.close()


def measure(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    ctx = get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(kind, spec, child))
    proc.start()
    child.close()
    sampler = Sampler(proc.pid or 0)
    sampler.start()
    try:
        result: dict[str, Any] = parent.recv()
    except EOFError:
        proc.join()
        raise SystemExit(f"{kind} run failed (exit code {proc.exitcode})") from None
    proc.join()
    sampler.done.set()
    sampler.join()
    result["tree_peak"] = sampler.peak
    result["peak"] = max(sampler.peak, result["ru_maxrss"])
    return result


# ---------------------------------------------------------------- comparing results


def compare(a: pa.Table, b: pa.Table, tolerance: float = 1e-6) -> list[str]:
    """Differences between two companion tables (empty when they agree)."""
    keys = [("case_person_id", "ascending"), ("person_id", "ascending")]
    a, b = a.sort_by(keys), b.sort_by(keys)
    if a.num_rows != b.num_rows:
        pa_ = {(r["case_person_id"], r["person_id"]) for r in a.select([k for k, _ in keys]).to_pylist()}
        pb = {(r["case_person_id"], r["person_id"]) for r in b.select([k for k, _ in keys]).to_pylist()}
        return [
            f"rows {a.num_rows:,} vs {b.num_rows:,}: {len(pa_ - pb):,} only in the first, "
            f"{len(pb - pa_):,} only in the second, e.g. {sorted(pa_ ^ pb)[:3]}"
        ]
    problems = []
    for column in ("case_person_id", "person_id", "cells", "first_seen", "last_seen"):
        x, y = a[column].cast(b[column].type), b[column]
        if not pc.all(pc.equal(x, y)).as_py():
            bad = pc.sum(pc.not_equal(x, y).cast(pa.int64())).as_py()
            problems.append(f"{column}: {bad:,} rows differ")
    diff = pc.max(pc.abs(pc.subtract(a["co_presence_minutes"], b["co_presence_minutes"]))).as_py()
    if diff is not None and diff > tolerance:
        problems.append(f"co_presence_minutes: differences up to {diff:g}")
    return problems


# ---------------------------------------------------------------- main


def _gb(n: float) -> str:
    return f"{n / GB:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stays", type=_int, default=10_000_000, help="about this many stays (persons = stays/100)"
    )
    parser.add_argument("--cases", type=_int, default=1000)
    parser.add_argument("--dwell", type=float, default=30.0, help="min_dwell_h (0: no dwell rule)")
    parser.add_argument(
        "--partitioned", action="store_true", help="a folder per day (day=YYYY-MM-DD/part-*.parquet)"
    )
    parser.add_argument(
        "--region-km", type=float, default=gen.CITY_KM, help="side of the square area (default 40: the city)"
    )
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--baseline", action="store_true", help="also run the pandas baseline and compare")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls of the engine")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit ('' for DuckDB's default)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--count-rows", action="store_true", help="DuckDB: also count each step's rows")
    parser.add_argument("--master", default="local[*]", help="Spark master")
    parser.add_argument("--spark-memory", default="12g", help="spark.driver.memory")
    parser.add_argument("--shuffle-partitions", type=int, default=16)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/fk_bench"))
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--workers", type=int, default=2, help="processes generating partitioned data")
    parser.add_argument("--delete-data", action="store_true", help="delete the generated stays afterwards")
    parser.add_argument("--target-seconds", type=float, default=None)
    parser.add_argument("--target-gb", type=float, default=None, help="peak memory target (GB = 10^9 bytes)")
    args = parser.parse_args()

    args.scratch.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(args.scratch)
    print(
        f"# companions benchmark — {platform.node()}, {os.cpu_count()} CPUs, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"scratch {args.scratch} ({disk.free / GB:.0f} GB free)"
    )
    import duckdb

    print(f"duckdb {duckdb.__version__}, pyarrow {pa.__version__}")

    needed = args.stays * 26  # bytes of zstd Parquet per stay, measured
    if disk.free < needed * 1.2:
        raise SystemExit(f"not enough disk: about {needed / GB:.0f} GB needed, {disk.free / GB:.0f} GB free")
    path, facts, made = gen.stays_dataset(
        args.scratch,
        args.stays,
        partitioned=args.partitioned,
        seed=args.seed,
        workers=args.workers,
        km=args.region_km,
    )
    print(
        f"data: {facts['stays']:,} stays of {facts['persons']:,} persons over {gen.DAYS} days, "
        f"{int(facts['bytes']) / GB:.1f} GB, {path}"
        + (
            f" — generated in {facts['generate_seconds']} s (not counted)"
            if made
            else f" — cached (generated earlier in {facts['generate_seconds']} s)"
        )
    )
    anchors = gen.case_anchors(int(facts["persons"]), args.cases, seed=args.seed)
    spec = {
        "path": str(path),
        "cases": [(p, a.isoformat()) for p, a in anchors],
        "dwell": args.dwell,
        "memory_limit": args.memory_limit or None,
        "threads": args.threads,
        "spill": str(args.scratch / "spill"),
        "count_rows": args.count_rows,
        "master": args.master,
        "spark_memory": args.spark_memory,
        "shuffle_partitions": args.shuffle_partitions,
    }
    print(
        f"cases: {args.cases:,}, anchors {min(a for _, a in anchors):%Y-%m-%d %H:%M} – "
        f"{max(a for _, a in anchors):%Y-%m-%d %H:%M}"
        f" local; 800 m cells, UTM 48, min overlap 10 min, window 14 d, dwell {args.dwell:g} h; "
        f"DuckDB memory_limit {args.memory_limit or 'default'}"
    )
    results = args.scratch / "results"
    results.mkdir(exist_ok=True)
    tag = f"{facts['persons']}p-{args.cases}c-{args.dwell:g}h" + ("-days" if args.partitioned else "")
    tag += "" if args.region_km == gen.CITY_KM else f"-{args.region_km:g}km"

    runs: list[tuple[str, dict[str, Any], Path]] = []
    duck_repeat = args.repeat if args.engine == "duckdb" else 1
    for i in range(duck_repeat):
        out = results / f"duckdb-{tag}.parquet"
        r = measure("duckdb", {**spec, "out": str(out)})
        runs.append(("duckdb", r, out))
        print(
            f"  duckdb run {i + 1}: {r['runs'][0]['seconds']:.2f} s, peak {_gb(r['peak'])} GB, "
            f"{r['rows']:,} rows"
        )
    if args.baseline:
        out = results / f"pandas-{tag}.parquet"
        r = measure("pandas", {**spec, "out": str(out)})
        runs.append(("pandas", r, out))
        print(f"  pandas: {r['runs'][0]['seconds']:.2f} s, peak {_gb(r['peak'])} GB, {r['rows']:,} rows")
    if args.engine == "spark":
        out = results / f"spark-{tag}.parquet"
        r = measure("spark", {**spec, "out": str(out), "runs": args.repeat})
        runs.append(("spark", r, out))
        calls = ", ".join(f"{x['seconds']:.1f}" for x in r["runs"])
        print(f"  spark: {calls} s, peak {_gb(r['peak'])} GB")

    # ---- report
    duck = [r for k, r, _ in runs if k == "duckdb"]
    duck_times = [r["runs"][0]["seconds"] for r in duck]
    reference = pq.read_table(runs[0][2])
    print()
    print("| engine | call | seconds | CPU s (process) | peak RSS (GB) | ru_maxrss (GB) | rows |")
    print("|---|---|---|---|---|---|---|")
    for kind, r, _ in runs:
        for j, call in enumerate(r["runs"]):
            label = "first" if j == 0 else f"#{j + 1}"
            extra = f" (+{call['session_seconds']:.1f} s session start)" if "session_seconds" in call else ""
            cpu = "—" if kind == "spark" else f"{r['cpu']:.1f}"  # the JVM's CPU is not the process's
            print(
                f"| {kind} | {label}{extra} | {call['seconds']:.2f} | {cpu} | {_gb(r['tree_peak'])} | "
                f"{_gb(r['ru_maxrss'])} | {r['rows']:,} |"
            )
    print()
    steps = list(duck[0]["runs"][0]["steps"])
    print("DuckDB steps (s): | step | " + " | ".join(f"run {i + 1}" for i in range(len(duck))) + " |")
    for step in steps:
        print(f"| {step} | " + " | ".join(f"{r['runs'][0]['steps'].get(step, 0):g}" for r in duck) + " |")
    print()
    pairs = reference.num_rows
    per_case = pc.value_counts(reference["case_person_id"])
    print(
        f"result: {pairs:,} (case, companion) rows, {len(pc.unique(reference['person_id'])):,} distinct "
        f"persons, {len(per_case):,} cases with companions, median "
        f"{statistics.median(per_case.field('counts').to_pylist() or [0]):,.0f} companions per case"
    )
    best, median = min(duck_times), statistics.median(duck_times)
    peak = max(r["peak"] for r in duck)
    print(f"duckdb: best {best:.2f} s, median {median:.2f} s, peak memory {_gb(peak)} GB")
    for kind, r, out in runs:
        if kind == "duckdb":
            continue
        problems = compare(reference, pq.read_table(out))
        verdict = "identical" if not problems else "DIFFERENT: " + "; ".join(problems)
        seconds = [c["seconds"] for c in r["runs"]]
        print(
            f"{kind}: {min(seconds):.2f} s (best) vs duckdb {best:.2f} s → duckdb is "
            f"{min(seconds) / best:.1f}× faster; results {verdict}"
        )
        print(f"{kind} steps (s): " + json.dumps(r["runs"][0]["steps"]))
    if args.target_seconds is not None or args.target_gb is not None:
        ok_t = args.target_seconds is None or median <= args.target_seconds
        ok_m = args.target_gb is None or peak <= args.target_gb * GB
        print(
            f"target: ≤ {args.target_seconds} s (median {median:.2f}) and ≤ {args.target_gb} GB "
            f"(peak {_gb(peak)}): {'MET' if ok_t and ok_m else 'NOT MET'}"
        )
    if args.delete_data:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        Path(f"{path}.json").unlink(missing_ok=True)
        print(f"deleted {path}")


if __name__ == "__main__":
    main()
