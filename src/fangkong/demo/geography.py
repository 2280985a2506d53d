"""Geography of the demo city: 成都市 (5101), its 20 real county-level districts and 261
real townships, and synthetic communities (社区/村) and grids (网格) below them.

Each district gets an approximate real centroid, land area and 2020 census population
(rounded, written for this project); townships are spread around the centroid on a
jittered sunflower spiral, communities around their township and grids around their
community. Population weights follow the district populations, so the five central
districts are far denser than the outer counties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fangkong.area.service import iter_national
from fangkong.demo import names

CITY_CODE = "5101"
PROVINCE_CODE = "51"
CITY_LON, CITY_LAT = 104.066, 30.657
KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 111.2 * math.cos(math.radians(30.66))
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
_GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))

# code: (lon, lat, land area km², population in 10 000s, kind) — approximate values.
# kind: core (五城区, all 社区), suburb (some 村), rural (mostly 村).
DISTRICTS: dict[str, tuple[float, float, float, float, str]] = {
    "510104": (104.083, 30.656, 61, 90, "core"),  # 锦江区
    "510105": (104.055, 30.676, 66, 96, "core"),  # 青羊区
    "510106": (104.052, 30.704, 108, 127, "core"),  # 金牛区
    "510107": (104.043, 30.642, 75, 121, "core"),  # 武侯区
    "510108": (104.102, 30.660, 110, 138, "core"),  # 成华区
    "510112": (104.269, 30.557, 558, 135, "suburb"),  # 龙泉驿区
    "510113": (104.251, 30.878, 379, 49, "suburb"),  # 青白江区
    "510114": (104.158, 30.823, 497, 156, "suburb"),  # 新都区
    "510115": (103.837, 30.690, 277, 97, "suburb"),  # 温江区
    "510116": (103.923, 30.574, 1068, 266, "suburb"),  # 双流区
    "510117": (103.887, 30.808, 438, 139, "suburb"),  # 郫都区
    "510118": (103.811, 30.410, 330, 36, "rural"),  # 新津区
    "510121": (104.412, 30.862, 1156, 80, "rural"),  # 金堂县
    "510129": (103.512, 30.587, 1284, 52, "rural"),  # 大邑县
    "510131": (103.506, 30.197, 580, 26, "rural"),  # 蒲江县
    "510181": (103.647, 30.988, 1208, 71, "rural"),  # 都江堰市
    "510182": (103.958, 30.990, 1421, 78, "rural"),  # 彭州市
    "510183": (103.464, 30.410, 1377, 60, "rural"),  # 邛崃市
    "510184": (103.671, 30.631, 1089, 74, "rural"),  # 崇州市
    "510185": (104.547, 30.411, 2213, 112, "rural"),  # 简阳市
}
_VILLAGE_SHARE = {"core": 0.0, "suburb": 0.35, "rural": 0.7}

# Target residents per community and per grid (scaled to the demo's size).
RESIDENTS_PER_COMMUNITY = 800
RESIDENTS_PER_GRID = 250
MAX_COMMUNITIES = 40
MAX_GRIDS = 20


def stream(seed: int, *keys: int) -> np.random.Generator:
    """An independent, reproducible random stream for one phase (and chunk) of the build."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


@dataclass(frozen=True)
class Geography:
    district_code: list[str]
    district_name: list[str]
    district_lon: NDArray[np.float64]
    district_lat: NDArray[np.float64]
    township_code: list[str]
    township_name: list[str]
    township_district: NDArray[np.int64]
    township_lon: NDArray[np.float64]
    township_lat: NDArray[np.float64]
    community_code: list[str]
    community_name: list[str]
    community_township: NDArray[np.int64]
    community_village: NDArray[np.bool_]
    community_lon: NDArray[np.float64]
    community_lat: NDArray[np.float64]
    grid_code: list[str]
    grid_name: list[str]
    grid_community: NDArray[np.int64]
    grid_lon: NDArray[np.float64]
    grid_lat: NDArray[np.float64]
    grid_weight: NDArray[np.float64]  # share of the population, sums to 1

    @property
    def grid_township(self) -> NDArray[np.int64]:
        return self.community_township[self.grid_community]

    @property
    def grid_district(self) -> NDArray[np.int64]:
        return self.township_district[self.grid_township]

    @property
    def district_core(self) -> NDArray[np.bool_]:
        return np.array([DISTRICTS[c][4] == "core" for c in self.district_code])


