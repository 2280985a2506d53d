"""Synthetic data for the tracing benchmarks (deterministic: the same arguments give the same files).

Stays — a city of about 40 × 40 km around Chengdu (104.06 E, 30.66 N). Every person has a home
(one of `persons / 40` residential compounds), 65 % a workplace (`persons / 150` office zones,
more central than the homes), and four favourite venues (three near home, one anywhere, among
`persons / 60` venues). Places cluster around the centre and four sub-centres (plus a uniform
background); their sizes are log-normal. A day, in local time (UTC+8):

- workers on weekdays: home → [breakfast venue] → work → [lunch venue near work → work] →
  [evening venue] → [errand near home] → home, leaving at about 7:45 and finishing work at
  about 18:00 (personal habits plus daily noise);
- everyone else, and everybody at weekends: one to three outings to venues (favourite or any)
  from home, back home in between, sometimes an errand near home;
- every journey (about 22 km/h) may stop on the way: 0–2 short transit stays (2–9 min) near
  the straight line between the two places;
- a night at home is one stay from the evening arrival to the next morning's departure.

Positions are the place plus GPS noise (20–50 m; 150 m for transit stays), `lon, lat` rounded
to 6 decimals; times are whole seconds, `timestamp[us, tz=UTC]`. On average a person has 7.1
stays a day, so `persons = stays / 100` gives the requested count over 14 days.

Columns: `person_id (int64), start, end, lon, lat`.

Contact edges — `edges(person_id, other_id, setting)`: households (sizes as China's 2020
census: 25 % one person … 4 % six), every pair of a household linked (`household`), and 60 % of
persons in work teams of 3–40 with every pair linked (`workplace`), trimmed at random to the
requested number of edges.

    .venv/bin/python bench/gen_movement.py stays --stays 10_000_000 --out /tmp/fk_bench/stays-10m.parquet
    .venv/bin/python bench/gen_movement.py stays --stays 1_000_000_000 --partitioned --out DIR
    .venv/bin/python bench/gen_movement.py edges --edges 10_000_000 --out /tmp/fk_bench/edges-10m.parquet

Generation is done in blocks of at most 1,000,000 persons and one day at a time (the writer
streams), so memory stays at about 2 GB per worker whatever the size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
BOOL = NDArray[np.bool_]

LON0, LAT0 = 104.06, 30.66
CITY_KM = 40.0  # the side of the city; a larger --region-km scales places and distances alike
KM_PER_DEG_LAT = 110.95
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(LAT0))
LOCAL = dt.timezone(dt.timedelta(hours=8), "CST")
START = dt.date(2022, 3, 1)  # a Tuesday
DAYS = 14
BLOCK = 1_000_000  # persons generated together
STAYS_PER_PERSON = 100  # over 14 days (7.14 a day)
TS = pa.timestamp("us", tz="UTC")
ROW_GROUP = 1 << 20
US_MIN = 60_000_000
# sub-centres of the city (km from the centre) and their share of the places
CENTRES = np.array([[0.0, 0.0], [-10.0, 8.0], [9.0, -9.0], [12.0, 10.0], [-11.0, -10.0]])
STAYS_SCHEMA = pa.schema(
    [("person_id", pa.int64()), ("start", TS), ("end", TS), ("lon", pa.float64()), ("lat", pa.float64())]
)


# ---------------------------------------------------------------- places


@dataclass(frozen=True)
class City:
    persons: int
    seed: int
    home_xy: F64
    home_cum: F64
    work_xy: F64
    work_cum: F64
    venue_xy: F64
    venue_cum: F64
    half: float  # km from the centre to the edge
    grid_n: int  # 4-km blocks per side
    venue_order: I64  # venue indices sorted by 4-km block
    block_start: I64  # per block: first position in venue_order
    block_count: I64


GRID_KM = 4.0


def _places(
    rng: np.random.Generator, n: int, sigma_main: float, sigma_sub: float, share_main: float, half: float
) -> F64:
    k = half / (CITY_KM / 2)
    share_uniform = 0.2
    which = rng.choice(
        len(CENTRES) + 1,
        n,
        p=[share_main, *([(1 - share_main - share_uniform) / (len(CENTRES) - 1)] * (len(CENTRES) - 1))]
        + [share_uniform],
    )
    xy = rng.uniform(-half, half, (n, 2))
    for i, centre in enumerate(CENTRES):
        sel = which == i
        xy[sel] = centre * k + rng.normal(0, (sigma_main if i == 0 else sigma_sub) * k, (int(sel.sum()), 2))
    outside = np.abs(xy).max(axis=1) >= half
    xy[outside] = rng.uniform(-half, half, (int(outside.sum()), 2))
    return xy


def _cum(rng: np.random.Generator, n: int, sigma: float) -> F64:
    w = rng.lognormal(0.0, sigma, n)
    c = np.cumsum(w)
    return c / c[-1]


def _grid_block(xy: F64, half: float, grid_n: int) -> I64:
    g = np.clip(((xy + half) // GRID_KM).astype(np.int64), 0, grid_n - 1)
    return g[:, 0] * grid_n + g[:, 1]


@functools.cache
def make_city(persons: int, seed: int, km: float = CITY_KM) -> City:
    half, grid_n = km / 2, max(1, int(km / GRID_KM))
    rng = np.random.default_rng([seed, 0])
    n_home, n_work, n_venue = max(persons // 40, 50), max(persons // 150, 20), max(persons // 60, 50)
    home_xy = _places(rng, n_home, 6.0, 3.0, 0.4, half)
    work_xy = _places(rng, n_work, 3.5, 2.5, 0.5, half)
    venue_xy = _places(rng, n_venue, 5.0, 3.0, 0.45, half)
    blocks = _grid_block(venue_xy, half, grid_n)
    order = np.argsort(blocks, kind="stable")
    counts = np.bincount(blocks, minlength=grid_n * grid_n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return City(
        persons,
        seed,
        home_xy,
        _cum(rng, n_home, 0.8),
        work_xy,
        _cum(rng, n_work, 1.2),
        venue_xy,
        _cum(rng, n_venue, 1.0),
        half,
        grid_n,
        order.astype(np.int64),
        starts.astype(np.int64),
        counts.astype(np.int64),
    )


def _pick(cum: F64, u: F64) -> I64:
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int64)


def _venue_near(city: City, xy: F64, rng: np.random.Generator) -> I64:
    """A venue in the same 4-km block as `xy` (any venue, by size, when the block has none)."""
    b = _grid_block(xy, city.half, city.grid_n)
    count = city.block_count[b]
    local = city.venue_order[
        np.minimum(
            city.block_start[b] + (rng.random(len(b)) * count).astype(np.int64), len(city.venue_order) - 1
        )
    ]
    anywhere = _pick(city.venue_cum, rng.random(len(b)))
    return np.where(count > 0, local, anywhere)


# ---------------------------------------------------------------- persons


@dataclass(frozen=True)
class People:
    first_id: int
    n: int
    home: F64  # (n, 2) km
    work: F64
    worker: BOOL
    fav: F64  # (n, 4, 2)
    dep_habit: F64  # minutes
    end_habit: F64


@functools.cache
def people(persons: int, seed: int, block: int, km: float = CITY_KM) -> People:
    city = make_city(persons, seed, km)
    first = block * BLOCK
    n = min(BLOCK, persons - first)
    rng = np.random.default_rng([seed, 1, block])
    home = city.home_xy[_pick(city.home_cum, rng.random(n))]
    work = city.work_xy[_pick(city.work_cum, rng.random(n))]
    worker = rng.random(n) < 0.65
    fav = np.stack(
        [city.venue_xy[_venue_near(city, home, rng)] for _ in range(3)]
        + [city.venue_xy[_pick(city.venue_cum, rng.random(n))]],
        axis=1,
    )
    return People(first + 1, n, home, work, worker, fav, rng.normal(0, 30, n), rng.normal(0, 45, n))


def _weekday(day: int) -> bool:
    return (START + dt.timedelta(days=day)).weekday() < 5


def _departure(persons: int, seed: int, block: int, day: int, km: float) -> F64:
    """Minutes after local midnight of `day` at which each person first leaves home."""
    p = people(persons, seed, block, km)
    rng = np.random.default_rng([seed, 2, day, block])
    commute = p.worker & _weekday(day)
    work = np.clip(465 + p.dep_habit + rng.normal(0, 20, p.n), 330, 630)
    other = np.clip(rng.normal(570, 70, p.n), 360, 720)
    return np.round(np.where(commute, work, other))


# ---------------------------------------------------------------- one day of one block


class _Out:
    def __init__(self) -> None:
        self.parts: list[tuple[I64, F64, F64, F64]] = []  # (rows, start, end, xy)

    def emit(self, mask: BOOL, start: F64, end: F64, xy: F64) -> None:
        idx = np.flatnonzero(mask & (end > start))
        self.parts.append((idx, start[idx], end[idx], xy[idx]))


def _travel(
    rng: np.random.Generator, out: _Out, mask: BOOL, t: F64, src: F64, dst: F64, transit_p: float
) -> F64:
    """Move from src to dst (where mask), with 0–2 short stays on the way; returns arrival time."""
    n = len(t)
    dist = np.hypot(*(dst - src).T)
    moving = 3 + dist / 22 * 60 * rng.uniform(0.8, 1.3, n)
    stops = rng.binomial(2, np.minimum(0.95, transit_p + dist / 40))
    stops = np.where(dist < 0.3, 0, stops)
    legs = stops + 1
    now = t.copy()
    for k in (1, 2):
        has = mask & (stops >= k)
        now = now + np.where(has, moving / legs, 0)
        frac = (k / legs)[:, None]
        pos = src + (dst - src) * frac + rng.normal(0, 0.15, (n, 2))
        dur = np.round(rng.uniform(2, 9, n))
        out.emit(has, now, now + dur, pos)
        now = np.where(has, now + dur, now)
    return np.round(np.where(mask, now + moving / legs, t))


def _noise(rng: np.random.Generator, xy: F64, km: float) -> F64:
    return xy + rng.normal(0, km, xy.shape)


def day_stays(
    persons: int, seed: int, block: int, day: int, km: float = CITY_KM, transit_p: float = 0.205
) -> pa.Table:
    """The stays starting on local `day` (0-based) of the persons of `block`."""
    city = make_city(persons, seed, km)
    p = people(persons, seed, block, km)
    rng = np.random.default_rng([seed, 3, day, block])
    n = p.n
    out = _Out()
    dep = _departure(persons, seed, block, day, km)
    dep_next = _departure(persons, seed, block, day + 1, km) + 1440
    everyone = np.ones(n, dtype=bool)
    if day == 0:  # the data begin at midnight: the first night is cut there
        out.emit(everyone, np.zeros(n), dep, _noise(rng, p.home, 0.03))
    commute = p.worker & _weekday(day)

    # the slots of the day: (mask, place, duration or NaN, until (minutes) or NaN, noise km)
    lunch = commute & (rng.random(n) < 0.55)
    work_end = np.clip(1080 + p.end_habit + rng.normal(0, 30, n), 900, 1290)
    lunch_at = rng.normal(720, 15, n)
    lunch_venue = city.venue_xy[_venue_near(city, p.work, rng)]
    outings = np.searchsorted(np.cumsum([0.45, 0.40, 0.15]), rng.random(n), side="right") + 1
    choice = rng.integers(0, 4, (n, 3))
    any_venue = rng.random((n, 3)) < 0.2
    others = [
        np.where(
            any_venue[:, k, None],
            city.venue_xy[_pick(city.venue_cum, rng.random(n))],
            p.fav[np.arange(n), choice[:, k]],
        )
        for k in range(3)
    ]
    errand = city.venue_xy[_venue_near(city, p.home, rng)]
    nan = np.full(n, np.nan)
    out_dur = [np.round(rng.uniform(30, 150, n)) for _ in range(3)]
    home_dur = [np.round(rng.uniform(45, 120, n)) for _ in range(2)]
    slots: list[tuple[BOOL, F64, F64, F64, float]] = [
        # commuters
        (
            commute & (rng.random(n) < 0.25),
            city.venue_xy[_venue_near(city, p.home, rng)],
            np.round(rng.uniform(10, 25, n)),
            nan,
            0.02,
        ),
        (commute, p.work, nan, np.where(lunch, lunch_at, work_end), 0.05),
        (lunch, lunch_venue, np.round(rng.uniform(40, 70, n)), nan, 0.02),
        (lunch, p.work, nan, work_end, 0.05),
        (commute & (rng.random(n) < 0.45), others[0], out_dur[0], nan, 0.02),
        (commute & (rng.random(n) < 0.35), errand, np.round(rng.uniform(10, 40, n)), nan, 0.02),
        # everyone else: outings from home
        (~commute, others[0], out_dur[0], nan, 0.02),
        (~commute & (rng.random(n) < 0.35), errand, np.round(rng.uniform(10, 40, n)), nan, 0.02),
        (~commute & (outings >= 2), p.home, home_dur[0], nan, 0.03),
        (~commute & (outings >= 2), others[1], out_dur[1], nan, 0.02),
        (~commute & (outings >= 3), p.home, home_dur[1], nan, 0.03),
        (~commute & (outings >= 3), others[2], out_dur[2], nan, 0.02),
    ]
    t = dep.astype(np.float64)
    here = p.home.copy()
    for mask, place, dur, until, km in slots:
        mask = mask & (t < 1290)  # nothing new starts after 21:30
        start = _travel(rng, out, mask, t, here, place, transit_p)
        length = np.where(np.isnan(until), dur, np.maximum(until - start, 60))
        out.emit(mask, start, start + length, _noise(rng, place, km))
        t = np.where(mask, start + length, t)
        here = np.where(mask[:, None], place, here)
    arrive = _travel(rng, out, everyone, t, here, p.home, transit_p)
    out.emit(everyone, arrive, np.maximum(dep_next, arrive + 30), _noise(rng, p.home, 0.03))
    return _table(out, p.first_id, day)


def _table(out: _Out, first_id: int, day: int) -> pa.Table:
    rows = np.concatenate([r for r, *_ in out.parts])
    start = np.concatenate([s for _, s, _, _ in out.parts])
    end = np.concatenate([e for _, _, e, _ in out.parts])
    xy = np.concatenate([x for *_, x in out.parts])
    order = np.lexsort((start, rows))  # by person, then time, as an export would be
    midnight = dt.datetime.combine(START + dt.timedelta(days=day), dt.time(), LOCAL)
    base = int(midnight.timestamp()) * 1_000_000
    s_us = base + np.round(start[order] * 60).astype(np.int64) * 1_000_000
    e_us = base + np.round(end[order] * 60).astype(np.int64) * 1_000_000
    xy = xy[order]
    return pa.table(
        {
            "person_id": pa.array(rows[order] + first_id, pa.int64()),
            "start": pa.array(s_us, pa.int64()).cast(TS),
            "end": pa.array(e_us, pa.int64()).cast(TS),
            "lon": np.round(LON0 + xy[:, 0] / KM_PER_DEG_LON, 6),
            "lat": np.round(LAT0 + xy[:, 1] / KM_PER_DEG_LAT, 6),
        },
        schema=STAYS_SCHEMA,
    )


# ---------------------------------------------------------------- writing


def persons_for(stays: int, days: int = DAYS) -> int:
    return max(1, round(stays * DAYS / days / STAYS_PER_PERSON))


def _blocks(persons: int) -> range:
    return range((persons + BLOCK - 1) // BLOCK)


def write_stays(path: Path, persons: int, seed: int = 2022, days: int = DAYS, km: float = CITY_KM) -> int:
    """One Parquet file, day after day (row groups of 2^20 rows); returns the number of stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    rows = 0
    with pq.ParquetWriter(tmp, STAYS_SCHEMA, compression="zstd") as writer:
        for day in range(days):
            for block in _blocks(persons):
                table = day_stays(persons, seed, block, day, km)
                writer.write_table(table, row_group_size=ROW_GROUP)
                rows += table.num_rows
    tmp.rename(path)
    return rows


