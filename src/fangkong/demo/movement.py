"""Fourteen days of movement for every resident, written to Parquet.

`stays.parquet` holds where each person was and when (home every night, work or school on
working days, 0–3 venue visits a day); `checkins.parquet` one venue-code scan at the start
of each venue visit. Times are planned in local time (Asia/Shanghai) and stored as UTC.

Persons are processed in fixed-size chunks with one random stream per chunk, so output is
reproducible; each chunk becomes one row group, sorted by person_id then start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from fangkong.demo.geography import Geography, pick_near, stream
from fangkong.demo.organisations import Places, Units
from fangkong.demo.population import CHILDCARE, STUDENT, WORKER, Households, Persons
from fangkong.place.categories import PLACE_CATEGORIES

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

DAYS = 14
CHUNK = 32_768
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
TS = pa.timestamp("us", tz="UTC")
STAYS_SCHEMA = pa.schema(
    [("person_id", pa.int64()), ("start", TS), ("end", TS), ("lon", pa.float64()), ("lat", pa.float64())]
)
CHECKINS_SCHEMA = pa.schema(
    [("person_id", pa.int64()), ("place_id", pa.int64()), ("venue_code", pa.string()), ("time", TS)]
)
_US = 1_000_000
_H = 3600
_MIN = 60

# Venue categories people visit; (duration range in minutes) and shares by slot
# (morning, midday, afternoon, evening) for people under 60.
VISITS: dict[str, tuple[tuple[int, int], tuple[float, float, float, float]]] = {
    "restaurant": ((30, 90), (0.35, 0.55, 0.12, 0.55)),
    "shopping_mall": ((15, 90), (0.10, 0.15, 0.30, 0.20)),
    "farmers_market": ((15, 45), (0.25, 0.02, 0.05, 0.02)),
    "bank": ((10, 40), (0.0, 0.05, 0.08, 0.0)),
    "barber": ((20, 60), (0.0, 0.04, 0.08, 0.04)),
    "park": ((30, 120), (0.15, 0.05, 0.15, 0.08)),
    "medical_institution": ((30, 150), (0.02, 0.05, 0.08, 0.0)),
    "hotel": ((60, 180), (0.0, 0.01, 0.01, 0.01)),
    "office": ((30, 120), (0.0, 0.02, 0.02, 0.0)),
    "city_bus": ((10, 40), (0.08, 0.04, 0.06, 0.04)),
    "urban_rail": ((10, 45), (0.05, 0.04, 0.06, 0.05)),
    "taxi": ((10, 30), (0.0, 0.0, 0.03, 0.03)),
    "rail_passenger": ((30, 90), (0.0, 0.0, 0.005, 0.0)),
    "road_passenger": ((30, 90), (0.0, 0.0, 0.005, 0.0)),
    "civil_aviation": ((60, 150), (0.0, 0.0, 0.003, 0.0)),
    "waterway_passenger": ((30, 90), (0.0, 0.0, 0.002, 0.0)),
}
# How people of 60 and over shift those shares.
_ELDERLY_FACTOR = {
    "farmers_market": 3.0,
    "park": 2.0,
    "medical_institution": 3.0,
    "urban_rail": 0.5,
    "taxi": 0.5,
    "hotel": 0.3,
    "office": 0.1,
    "restaurant": 0.7,
}
_TRANSPORT = {
    "city_bus",
    "urban_rail",
    "taxi",
    "rail_passenger",
    "road_passenger",
    "civil_aviation",
    "waterway_passenger",
}
# Probability that a slot holds a visit: (morning, midday, afternoon, evening).
_SLOT_P = np.array(
    [
        [0.10, 0.45, 0.35, 0.45],  # under 60
        [0.35, 0.35, 0.40, 0.25],
    ]
)  # 60 and over
# Visit windows, seconds after local midnight.
_MORNING, _MIDDAY, _AFTERNOON, _EVENING = (
    (6 * _H + 30 * _MIN, 8 * _H + 30 * _MIN),
    (11 * _H, 14 * _H),
    (14 * _H + 30 * _MIN, 17 * _H + 30 * _MIN),
    (18 * _H, 21 * _H + 30 * _MIN),
)


@dataclass(frozen=True)
class MovementStats:
    stays: int
    checkins: int


def _tables() -> tuple[list[int], F64, F64, NDArray[np.float64]]:
    """(place category index, duration lo, hi in seconds, cumulative shares [age, slot, cat])."""
    cats = [PLACE_CATEGORIES.index(c) for c in VISITS]
    lo = np.array([v[0][0] for v in VISITS.values()], dtype=np.float64) * _MIN
    hi = np.array([v[0][1] for v in VISITS.values()], dtype=np.float64) * _MIN
    shares = np.array([v[1] for v in VISITS.values()]).T  # [slot, cat]
    factor = np.array([_ELDERLY_FACTOR.get(c, 1.0) for c in VISITS])
    both = np.stack([shares, shares * factor])
    both /= both.sum(axis=2, keepdims=True)
    return cats, lo, hi, np.cumsum(both, axis=2)


def day_starts(end_date: dt.date) -> I64:
    """UTC microseconds of local midnight for each of the DAYS days, plus the end."""
    first = end_date - dt.timedelta(days=DAYS - 1)
    return np.array(
        [
            int(dt.datetime.combine(first + dt.timedelta(days=d), dt.time(), LOCAL_ZONE).timestamp()) * _US
            for d in range(DAYS + 1)
        ],
        dtype=np.int64,
    )


def write_movement(
    stays_path: Path,
    checkins_path: Path,
    *,
    geo: Geography,
    households: Households,
    persons: Persons,
    units: Units,
    places: Places,
    person_id0: int,
    place_id0: int,
    seed: int,
    end_date: dt.date,
    progress: Callable[[str], None] | None = None,
) -> MovementStats:
    """Write both files; person ids are `person_id0 + index`, place ids `place_id0 + index`."""
    days = day_starts(end_date)
    first = end_date - dt.timedelta(days=DAYS - 1)
    weekday = np.array([(first + dt.timedelta(days=d)).weekday() for d in range(DAYS)])
    home_lon, home_lat = households.lon[persons.household], households.lat[persons.household]
    grid = households.grid[persons.household]
    home_t, home_d = geo.grid_township[grid], geo.grid_district[grid]
    venue_t, venue_d = geo.grid_township[places.grid], geo.grid_district[places.grid]
    codes = pa.array(places.venue_code, type=pa.string())
    venue_weight = np.sqrt(places.capacity.astype(np.float64))
    n = len(persons)
    n_stays = n_checkins = 0
    with (
        pq.ParquetWriter(stays_path, STAYS_SCHEMA, compression="zstd") as stays_out,
        pq.ParquetWriter(checkins_path, CHECKINS_SCHEMA, compression="zstd") as checkins_out,
    ):
        for ci, lo in enumerate(range(0, n, CHUNK)):
            hi = min(n, lo + CHUNK)
            rng = stream(seed, 8, ci)
            sl = slice(lo, hi)
            plan = _plan(rng, persons, units, sl, weekday)
            visit = plan.place == -2
            place = np.full(len(plan.place), -1, dtype=np.int64)
            vcat = plan.category[visit]
            vp = plan.person[visit]
            picked = np.empty(len(vp), dtype=np.int64)
            for cat in np.unique(vcat).tolist():
                who = np.flatnonzero(vcat == cat)
                cand = np.flatnonzero(places.category == cat)
                local = 0.2 if PLACE_CATEGORIES[cat] in _TRANSPORT else 0.55
                pick = pick_near(
                    rng,
                    home_t[lo + vp[who]],
                    home_d[lo + vp[who]],
                    venue_t[cand],
                    venue_d[cand],
                    venue_weight[cand],
                    local,
                    0.3,
                )
                picked[who] = cand[pick]
            place[visit] = picked
            lon = np.where(place >= 0, places.lon[np.maximum(place, 0)], plan.lon)
            lat = np.where(place >= 0, places.lat[np.maximum(place, 0)], plan.lat)
            start = days[plan.day] + plan.start * _US
            end = days[plan.day] + plan.end * _US
            table = _with_home(
                rng,
                plan.person,
                start,
                end,
                lon,
                lat,
                hi - lo,
                home_lon[sl],
                home_lat[sl],
                int(days[0]),
                int(days[-1]),
            )
            table = table.set_column(0, "person_id", pa.array(table.column(0).to_numpy() + (person_id0 + lo)))
            stays_out.write_table(table, row_group_size=len(table))
            is_visit = place >= 0
            checkins = pa.Table.from_arrays(
                [
                    pa.array(plan.person[is_visit] + (person_id0 + lo)),
                    pa.array(place[is_visit] + place_id0),
                    codes.take(pa.array(place[is_visit])),
                    pa.array(start[is_visit], type=TS),
                ],
                schema=CHECKINS_SCHEMA,
            )
            checkins_out.write_table(checkins, row_group_size=max(1, len(checkins)))
            n_stays += len(table)
            n_checkins += len(checkins)
            if progress is not None and (ci % 8 == 7 or hi == n):
                progress(f"movement: {hi:,}/{n:,} persons, {n_stays:,} stays")
    return MovementStats(stays=n_stays, checkins=n_checkins)


@dataclass(frozen=True)
class _Plan:
    """Away-from-home activities of a chunk, in (person, day, slot) order."""

    person: I64  # index within the chunk
    day: I64
    start: I64  # seconds after local midnight
    end: I64
    category: I64  # place category of a visit, -1 for work / school
    place: I64  # -2 for a visit (venue chosen later), -1 for work / school
    lon: F64
    lat: F64


def _plan(rng: np.random.Generator, persons: Persons, units: Units, sl: slice, weekday: I64) -> _Plan:
    cats, dur_lo, dur_hi, cum = _tables()
    activity, age = persons.activity[sl], persons.age[sl]
    unit = persons.unit[sl]
    p = len(activity)
    shape = (p, DAYS)
    # Work, school or childcare on weekdays; some workers on Saturdays; a few days off.
    saturday = (activity == WORKER) & (rng.random(p) < 0.2)
    works = (
        (activity[:, None] > 0)
        & ((weekday < 5)[None, :] | (saturday[:, None] & (weekday == 5)[None, :]))
        & (rng.random(shape) > 0.03)
    )
    base_start = np.select(
        [activity == STUDENT, activity == CHILDCARE],
        [7 * _H + 40 * _MIN + rng.random(p) * 30 * _MIN, 8 * _H + rng.random(p) * _H],
        8 * _H + rng.random(p) * 90 * _MIN,
    )
    base_len = np.select(
        [activity == STUDENT, activity == CHILDCARE],
        [8 * _H + 20 * _MIN + rng.random(p) * 90 * _MIN, 8 * _H + rng.random(p) * _H],
        8 * _H + 30 * _MIN + rng.random(p) * 90 * _MIN,
    )
    ws = base_start[:, None] + rng.normal(0, 5 * _MIN, shape)
    we = ws + base_len[:, None] + rng.normal(0, 10 * _MIN, shape)
    # Visit windows: morning, midday, afternoon, evening.
    lo = np.empty((p, DAYS, 4))
    hi = np.empty((p, DAYS, 4))
    lo[:, :, 0], hi[:, :, 0] = (
        _MORNING[0],
        np.where(works, np.minimum(ws - 20 * _MIN, _MORNING[1]), _MORNING[1]),
    )
    lo[:, :, 1], hi[:, :, 1] = _MIDDAY
    lo[:, :, 2], hi[:, :, 2] = _AFTERNOON
    lo[:, :, 3] = np.where(works, np.maximum(we + 20 * _MIN, _EVENING[0]), _EVENING[0])
    hi[:, :, 3] = _EVENING[1]
    elderly = (age >= 60).astype(np.int64)
    prob = _SLOT_P[elderly][:, None, :] * np.where(age < 6, 0.5, 1.0)[:, None, None]
    active = (rng.random((p, DAYS, 4)) < prob) & (hi - lo >= 15 * _MIN)
    active[:, :, 1:3] &= ~works[:, :, None]
    active[:, :, 2] &= ~active.all(axis=2)  # at most three visits a day
    cat = (rng.random((p, DAYS, 4))[..., None] > cum[elderly][:, None, :, :]).sum(axis=3)
    cat = np.minimum(cat, len(cats) - 1)
    dur = np.minimum(dur_lo[cat] + rng.random((p, DAYS, 4)) * (dur_hi[cat] - dur_lo[cat]), hi - lo)
    v_start = lo + rng.random((p, DAYS, 4)) * (hi - lo - dur)
    # Slots in time order: morning, work, midday, afternoon, evening.
    start = np.concatenate([v_start[:, :, :1], ws[:, :, None], v_start[:, :, 1:]], axis=2)
    end = np.concatenate([(v_start + dur)[:, :, :1], we[:, :, None], (v_start + dur)[:, :, 1:]], axis=2)
    on = np.concatenate([active[:, :, :1], works[:, :, None], active[:, :, 1:]], axis=2)
    category = np.concatenate([cat[:, :, :1], np.full(shape + (1,), -1), cat[:, :, 1:]], axis=2)
    idx = np.flatnonzero(on.ravel())
    person, day, slot = idx // (DAYS * 5), (idx // 5) % DAYS, idx % 5
    is_work = slot == 1
    work_unit = np.maximum(unit[person], 0)
    visit_cat = np.array(cats, dtype=np.int64)[category.ravel()[idx]]
    return _Plan(
        person=person,
        day=day,
        start=start.ravel()[idx].astype(np.int64),
        end=end.ravel()[idx].astype(np.int64),
        category=np.where(is_work, -1, visit_cat),
        place=np.where(is_work, -1, -2),
        lon=np.where(is_work, units.lon[work_unit], np.nan),
        lat=np.where(is_work, units.lat[work_unit], np.nan),
    )


def _with_home(
    rng: np.random.Generator,
    person: I64,
    start: I64,
    end: I64,
    lon: F64,
    lat: F64,
    p: int,
    home_lon: F64,
    home_lat: F64,
    window_start: int,
    window_end: int,
) -> pa.Table:
    """Add the stays at home between activities (and before the first, after the last)."""
    m = len(person)
    first = np.ones(m, dtype=np.bool_)
    first[1:] = person[1:] != person[:-1]
    last = np.ones(m, dtype=np.bool_)
    last[:-1] = first[1:]
    prev_end = np.empty(m, dtype=np.int64)
    prev_end[1:] = end[:-1]
    travel = rng.integers(10 * _MIN, 25 * _MIN, (2, m)) * _US
    h_start = np.where(first, window_start, prev_end + travel[0])
    h_end = start - travel[1]
    keep = h_end - h_start >= 15 * _MIN * _US
    t_start = end[last] + travel[0][last]
    t_keep = t_start < window_end
    idle = np.setdiff1d(np.arange(p), person[first])  # no activity in 14 days: home all along
    hp = np.concatenate([person[keep], person[last][t_keep], idle])
    all_person = np.concatenate([person, hp])
    all_start = np.concatenate([start, h_start[keep], t_start[t_keep], np.full(len(idle), window_start)])
    all_end = np.concatenate([end, h_end[keep], np.full(int(t_keep.sum()) + len(idle), window_end)])
    all_lon = np.concatenate([lon, home_lon[hp]])
    all_lat = np.concatenate([lat, home_lat[hp]])
    order = np.argsort((all_person << 42) | (all_start - window_start))
    return pa.Table.from_arrays(
        [
            pa.array(all_person[order]),
            pa.array(all_start[order], type=TS),
            pa.array(all_end[order], type=TS),
            pa.array(all_lon[order]),
            pa.array(all_lat[order]),
        ],
        schema=STAYS_SCHEMA,
    )
