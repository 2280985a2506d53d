"""Benchmark: building the synthetic demo city (`fangkong.demo.city.build_city`).

For each size (default: the one given with --size, then 100,000) it creates a fresh
SQLite database in a temporary folder, migrates it, builds the city with its 14 days of
movement, and prints the seconds of each phase, the row counts, the Parquet file sizes
and the total.

    .venv/bin/python bench/bench_demo.py --size 1000000 [--out DIR] [--only] [--keep] [--outbreak]

Benchmarks are not tests: this prints figures; record them in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine


def run(size: int, out: Path, end_date: dt.date, outbreak: bool = False) -> None:
    from fangkong.db.engine import make_engine
    from fangkong.db.migrate import upgrade
    from fangkong.demo.city import build_city

    out.mkdir(parents=True, exist_ok=True)
    db = out / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    engine = make_engine(url=f"sqlite:///{db}")
    t0 = time.perf_counter()
    upgrade(engine)
    migrate_s = time.perf_counter() - t0
    stats = build_city(engine, out / "movement", size=size, end_date=end_date)
    if outbreak:
        _outbreak(engine, out / "movement", end_date)
    engine.dispose()
    print(f"\n== size {size:,} (seed {stats.seed}, end date {end_date}) in {out}")
    print(f"  migrate (not counted)   {migrate_s:8.2f} s")
    for phase, seconds in stats.seconds.items():
        print(f"  {phase:<23} {seconds:8.2f} s")
    rows = {
        "communities": stats.communities,
        "grids": stats.grids,
        "households": stats.households,
        "persons": stats.persons,
        "person identifiers": stats.identifiers,
        "key-group tags": stats.key_group_tags,
        "units": stats.units,
        "places": stats.places,
        "stays": stats.stays,
        "check-ins": stats.checkins,
    }
    for name, count in rows.items():
        print(f"  {name:<23} {count:>12,}")
    db_size = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())
    print(f"  {'SQLite file':<23} {db_size / 2**20:10.1f} MiB")
    for path in (stats.stays_path, stats.checkins_path):
        print(f"  {path.name:<23} {path.stat().st_size / 2**20:10.1f} MiB")
    total = stats.seconds["total"]
    print(f"  persons/s               {stats.persons / total:12,.0f}")
    print(f"  stays/s (movement)      {stats.stays / stats.seconds['movement']:12,.0f}")


def _outbreak(engine: Engine, movement_dir: Path, end_date: dt.date) -> None:
    """Seed the demo outbreak and print each case's contact finding (DuckDB on the city's
    Parquet stays and check-ins, plus the registry): the journey's "lists in under a minute"."""
    from fangkong.cli.serve import _activate_demo_profile
    from fangkong.contact.finding import movement_store
    from fangkong.db.session import make_session_factory
    from fangkong.demo import outbreak
    from fangkong.tracing import ports

    factory = make_session_factory(engine)
    with factory.begin() as s:
        _activate_demo_profile(s)
    t0 = time.perf_counter()
    seeded = outbreak.seed(factory, movement_store(movement_dir, ports.engine("duckdb")), end_date=end_date)
    total = time.perf_counter() - t0
    print(f"  outbreak: {seeded.cases} cases, {seeded.links} links, {seeded.listed:,} listed, {total:.1f} s")
    print("  contact finding per case (close / secondary / companions → seconds):")
    for case_id, by_list, seconds in seeded.finding:
        print(
            f"    case {case_id:>3}: {by_list.get('close_contact', 0):>6,} / "
            f"{by_list.get('secondary_contact', 0):>6,} / {by_list.get('companion', 0):>7,}  {seconds:6.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the database and Parquet files (default: a temp folder)",
    )
    parser.add_argument("--only", action="store_true", help="do not also run size 100,000")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--outbreak", action="store_true", help="also seed the outbreak and time contact finding per case"
    )
    parser.add_argument("--end-date", type=dt.date.fromisoformat, default=dt.date(2022, 11, 1))
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    base = args.out or Path(tempfile.mkdtemp(prefix="fangkong-bench-demo-"))
    sizes = [args.size] if args.only or args.size == 100_000 else [args.size, 100_000]
    try:
        for size in sizes:
            run(size, base / f"size-{size}", args.end_date, args.outbreak)
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
