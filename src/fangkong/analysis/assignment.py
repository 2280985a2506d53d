"""Assigning residents to sampling sites for a round, balancing distance and capacity.

Method (documented in docs/testing.md):
1. Everyone goes to their nearest site (straight-line metres after projecting to UTM).
2. A site's capacity for the round is its swabs per hour times the round's hours (unknown or
   zero capacity: unlimited).
3. While a site has more residents than capacity, its farthest residents move, one by one,
   to the nearest site that still has room and lies within `max_distance_m` of them; those
   with no such site stay (the site stays overloaded, and the answer says by how much).

Farthest-first keeps the short walks for the many; a move never sends anyone beyond
`max_distance_m`. The result is greedy, not optimal; it is fast (the moves touch only the
overflow) and easy to explain to a community worker.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fangkong.tracing.projection import to_utm

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Assignment:
    site: I64  # per resident: index into the sites, −1 when there are no sites
    distance_m: F64  # per resident: distance to the assigned site
    moved: int  # residents sent to a site other than their nearest
    load: I64  # per site: residents assigned
    capacity: F64  # per site: capacity for the round (inf when unknown)
    overloaded: int  # residents above capacity that found no site with room in reach


def assign(
    res_lon: F64,
    res_lat: F64,
    site_lon: F64,
    site_lat: F64,
    capacity_per_hour: F64,
    hours: float,
    *,
    zone: int,
    south: bool = False,
    max_distance_m: float = 3000.0,
) -> Assignment:
    if not (hours > 0 and math.isfinite(hours)):
        raise ValueError(f"hours must be > 0, got {hours!r}")
    if not max_distance_m > 0:
        raise ValueError(f"max_distance_m must be > 0, got {max_distance_m!r}")
    n, m = res_lon.shape[0], site_lon.shape[0]
    cap = np.where(capacity_per_hour > 0, np.floor(capacity_per_hour * hours), np.inf).astype(np.float64)
    if n == 0 or m == 0:
        return Assignment(
            np.full(n, -1, dtype=np.int64), np.full(n, np.inf), 0, np.zeros(m, dtype=np.int64), cap, 0
        )
    from fangkong.analysis.coverage import Residents, Sites, measure_coverage

    nearest = measure_coverage(
        Residents(lon=res_lon, lat=res_lat),
        Sites(lon=site_lon, lat=site_lat, id=[str(k) for k in range(m)]),
        max_distance_m,
        zone=zone,
        south=south,
    )
    site = nearest.nearest_site.astype(np.int64).copy()
    dist = nearest.nearest_distance_m.astype(np.float64).copy()
    rx, ry = to_utm(res_lon, res_lat, zone, south)
    sx, sy = to_utm(site_lon, site_lat, zone, south)
    grid = _Grid(sx, sy, max_distance_m)
    load = np.bincount(site, minlength=m).astype(np.int64)
    moved = overloaded = 0
    over = np.flatnonzero(load > cap)
    if over.size:
        by_site: dict[int, list[int]] = defaultdict(list)
        mask = np.isin(site, over)
        for j in np.flatnonzero(mask).tolist():
            by_site[int(site[j])].append(j)
        for s in over.tolist():
            residents = sorted(by_site[s], key=lambda r: -dist[r])  # farthest first
            excess = int(load[s] - cap[s])
            for i in residents:
                if excess <= 0:
                    break
                target, d = grid.nearest_with_room(float(rx[i]), float(ry[i]), load, cap, exclude=s)
                if target < 0:
                    overloaded += 1
                else:
                    site[i], dist[i] = target, d
                    load[s] -= 1
                    load[target] += 1
                    moved += 1
                excess -= 1
    return Assignment(site, dist, moved, load, cap, overloaded)


class _Grid:
    """Sites bucketed in square cells for "nearest site with room" searches in growing rings."""

    def __init__(self, sx: F64, sy: F64, reach: float) -> None:
        self.sx, self.sy = sx, sy
        extent = max(float(np.ptp(sx)), float(np.ptp(sy)), 1.0)
        self.cell = max(reach / 2, extent / 512)
        self.x0, self.y0 = float(sx.min()), float(sy.min())
        self.reach = reach
        self.cells: dict[tuple[int, int], list[int]] = defaultdict(list)
        for k, (x, y) in enumerate(zip(sx.tolist(), sy.tolist(), strict=True)):
            self.cells[self._key(x, y)].append(k)
        self.max_ring = int(extent / self.cell) + 2

    def _key(self, x: float, y: float) -> tuple[int, int]:
        return int(math.floor((x - self.x0) / self.cell)), int(math.floor((y - self.y0) / self.cell))

    def _ring(self, cx: int, cy: int, r: int) -> list[int]:
        if r == 0:
            return self.cells.get((cx, cy), [])
        out: list[int] = []
        for dx in range(-r, r + 1):
            for dy in (-r, r):
                out += self.cells.get((cx + dx, cy + dy), [])
        for dy in range(-r + 1, r):
            for dx in (-r, r):
                out += self.cells.get((cx + dx, cy + dy), [])
        return out

    def nearest_with_room(
        self, x: float, y: float, load: I64, cap: F64, *, exclude: int
    ) -> tuple[int, float]:
        return self._search(x, y, load, cap, exclude, self.reach)

    def _search(
        self, x: float, y: float, load: I64, cap: F64, exclude: int, limit: float
    ) -> tuple[int, float]:
        cx, cy = self._key(x, y)
        best, bestd = -1, math.inf
        for r in range(self.max_ring + 1):
            # every site in a ring r is at least (r − 1) cells away: stop once that passes best
            if (r - 1) * self.cell > min(bestd, limit):
                break
            ids = self._ring(cx, cy, r)
            if not ids:
                continue
            idx = np.fromiter(ids, dtype=np.int64, count=len(ids))
            idx = idx[(load[idx] < cap[idx]) & (idx != exclude)]
            if idx.size == 0:
                continue
            d = np.hypot(self.sx[idx] - x, self.sy[idx] - y)
            k = int(np.argmin(d))
            if d[k] < bestd:
                best, bestd = int(idx[k]), float(d[k])
        if bestd > limit:
            return -1, math.inf
        return best, bestd
