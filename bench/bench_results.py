"""Benchmark: lab result import (1,000,000 tube results from one sheet), the same sheet again
(idempotent: nothing changes), and the positive-pool fan-out (1,000 positive 10-in-1 pools →
10,000 persons under measures with retest tasks).

Generates its own data: the demo city's persons, one site and one lab, N received tubes (one
swab each, except the pools that will be positive: ten each), and a CSV of their results (all
negative except the positive pools, which carry Ct values below the cut-off).

    .venv/bin/python bench/bench_results.py [--tubes 1000000] [--positive 1000] [--persons 100000]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/fk_bench]

Benchmarks are not tests: this prints figures; record them in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tubes", type=int, default=1_000_000)
    parser.add_argument("--positive", type=int, default=1000)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (its public schema is dropped!)")
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="fangkong-bench-results-"))
    url = args.pg or f"sqlite:///{data_dir / 'fangkong.db'}"
    os.environ.update({"FANGKONG_DATABASE_URL": url, "FANGKONG_DATA_DIR": str(data_dir)})
    from sqlalchemy import func, insert, select, text

    from fangkong.auth.actor import system_actor
    from fangkong.cli.serve import _activate_demo_profile
    from fangkong.config import get_settings
    from fangkong.db.engine import make_engine
    from fangkong.db.migrate import upgrade
    from fangkong.db.session import make_session_factory
    from fangkong.demo.city import build_city
    from fangkong.events import service as events
    from fangkong.events.registry import load_handlers
    from fangkong.measure.models import PersonCategory
    from fangkong.nat import results, sites
    from fangkong.nat.models import Sample, Tube
    from fangkong.person.models import Person
    from fangkong.task.models import Task

    get_settings.cache_clear()
    engine = make_engine(get_settings())
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    print(f"== preparing ({engine.dialect.name}): {args.tubes:,} tubes, {args.positive:,} positive pools")
    t0 = time.perf_counter()
    build_city(engine, data_dir / "movement", size=args.persons, end_date=dt.date.today())
    factory = make_session_factory(engine)
    hq = system_actor("bench")
    with factory.begin() as s:
        _activate_demo_profile(s)
        township = s.scalar(
            text("SELECT code FROM area WHERE level = 'township' AND code LIKE '5101%' LIMIT 1")
        )
        site = sites.create_site(
            session=s, actor=hq, data=sites.SiteCreate(code="S1", name="S1", area_code=township)
        )
        lab = sites.create_lab(
            session=s, actor=hq, data=sites.LabCreate(code="LAB1", name="LAB1", area_code="5101")
        )
        site_id, lab_id = site.id, lab.id
        pids = np.array(list(s.scalars(select(Person.id))), dtype=np.int64)
    rng = np.random.default_rng(3)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    positive = set(range(0, args.tubes, max(1, args.tubes // max(1, args.positive)))[: args.positive])
    chunk = 50_000
    with factory.begin() as s:
        for start in range(0, args.tubes, chunk):
            stop = min(args.tubes, start + chunk)
            s.execute(
                insert(Tube),
                [
                    {
                        "barcode": f"R{n:09d}",
                        "site_id": site_id,
                        "capacity": 10,
                        "members": 10 if n in positive else 1,
                        "status": "received",
                        "setting": "screening",
                        "opened_at": now,
                        "opened_by": "bench",
                        "closed_at": now,
                        "shipped_at": now,
                        "lab_id": lab_id,
                        "received_at": now,
                        "received_by": "bench",
                    }
                    for n in range(start, stop)
                ],
            )
        first_id = s.scalar(select(func.min(Tube.id)))
        for start in range(0, args.tubes, chunk):
            stop = min(args.tubes, start + chunk)
            rows = []
            picks = rng.integers(0, len(pids), size=(stop - start) * 10)
            for k, n in enumerate(range(start, stop)):
                count = 10 if n in positive else 1
                chosen = list(dict.fromkeys(int(pids[i]) for i in picks[k * 10 : k * 10 + 10]))[:count]
                rows += [
                    {
                        "tube_id": first_id + n,
                        "person_id": p,
                        "site_id": site_id,
                        "scanned": "person_code",
                        "collected_at": now,
                        "collected_by": "bench",
                    }
                    for p in chosen
                ]
            s.execute(insert(Sample), rows)
    sheet = data_dir / "results.csv"
    tested = (dt.datetime.now(get_settings().tz) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    with sheet.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["试管条码", "检测结果", "N基因Ct值", "ORF1ab基因Ct值", "检测时间"])
        for n in range(args.tubes):
            if n in positive:
                w.writerow([f"R{n:09d}", "阳性", "28.5", "30.1", tested])
            else:
                w.writerow([f"R{n:09d}", "阴性", "", "", tested])
    print(f"  prepared in {time.perf_counter() - t0:.1f} s; sheet {sheet.stat().st_size / 2**20:.1f} MiB")

    for label in ("import (new results)", "same sheet again (idempotent)"):
        if os.environ.get("BENCH_PROFILE") and label.startswith("import"):
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t0 = time.perf_counter()
        with factory.begin() as s:
            report = results.import_file(
                session=s, actor=hq, lab_code="LAB1", path=sheet, filename=sheet.name
            )
        took = time.perf_counter() - t0
        if os.environ.get("BENCH_PROFILE") and label.startswith("import"):
            import pstats

            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        print(
            f"== {label}: {took:.1f} s ({args.tubes / took:,.0f} rows/s): recorded {report.recorded:,}, "
            f"unchanged {report.unchanged:,}, positive {report.positive:,}"
        )

    load_handlers()
    t0 = time.perf_counter()
    handled = 0
    while True:
        n = events.run_pending(factory, limit=1000)
        handled += n
        if n == 0:
            break
    took = time.perf_counter() - t0
    with factory() as s:
        pooled = s.scalar(
            select(func.count())
            .select_from(PersonCategory)
            .where(PersonCategory.category == "positive_pool_member")
        )
        retests = s.scalar(select(func.count()).select_from(Task).where(Task.kind == "retest"))
    print(
        f"== positive-pool fan-out: {took:.1f} s for {handled:,} handler runs → {pooled:,} persons under "
        f"measures, {retests:,} retest tasks"
    )
    engine.dispose()
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
