"""Capacity-balanced assignment of residents to sampling sites."""

from __future__ import annotations

import numpy as np
import pytest

from fangkong.analysis.assignment import assign
from fangkong.tracing.projection import from_utm, to_utm

ZONE = 48
X0, Y0 = to_utm(np.array([104.06]), np.array([30.66]), ZONE, False)


def _lonlat(x: list[float], y: list[float]) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = from_utm(np.asarray(x, float) + X0[0], np.asarray(y, float) + Y0[0], ZONE)
    return np.asarray(lon), np.asarray(lat)


def test_nearest_when_there_is_room_and_farthest_move_first() -> None:
    # site A at 0 m, site B at 1,000 m; six residents near A (the farthest at 400 m toward B)
    rl, ra = _lonlat([0, 50, 100, 200, 300, 400], [0] * 6)
    sl, sa = _lonlat([0, 1000], [0, 0])
    roomy = assign(rl, ra, sl, sa, np.array([100.0, 100.0]), 1.0, zone=ZONE)
    assert roomy.site.tolist() == [0] * 6 and roomy.moved == 0
    tight = assign(rl, ra, sl, sa, np.array([4.0, 100.0]), 1.0, zone=ZONE)  # A takes 4 in the hour
    assert tight.site.tolist() == [0, 0, 0, 0, 1, 1] and tight.moved == 2  # the two farthest move
    assert tight.load.tolist() == [4, 2] and tight.overloaded == 0
    assert tight.distance_m[5] == pytest.approx(600, abs=1) and tight.distance_m[4] == pytest.approx(
        700, abs=1
    )


def test_no_move_beyond_reach_and_unknown_capacity_is_unlimited() -> None:
    rl, ra = _lonlat([0, 10, 20], [0, 0, 0])
    sl, sa = _lonlat([0, 5000], [0, 0])
    far = assign(rl, ra, sl, sa, np.array([1.0, 100.0]), 1.0, zone=ZONE, max_distance_m=3000)
    assert far.site.tolist() == [0, 0, 0] and far.overloaded == 2 and far.moved == 0
    free = assign(rl, ra, sl, sa, np.array([0.0, 100.0]), 1.0, zone=ZONE)
    assert np.isinf(free.capacity[0]) and free.moved == 0
    with pytest.raises(ValueError, match="hours"):
        assign(rl, ra, sl, sa, np.array([1.0, 1.0]), 0.0, zone=ZONE)
    empty = assign(rl, ra, sl[:0], sa[:0], np.array([]), 2.0, zone=ZONE)
    assert empty.site.tolist() == [-1, -1, -1]


def test_balanced_against_brute_force_capacity_and_reach() -> None:
    rng = np.random.default_rng(1)
    rl, ra = _lonlat(rng.uniform(0, 8000, 3000).tolist(), rng.uniform(0, 8000, 3000).tolist())
    sl, sa = _lonlat(rng.uniform(0, 8000, 30).tolist(), rng.uniform(0, 8000, 30).tolist())
    cap = rng.uniform(50, 150, 30)
    out = assign(rl, ra, sl, sa, cap, 1.0, zone=ZONE, max_distance_m=2500)
    rx, ry = to_utm(rl, ra, ZONE, False)
    sx, sy = to_utm(sl, sa, ZONE, False)
    d = np.hypot(rx[:, None] - sx[None, :], ry[:, None] - sy[None, :])
    assert np.allclose(out.distance_m, d[np.arange(3000), out.site])
    assert np.bincount(out.site, minlength=30).tolist() == out.load.tolist()
    nearest = d.argmin(axis=1)
    moved = out.site != nearest
    assert moved.sum() == out.moved and (d[moved, out.site[moved]] <= 2500).all()
    over = np.maximum(out.load - np.floor(cap), 0).sum()
    assert over == out.overloaded  # whatever is still above capacity found no room in reach