def chengdu_divisions() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(counties, townships) of 成都市 from the bundled national list, sorted by code."""
    counties: list[tuple[str, str]] = []
    townships: list[tuple[str, str]] = []
    for code, name, level in iter_national():
        if not code.startswith(CITY_CODE):
            continue
        if level == "county":
            counties.append((code, name))
        elif level == "township":
            townships.append((code, name))
    missing = set(DISTRICTS) ^ {c for c, _ in counties}
    if missing:
        raise RuntimeError(f"division list and demo district table disagree on {sorted(missing)}")
    return sorted(counties), sorted(townships)


def _spiral(
    rng: np.random.Generator, n: int, radius_km: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """`n` points (km offsets) on a jittered sunflower spiral of the given radius."""
    i = np.arange(n, dtype=np.float64)
    r = radius_km * np.sqrt((i + 0.5) / n) * rng.uniform(0.85, 1.1, n)
    theta = i * _GOLDEN_ANGLE + rng.uniform(0, 2 * math.pi) + rng.normal(0, 0.15, n)
    return r * np.cos(theta), r * np.sin(theta)


def km_to_deg(
    dx_km: NDArray[np.float64], dy_km: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return dx_km / KM_PER_DEG_LON, dy_km / KM_PER_DEG_LAT


def build_geography(seed: int, size: int) -> Geography:
    counties, townships = chengdu_divisions()
    rng = stream(seed, 1)
    d_code = [c for c, _ in counties]
    d_index = {c: i for i, c in enumerate(d_code)}
    t_code = [c for c, _ in townships]
    t_district = np.array([d_index[c[:6]] for c in t_code], dtype=np.int64)
    n_t = len(t_code)
    t_lon = np.zeros(n_t)
    t_lat = np.zeros(n_t)
    t_radius = np.zeros(n_t)
    t_weight = np.zeros(n_t)
    for di, code in enumerate(d_code):
        lon, lat, area, pop, _kind = DISTRICTS[code]
        members = np.flatnonzero(t_district == di)
        radius = 0.6 * math.sqrt(area / math.pi)
        dx, dy = _spiral(rng, len(members), radius)
        ox, oy = km_to_deg(dx, dy)
        t_lon[members] = lon + ox
        t_lat[members] = lat + oy
        t_radius[members] = max(0.6, radius / math.sqrt(len(members)))
        t_weight[members] = pop / len(members) * rng.lognormal(0, 0.35, len(members))
    t_weight /= t_weight.sum()

    c_code: list[str] = []
    c_name: list[str] = []
    c_town: list[int] = []
    c_village: list[bool] = []
    c_lon: list[float] = []
    c_lat: list[float] = []
    c_weight: list[float] = []
    c_radius: list[float] = []
    for ti, code in enumerate(t_code):
        expected = size * t_weight[ti]
        n_c = int(np.clip(round(expected / RESIDENTS_PER_COMMUNITY), 1, MAX_COMMUNITIES))
        kind = DISTRICTS[code[:6]][4]
        dx, dy = _spiral(rng, n_c, t_radius[ti])
        ox, oy = km_to_deg(dx, dy)
        share = rng.lognormal(0, 0.3, n_c)
        share /= share.sum()
        villages = np.arange(n_c) >= round(n_c * (1 - _VILLAGE_SHARE[kind]))
        for k, stem in enumerate(names.syllable_pairs(rng, n_c)):
            c_code.append(f"{code}{k + 1:03d}")
            c_name.append(stem + ("村" if villages[k] else "社区"))
            c_town.append(ti)
            c_village.append(bool(villages[k]))
            c_lon.append(float(t_lon[ti] + ox[k]))
            c_lat.append(float(t_lat[ti] + oy[k]))
            c_weight.append(float(t_weight[ti] * share[k]))
            c_radius.append(max(0.3, t_radius[ti] / math.sqrt(n_c) * (2.0 if villages[k] else 0.8)))

    g_code: list[str] = []
    g_name: list[str] = []
    g_comm: list[int] = []
    g_lon: list[float] = []
    g_lat: list[float] = []
    g_weight: list[float] = []
    for ci, code in enumerate(c_code):
        n_g = int(np.clip(round(size * c_weight[ci] / RESIDENTS_PER_GRID), 1, MAX_GRIDS))
        dx, dy = _spiral(rng, n_g, c_radius[ci])
        ox, oy = km_to_deg(dx, dy)
        share = rng.lognormal(0, 0.25, n_g)
        share /= share.sum()
        for k in range(n_g):
            g_code.append(f"{code}{k + 1:03d}")
            g_name.append(f"第{k + 1}网格")
            g_comm.append(ci)
            g_lon.append(round(c_lon[ci] + float(ox[k]), 6))
            g_lat.append(round(c_lat[ci] + float(oy[k]), 6))
            g_weight.append(c_weight[ci] * float(share[k]))
    weights = np.array(g_weight)
    return Geography(
        district_code=d_code,
        district_name=[n for _, n in counties],
        district_lon=np.array([DISTRICTS[c][0] for c in d_code]),
        district_lat=np.array([DISTRICTS[c][1] for c in d_code]),
        township_code=t_code,
        township_name=[n for _, n in townships],
        township_district=t_district,
        township_lon=np.round(t_lon, 6),
        township_lat=np.round(t_lat, 6),
        community_code=c_code,
        community_name=c_name,
        community_township=np.array(c_town, dtype=np.int64),
        community_village=np.array(c_village, dtype=np.bool_),
        community_lon=np.round(np.array(c_lon), 6),
        community_lat=np.round(np.array(c_lat), 6),
        grid_code=g_code,
        grid_name=g_name,
        grid_community=np.array(g_comm, dtype=np.int64),
        grid_lon=np.array(g_lon),
        grid_lat=np.array(g_lat),
        grid_weight=weights / weights.sum(),
    )


def jitter(
    rng: np.random.Generator, lon: NDArray[np.float64], lat: NDArray[np.float64], radius_km: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Points uniformly within `radius_km` of (lon, lat), rounded to ~0.1 m."""
    n = len(lon)
    r = radius_km * np.sqrt(rng.random(n))
    theta = rng.uniform(0, 2 * math.pi, n)
    ox, oy = km_to_deg(r * np.cos(theta), r * np.sin(theta))
    return np.round(lon + ox, 6), np.round(lat + oy, 6)