def _write_part(args: tuple[Path, int, int, int, int, float]) -> int:
    folder, persons, seed, block, day, km = args
    table = day_stays(persons, seed, block, day, km)
    target = folder / f"day={START + dt.timedelta(days=day)}" / f"part-{block:04d}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, row_group_size=ROW_GROUP, compression="zstd")
    return int(table.num_rows)


def write_partitioned(
    folder: Path, persons: int, seed: int = 2022, days: int = DAYS, workers: int = 2, km: float = CITY_KM
) -> int:
    """A folder per local day (`day=2022-03-01/part-0000.parquet`, one file per block of
    1,000,000 persons), written by `workers` processes; returns the number of stays."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = [(folder, persons, seed, b, d, km) for d in range(days) for b in _blocks(persons)]
    if workers <= 1:
        return sum(_write_part(t) for t in tasks)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return sum(pool.map(_write_part, tasks))


# ---------------------------------------------------------------- cases and contact edges


def case_anchors(persons: int, n: int, seed: int = 2022) -> list[tuple[int, dt.datetime]]:
    """`n` distinct persons with anchors spread over the last two days of the data (minutes)."""
    rng = np.random.default_rng([seed, 9])
    ids = np.sort(rng.choice(persons, n, replace=False) + 1)
    start = dt.datetime.combine(START, dt.time(), LOCAL) + dt.timedelta(days=DAYS - 1)
    minutes = rng.integers(0, 2 * 1440, n)
    return [(int(i), start + dt.timedelta(minutes=int(m))) for i, m in zip(ids, minutes, strict=True)]


HOUSEHOLD_SIZES = ([1, 2, 3, 4, 5, 6], [0.25, 0.30, 0.21, 0.13, 0.07, 0.04])
EDGES_PER_PERSON = 4.6  # about 1.2 household + 3.4 workplace


def _clique_pairs(members: I64, sizes: I64) -> tuple[I64, I64]:
    """Every pair within each group; `members` are the groups' persons back to back."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    a_parts, b_parts = [], []
    for size in np.unique(sizes):
        if size < 2:
            continue
        first = starts[sizes == size]
        i, j = np.triu_indices(int(size), 1)
        a_parts.append(members[(first[:, None] + i).ravel()])
        b_parts.append(members[(first[:, None] + j).ravel()])
    return np.concatenate(a_parts), np.concatenate(b_parts)


