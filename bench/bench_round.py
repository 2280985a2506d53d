"""Benchmark: a city-wide testing round of 1,000,000 persons — planning it (expected persons with
their nearest site and tube size), then its coverage per community (应检尽检: expected, sampled,
missing, pending, positive) and one community's missing list, with 80 % sampled in 10-in-1
tubes of which half have results.

    .venv/bin/python bench/bench_round.py [--persons 1000000] [--sites 2000]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/fk_bench]

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

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (its public schema is dropped!)")
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="fangkong-bench-round-"))
    url = args.pg or f"sqlite:///{data_dir / 'fangkong.db'}"
    os.environ.update({"FANGKONG_DATABASE_URL": url, "FANGKONG_DATA_DIR": str(data_dir)})
    from sqlalchemy import func, insert, select, text, update

    from fangkong.auth.actor import system_actor
    from fangkong.cli.serve import _activate_demo_profile
    from fangkong.config import get_settings
    from fangkong.db.engine import make_engine
    from fangkong.db.migrate import upgrade
    from fangkong.db.session import make_session_factory
    from fangkong.demo.city import build_city
    from fangkong.nat import progress, rounds
    from fangkong.nat.models import RoundMember, Sample, SamplingSite, Tube

    get_settings.cache_clear()
    engine = make_engine(get_settings())
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    print(f"== preparing ({engine.dialect.name}): {args.persons:,} persons, {args.sites:,} sites")
    t0 = time.perf_counter()
    build_city(engine, data_dir / "movement", size=args.persons, end_date=dt.date.today())
    factory = make_session_factory(engine)
    hq = system_actor("bench")
    rng = np.random.default_rng(5)
    with factory.begin() as s:
        _activate_demo_profile(s)
        communities = list(
            s.scalars(text("SELECT code FROM area WHERE level = 'community' AND code LIKE '5101%'"))
        )
        lon, lat = s.execute(text("SELECT avg(lon), avg(lat) FROM person")).one()
        now = dt.datetime.now(dt.UTC)
        s.execute(
            insert(SamplingSite),
            [
                {
                    "code": f"S{n:05d}",
                    "name": f"采样点{n}",
                    "kind": "fixed",
                    "area_code": communities[n % len(communities)],
                    "lon": float(lon + rng.normal(0, 0.08)),
                    "lat": float(lat + rng.normal(0, 0.06)),
                    "capacity_per_hour": 300,
                    "staff": 4,
                    "status": "open",
                    "opened_at": now,
                    "created_at": now,
                }
                for n in range(args.sites)
            ],
        )
    print(f"  city and sites in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with factory.begin() as s:
        r = rounds.create(
            session=s,
            actor=hq,
            data=rounds.RoundCreate(
                name="全市第1轮", area_code="5101", start_at=now, deadline_at=now + dt.timedelta(hours=12)
            ),
        )
        round_id, expected = r.id, r.expected
    print(f"== plan the round: {time.perf_counter() - t0:.1f} s ({expected:,} expected, nearest site each)")
    t0 = time.perf_counter()
    with factory.begin() as s:
        members = s.execute(
            select(RoundMember.person_id, RoundMember.site_id).where(RoundMember.round_id == round_id)
        ).all()
        chosen = [m for m in members if rng.random() < 0.8]
        n_tubes = (len(chosen) + 9) // 10
        first_site = s.scalar(select(func.min(SamplingSite.id)))
        s.execute(
            insert(Tube),
            [
                {
                    "barcode": f"RT{n:08d}",
                    "round_id": round_id,
                    "site_id": first_site,
                    "capacity": 10,
                    "members": 10,
                    "status": "closed",
                    "setting": "screening",
                    "opened_at": now,
                    "opened_by": "bench",
                    "closed_at": now,
                }
                for n in range(n_tubes)
            ],
        )
        tube0 = int(s.scalar(select(func.min(Tube.id)).where(Tube.round_id == round_id)) or 0)
        for start in range(0, len(chosen), 50_000):
            s.execute(
                insert(Sample),
                [
                    {
                        "tube_id": tube0 + (start + k) // 10,
                        "person_id": pid,
                        "round_id": round_id,
                        "site_id": site or first_site,
                        "scanned": "person_code",
                        "collected_at": now,
                        "collected_by": "bench",
                    }
                    for k, (pid, site) in enumerate(chosen[start : start + 50_000])
                ],
            )
        s.execute(
            update(Tube)
            .where(Tube.round_id == round_id, Tube.id < tube0 + n_tubes // 2)
            .values(status="reported", result="negative", reported_at=now)
        )
    print(f"  {len(chosen):,} swabs in {n_tubes:,} tubes stored in {time.perf_counter() - t0:.1f} s")
    for attempt in (1, 2):
        t0 = time.perf_counter()
        with factory() as s:
            p = progress.progress(session=s, actor=hq, round_id=round_id)
        took = time.perf_counter() - t0
        print(
            f"== coverage per community (run {attempt}): {took:.2f} s — {len(p.communities):,} communities, "
            f"expected {p.expected:,}, sampled {p.sampled:,}, missing {p.missing:,}"
        )
    community = max(p.communities, key=lambda c: c.missing).area_code
    t0 = time.perf_counter()
    with factory() as s:
        rows = progress.missing(session=s, actor=hq, round_id=round_id, area_code=community)
        data = progress.missing_xlsx(rows)
    print(
        f"== missing list of {community}: {len(rows):,} persons + .xlsx ({len(data) / 1024:.0f} KiB) "
        f"in {time.perf_counter() - t0:.2f} s"
    )
    engine.dispose()
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