def pick_near(
    rng: np.random.Generator,
    home_t: I64,
    home_d: I64,
    cand_t: I64,
    cand_d: I64,
    weight: F64,
    p_township: float,
    p_district: float,
) -> I64:
    """For each home, a candidate index: in the same township with probability
    `p_township`, else in the same district with `p_district`, else anywhere (falling
    back outwards when a level has no candidate), weighted by `weight`."""
    n = len(home_t)
    out = np.full(n, -1, dtype=np.int64)
    u = rng.random(n)
    level = np.where(u < p_township, 0, np.where(u < p_township + p_district, 1, 2))
    zeros_h, zeros_c = np.zeros(n, dtype=np.int64), np.zeros(len(cand_t), dtype=np.int64)
    for lv, key_h, key_c in ((0, home_t, cand_t), (1, home_d, cand_d), (2, zeros_h, zeros_c)):
        todo = np.flatnonzero((level <= lv) & (out < 0))
        if len(todo) == 0 or len(cand_t) == 0:
            continue
        order = np.argsort(key_c, kind="stable")
        nkeys = int(max(key_h.max(initial=0), key_c.max(initial=0))) + 1
        counts = np.bincount(key_c, minlength=nkeys)
        ends = np.cumsum(counts)
        starts = ends - counts
        cw = np.cumsum(weight[order])
        cw0 = np.concatenate(([0.0], cw))
        k = key_h[todo]
        ok = counts[k] > 0
        todo, k = todo[ok], k[ok]
        lo, hi = cw0[starts[k]], cw0[ends[k]]
        r = lo + rng.random(len(todo)) * (hi - lo)
        pos = np.searchsorted(cw, r, side="right")
        out[todo] = order[np.clip(pos, starts[k], ends[k] - 1)]
    return out