def _groups(rng: np.random.Generator, n: int, sizes: I64) -> tuple[I64, I64]:
    """Cut a random order of n persons into groups of the given sizes (the last one shorter)."""
    total = np.cumsum(sizes)
    k = int(np.searchsorted(total, n)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= int(total[k - 1] - n) if total[k - 1] > n else 0
    return rng.permutation(n).astype(np.int64), sizes


def contact_edges(edges: int, seed: int = 2022) -> tuple[pa.Table, int]:
    """Exactly `edges` undirected edges (each pair once); returns the table and the persons."""
    rng = np.random.default_rng([seed, 20])
    persons = int(edges / EDGES_PER_PERSON * 1.05)
    ids = rng.permutation(persons).astype(np.int64) + 10_000_001  # no order to exploit
    hh_sizes = rng.choice(HOUSEHOLD_SIZES[0], persons, p=HOUSEHOLD_SIZES[1]).astype(np.int64)
    members, hh_sizes = _groups(rng, persons, hh_sizes)
    ha, hb = _clique_pairs(members, hh_sizes)
    workers = rng.choice(persons, int(persons * 0.6), replace=False).astype(np.int64)
    team_sizes = np.clip(np.round(rng.lognormal(2.0, 0.6, len(workers))), 3, 40).astype(np.int64)
    order, team_sizes = _groups(rng, len(workers), team_sizes)
    wa, wb = _clique_pairs(workers[order], team_sizes)
    a = np.concatenate([ha, wa])
    b = np.concatenate([hb, wb])
    setting = np.concatenate([np.zeros(len(ha), np.int8), np.ones(len(wa), np.int8)])
    if len(a) < edges:
        raise ValueError(f"only {len(a):,} edges generated for {edges:,}; raise EDGES_PER_PERSON")
    keep = np.sort(rng.choice(len(a), edges, replace=False))
    flip = rng.random(edges) < 0.5  # either direction, as a registry would hold them
    a, b = a[keep], b[keep]
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    table = pa.table(
        {
            "person_id": pa.array(ids[a]),
            "other_id": pa.array(ids[b]),
            "setting": pa.DictionaryArray.from_arrays(
                pa.array(setting[keep]), pa.array(["household", "workplace"])
            ).cast(pa.string()),
        }
    )
    return table, persons


def edges_dataset(scratch: Path, edges: int, seed: int = 2022) -> tuple[Path, dict[str, object], bool]:
    """The contact edges file for exactly `edges` edges, made unless cached."""
    path = scratch / f"edges-{edges}-{seed}.parquet"

    def make() -> dict[str, object]:
        table, persons = contact_edges(edges, seed)
        pq.write_table(table, path, row_group_size=ROW_GROUP, compression="zstd")
        return {"edges": table.num_rows, "persons": persons, "first_id": 10_000_001}

    facts, made = cached(path, {"edges": edges, "seed": seed, "v": 1}, make)
    return path, facts, made


# ---------------------------------------------------------------- cache


def cached(path: Path, meta: dict[str, object], make: object) -> tuple[dict[str, object], bool]:
    """Reuse `path` when its `<path>.json` records the same `meta`; else make it with
    `make()` (returning extra facts to record, e.g. row counts). Returns (facts, made)."""
    record = Path(f"{path}.json")
    if path.exists() and record.exists():
        saved = json.loads(record.read_text())
        if saved.get("meta") == meta:
            return dict(saved["facts"]), False
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    start = time.perf_counter()
    facts = dict(make())  # type: ignore[operator]
    facts["generate_seconds"] = round(time.perf_counter() - start, 1)
    facts["bytes"] = _size(path)
    record.write_text(json.dumps({"meta": meta, "facts": facts}, indent=1))
    return facts, True


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def stays_dataset(
    scratch: Path,
    stays: int,
    *,
    partitioned: bool = False,
    seed: int = 2022,
    workers: int = 2,
    km: float = CITY_KM,
) -> tuple[Path, dict[str, object], bool]:
    """The stays file (or day-partitioned folder) for about `stays` stays, made unless cached."""
    persons = persons_for(stays)
    area = "" if km == CITY_KM else f"-{km:g}km"
    name = f"stays-{persons}p-{seed}{area}" + ("-days" if partitioned else ".parquet")
    path = scratch / name
    meta: dict[str, object] = {
        "persons": persons,
        "seed": seed,
        "days": DAYS,
        "partitioned": partitioned,
        "v": 2,
    }
    if km != CITY_KM:
        meta["km"] = km

    def make() -> dict[str, object]:
        if partitioned:
            rows = write_partitioned(path, persons, seed, workers=workers, km=km)
        else:
            rows = write_stays(path, persons, seed, km=km)
        return {"stays": rows, "persons": persons}

    facts, made = cached(path, meta, make)
    return path, facts, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("stays")
    s.add_argument("--stays", type=lambda v: int(v.replace("_", "")), default=10_000_000)
    s.add_argument("--partitioned", action="store_true")
    s.add_argument("--region-km", type=float, default=CITY_KM, help="side of the square area (default 40)")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--seed", type=int, default=2022)
    s.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    e = sub.add_parser("edges")
    e.add_argument("--edges", type=lambda v: int(v.replace("_", "")), default=10_000_000)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.what == "stays":
        persons = persons_for(args.stays)
        if args.partitioned:
            rows = write_partitioned(args.out, persons, args.seed, workers=args.workers, km=args.region_km)
        else:
            rows = write_stays(args.out, persons, args.seed, km=args.region_km)
        print(f"{rows:,} stays of {persons:,} persons → {args.out} in {time.perf_counter() - start:.1f} s")
    else:
        table, persons = contact_edges(args.edges, args.seed)
        pq.write_table(table, args.out, row_group_size=ROW_GROUP, compression="zstd")
        print(
            f"{table.num_rows:,} edges of {persons:,} persons → {args.out} "
            f"in {time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    main()
