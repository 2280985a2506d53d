"""Benchmark: swab registration over HTTP (`POST /api/v1/nat/samples`), and durability under
`kill -9`.

Builds its own data (the demo city's persons, a testing round for the whole city, sampling
sites, pre-opened 10-in-1 tubes, a sampler account and token), starts `fangkong serve` as a
separate process, and drives it from this process with an open-loop load generator: requests
are scheduled at a fixed rate over keep-alive connections and each latency is measured from its
scheduled time (so a stalled server cannot hide its queue). Scans are person codes (80 %) and
resident ID numbers (20 %); each connection fills its own tubes, ten swabs each.

    .venv/bin/python bench/bench_registration.py [--rate 1500] [--seconds 300] [--persons 500000]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/fk_bench] [--kill-after 20]

With --kill-after N the server is killed with SIGKILL after N seconds; every registration it
acknowledged (201 with a sample id) must then be in the database.
Benchmarks are not tests: this prints figures; record them in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "bench-secret-" + "x" * 40
TUBES_PER_CONN = 4000


@dataclass
class Plan:
    token: str
    sites: list[int]
    tubes: list[tuple[str, int]]  # barcode, site id
    scans: list[str]


def prepare(url: str, data_dir: Path, persons: int, tubes_needed: int) -> Plan:
    os.environ.update(
        {"FANGKONG_DATABASE_URL": url, "FANGKONG_SECRET_KEY": SECRET, "FANGKONG_DATA_DIR": str(data_dir)}
    )
    from sqlalchemy import insert, select, text

    from fangkong.auth import service as auth
    from fangkong.auth.actor import system_actor
    from fangkong.cli.serve import _activate_demo_profile
    from fangkong.config import get_settings
    from fangkong.db.engine import make_engine
    from fangkong.db.migrate import upgrade
    from fangkong.db.session import make_session_factory
    from fangkong.demo.city import build_city
    from fangkong.nat import rounds, sites
    from fangkong.nat.models import Tube
    from fangkong.person import code as person_code
    from fangkong.person.models import Person, PersonIdentifier

    get_settings.cache_clear()
    settings = get_settings()
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    t0 = time.perf_counter()
    build_city(engine, data_dir / "movement", size=persons, end_date=dt.date.today())
    print(f"  city of {persons:,} built in {time.perf_counter() - t0:.1f} s")
    factory = make_session_factory(engine)
    hq = system_actor("bench")
    with factory.begin() as s:
        _activate_demo_profile(s)
        auth.create_user(
            session=s,
            actor=hq,
            data=auth.NewUser(
                username="sampler",
                display_name="sampler",
                password="Bench-pass-2022!",
                roles=("sampler",),
                area_code="5101",
            ),
        )
        token, _row, _u = auth.login(
            session=s, settings=settings, username="sampler", password="Bench-pass-2022!", kind="api"
        )
        townships = [
            c
            for (c,) in s.execute(
                text(
                    "SELECT code FROM area WHERE level = 'township' AND code LIKE '5101%' "
                    "ORDER BY code LIMIT 40"
                )
            )
        ]
        site_ids = []
        for n, code in enumerate(townships):
            site_ids.append(
                sites.create_site(
                    session=s,
                    actor=hq,
                    data=sites.SiteCreate(
                        code=f"BS{n:03d}", name=f"采样点{n}", area_code=code, capacity_per_hour=600
                    ),
                ).id
            )
    t0 = time.perf_counter()
    with factory.begin() as s:
        r = rounds.create(
            session=s,
            actor=hq,
            data=rounds.RoundCreate(
                name="全市第1轮全员核酸",
                area_code="5101",
                start_at=dt.datetime.now(dt.UTC),
                deadline_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=12),
            ),
        )
        round_id = r.id
    print(f"  round for the city planned in {time.perf_counter() - t0:.1f} s ({r.expected:,} expected)")
    now = dt.datetime.now(dt.UTC)
    tubes = [(f"BT{n:08d}", site_ids[n % len(site_ids)]) for n in range(tubes_needed)]
    with factory.begin() as s:
        for start in range(0, len(tubes), 20_000):
            s.execute(
                insert(Tube),
                [
                    {
                        "barcode": b,
                        "round_id": round_id,
                        "site_id": site,
                        "capacity": 10,
                        "members": 0,
                        "status": "open",
                        "setting": "screening",
                        "opened_at": now,
                        "opened_by": "sampler",
                    }
                    for b, site in tubes[start : start + 20_000]
                ],
            )
        ids = list(s.scalars(select(Person.id).order_by(Person.id)))
        rid = dict(
            s.execute(
                select(PersonIdentifier.person_id, PersonIdentifier.value).where(
                    PersonIdentifier.kind == "resident_id"
                )
            ).all()
        )
    rng = random.Random(7)
    rng.shuffle(ids)
    scans = [rid[p] if (n % 5 == 4 and p in rid) else person_code.make(p, SECRET) for n, p in enumerate(ids)]
    engine.dispose()
    return Plan(token=token, sites=site_ids, tubes=tubes, scans=scans)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "fangkong"
    cmd = [str(exe), "serve", "--port", str(port), "--no-worker", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=os.environ.copy())
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            return proc
        except Exception:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    by_second: dict[int, int] = field(default_factory=dict)
    codes: dict[int, int] = field(default_factory=dict)
    acked: list[int] = field(default_factory=list)
    failed: int = 0
    sent: int = 0


async def _conn_worker(
    port: int, plan: Plan, queue: asyncio.Queue[tuple[int, float] | None], conn: int, stats: Stats, t0: float
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /api/v1/nat/samples HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {plan.token}\r\nContent-Type: application/json\r\n"
    )
    count = 0
    while True:
        item = await queue.get()
        if item is None:
            break
        n, scheduled = item
        barcode, site = plan.tubes[conn + (count // 10) * CONNS]
        count += 1
        body = json.dumps(
            {"tube": barcode, "scan": plan.scans[n % len(plan.scans)], "site_id": site}
        ).encode()
        try:
            writer.write(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            header = await reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length = 0
            for line in header.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            data = await reader.readexactly(length)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            stats.failed += 1
            while True:  # the server is gone: drain
                nxt = await queue.get()
                if nxt is None:
                    return
                stats.failed += 1
        done = time.perf_counter()
        stats.latencies.append(done - scheduled)
        stats.codes[status] = stats.codes.get(status, 0) + 1
        if status == 201:
            stats.acked.append(json.loads(data)["sample_id"])
            sec = int(done - t0)
            stats.by_second[sec] = stats.by_second.get(sec, 0) + 1
    writer.close()


CONNS = 48


async def load(
    port: int,
    plan: Plan,
    rate: float,
    seconds: float,
    kill: subprocess.Popen[bytes] | None,
    kill_after: float | None,
) -> Stats:
    stats = Stats()
    queues: list[asyncio.Queue[tuple[int, float] | None]] = [asyncio.Queue() for _ in range(CONNS)]
    t0 = time.perf_counter()
    workers = [asyncio.create_task(_conn_worker(port, plan, queues[c], c, stats, t0)) for c in range(CONNS)]
    n = 0
    killed = False
    while True:
        now = time.perf_counter()
        elapsed = now - t0
        if elapsed >= seconds:
            break
        if kill is not None and kill_after is not None and not killed and elapsed >= kill_after:
            os.kill(kill.pid, signal.SIGKILL)
            killed = True
        due = int(elapsed * rate)
        while n < due:
            queues[n % CONNS].put_nowait((n, t0 + n / rate))
            n += 1
        await asyncio.sleep(0.001)
    stats.sent = n
    for q in queues:
        q.put_nowait(None)
    await asyncio.gather(*workers, return_exceptions=True)
    return stats


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main() -> None:
    global CONNS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1500)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--persons", type=int, default=500_000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (its public schema is dropped!)")
    parser.add_argument("--kill-after", type=float, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--connections",
        type=int,
        default=CONNS,
        help="keep-alive connections (sampling desks); at most this many swabs are in flight",
    )
    args = parser.parse_args()
    CONNS = args.connections
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, "
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="fangkong-bench-reg-"))
    url = args.pg or f"sqlite:///{data_dir / 'fangkong.db'}"
    print(f"== preparing ({'PostgreSQL' if args.pg else 'SQLite'})")
    tubes_needed = CONNS * (int(args.rate * args.seconds / CONNS / 10) + 20)
    plan = prepare(url, data_dir, args.persons, tubes_needed)
    port = free_port()
    server = start_server(port, args.workers)
    try:
        print(
            f"== load: {args.rate:,.0f}/s for {args.seconds:.0f} s over {CONNS} connections, "
            f"{args.workers} server process(es)"
        )
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            stats = runner.run(load(port, plan, args.rate, args.seconds, server, args.kill_after))
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    ok = stats.codes.get(201, 0)
    steady = [v for s, v in sorted(stats.by_second.items()) if 5 <= s < int(args.seconds) - 1]
    print(
        f"  sent {stats.sent:,}; answered {sum(stats.codes.values()):,} {stats.codes}; "
        f"failed {stats.failed:,}"
    )
    print(f"  acknowledged {ok:,} = {ok / args.seconds:,.0f}/s overall")
    if steady:
        print(
            f"  per second (after warm-up): min {min(steady):,}, "
            f"median {sorted(steady)[len(steady) // 2]:,}, max {max(steady):,}"
        )
    lat = [x * 1000 for x in stats.latencies]
    print(
        f"  latency ms: p50 {pct(lat, 50):.1f}, p95 {pct(lat, 95):.1f}, p99 {pct(lat, 99):.1f}, "
        f"max {max(lat, default=0):.1f}"
    )
    if args.kill_after is not None:
        from sqlalchemy import create_engine, text

        eng = create_engine(url)
        found = 0
        with eng.connect() as conn:
            for start in range(0, len(stats.acked), 5000):
                chunk = stats.acked[start : start + 5000]
                found += conn.execute(
                    text(f"SELECT count(*) FROM nat_sample WHERE id IN ({','.join(map(str, chunk))})")
                ).scalar_one()
            stored = conn.execute(text("SELECT count(*) FROM nat_sample")).scalar_one()
        print(
            f"  kill -9 after {args.kill_after:.0f} s: {len(stats.acked):,} acknowledged, "
            f"{found:,} of them stored ({'all' if found == len(stats.acked) else 'LOST'}); "
            f"{stored:,} rows in all"
        )
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
