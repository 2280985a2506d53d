"""Sampling-site coverage (15分钟核酸采样圈), checked against brute-force numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from fangkong.analysis.coverage import Residents, Sites, measure_coverage, suggest_sites
from fangkong.tracing.projection import from_utm, to_utm

ZONE = 48  # Chengdu
LON0, LAT0 = 104.06, 30.66
F64 = NDArray[np.float64]


def _random_city(
    seed: int, n: int, m: int, spread: float = 0.15
) -> tuple[Residents, Sites, F64, F64, F64, F64]:
    rng = np.random.default_rng(seed)
    lon = LON0 + rng.normal(0, spread, n)
    lat = LAT0 + rng.normal(0, spread, n)
    weight = rng.integers(0, 5, n).astype(np.float64)
    group = np.array([f"5101040{g:02d}" for g in rng.integers(0, 7, n)])
    slon = LON0 + rng.uniform(-2 * spread, 2 * spread, m)
    slat = LAT0 + rng.uniform(-2 * spread, 2 * spread, m)
    cap = rng.uniform(100, 500, m)
    cap[::3] = np.nan
    residents = Residents(lon, lat, weight=weight, group=group)
    sites = Sites(slon, slat, [f"S{i}" for i in range(m)], capacity_per_hour=cap)
    rx, ry = to_utm(lon, lat, ZONE)
    sx, sy = to_utm(slon, slat, ZONE)
    return residents, sites, rx, ry, sx, sy


@pytest.mark.parametrize(
    ("seed", "n", "m", "radius"),
    [(1, 2000, 40, 1200.0), (2, 1500, 7, 800.0), (3, 3000, 150, 2500.0), (4, 500, 1, 1200.0)],
)
def test_matches_brute_force(seed: int, n: int, m: int, radius: float) -> None:
    residents, sites, rx, ry, sx, sy = _random_city(seed, n, m)
    cov = measure_coverage(residents, sites, radius, zone=ZONE)

    dist = np.hypot(rx[:, None] - sx[None, :], ry[:, None] - sy[None, :])  # n × m
    nearest = dist.min(axis=1)
    covered = nearest <= radius
    w = residents.weights()
    # exact nearest distance for everyone, also far beyond the radius
    np.testing.assert_allclose(cov.nearest_distance_m, nearest, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dist[np.arange(n), cov.nearest_site], nearest, rtol=0, atol=1e-6)
    assert (cov.covered_mask == covered).all()
    assert cov.covered_residents == int(covered.sum()) and cov.residents == n
    assert cov.expected == pytest.approx(w.sum())
    assert cov.covered == pytest.approx(w[covered].sum())
    assert cov.share == pytest.approx(w[covered].sum() / w.sum())
    assert 0 < cov.share < 1 or m == 1  # the random cities are partly covered

    groups = residents.group
    assert groups is not None
    keys = sorted(set(groups.tolist()))
    assert [g.key for g in cov.by_group] == keys
    for g in cov.by_group:
        sel = groups == g.key
        assert g.residents == int(sel.sum())
        assert g.expected == pytest.approx(w[sel].sum())
        assert g.covered == pytest.approx(w[sel & covered].sum())
        assert g.share == pytest.approx(w[sel & covered].sum() / w[sel].sum() if w[sel].sum() else 0.0)

    owner = dist.argmin(axis=1)
    cap = sites.capacity_per_hour
    assert cap is not None
    for i, load in enumerate(cov.site_loads):
        assert load.site_id == f"S{i}"
        assert load.assigned == pytest.approx(w[owner == i].sum())
        assert load.assigned_within_radius == pytest.approx(w[(owner == i) & covered].sum())
        if np.isnan(cap[i]):
            assert load.hours is None and load.capacity_per_hour is None
        else:
            assert load.hours == pytest.approx(w[owner == i].sum() / cap[i])


def test_far_residents_get_their_true_nearest_site() -> None:
    # one resident 50 km from a cluster of sites, one at 3 km: both beyond the radius
    slon = LON0 + np.array([0.0, 0.01, 0.02, 0.5])
    slat = LAT0 + np.array([0.0, 0.01, 0.0, 0.0])
    sites = Sites(slon, slat, ["a", "b", "c", "far"])
    rlon = np.array([LON0 - 0.52, LON0 + 0.25, LON0])
    rlat = np.array([LAT0, LAT0 + 0.03, LAT0])
    cov = measure_coverage(Residents(rlon, rlat), sites, zone=ZONE)
    rx, ry = to_utm(rlon, rlat, ZONE)
    sx, sy = to_utm(slon, slat, ZONE)
    dist = np.hypot(rx[:, None] - sx[None, :], ry[:, None] - sy[None, :])
    np.testing.assert_allclose(cov.nearest_distance_m, dist.min(axis=1), atol=1e-6)
    assert cov.nearest_site.tolist() == dist.argmin(axis=1).tolist()
    assert cov.covered_mask.tolist() == [False, False, True]
    assert cov.share == pytest.approx(1 / 3)


def test_no_sites_covers_nobody() -> None:
    residents, _, *_ = _random_city(5, 100, 0)
    sites = Sites(np.zeros(0), np.zeros(0), [])
    cov = measure_coverage(residents, sites, zone=ZONE)
    assert cov.share == 0.0 and cov.covered == 0.0 and cov.covered_residents == 0
    assert np.isinf(cov.nearest_distance_m).all() and (cov.nearest_site == -1).all()
    assert cov.site_loads == ()
    assert all(g.covered == 0 and g.share == 0 for g in cov.by_group)


def test_no_residents_is_share_zero() -> None:
    _, sites, *_ = _random_city(6, 0, 5)
    empty = Residents(np.zeros(0), np.zeros(0), group=np.zeros(0, dtype=str))
    cov = measure_coverage(empty, sites, zone=ZONE)
    assert cov.share == 0.0 and cov.expected == 0.0 and cov.residents == 0
    assert cov.nearest_distance_m.shape == (0,) and cov.by_group == ()
    assert [load.assigned for load in cov.site_loads] == [0.0] * 5
    both = measure_coverage(empty, Sites(np.zeros(0), np.zeros(0), []), zone=ZONE)
    assert both.share == 0.0
    assert suggest_sites(empty, sites, zone=ZONE) == ()


def test_zero_weights_are_share_zero_not_a_division_error() -> None:
    residents = Residents(np.array([LON0]), np.array([LAT0]), weight=np.array([0.0]))
    sites = Sites(np.array([LON0]), np.array([LAT0]), ["a"])
    cov = measure_coverage(residents, sites, zone=ZONE)
    assert cov.covered_residents == 1 and cov.share == 0.0


@pytest.mark.parametrize("radius", [0, -1.0, math.nan, math.inf, "1200", True])
def test_bad_radius_is_rejected(radius: object) -> None:
    residents, sites, *_ = _random_city(7, 10, 3)
    with pytest.raises(ValueError, match="radius_m"):
        measure_coverage(residents, sites, radius, zone=ZONE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="radius_m"):
        suggest_sites(residents, sites, radius, 3, zone=ZONE)  # type: ignore[arg-type]


def test_bad_inputs_are_rejected() -> None:
    residents, sites, *_ = _random_city(8, 10, 3)
    with pytest.raises(ValueError, match="zone"):
        measure_coverage(residents, sites, zone=0)
    with pytest.raises(ValueError, match="n_new"):
        suggest_sites(residents, sites, 1200.0, -1, zone=ZONE)
    with pytest.raises(ValueError, match="same length"):
        Residents(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        Residents(np.array([np.nan]), np.array([30.0]))
    with pytest.raises(ValueError, match="±180"):
        Residents(np.array([200.0]), np.array([30.0]))
    with pytest.raises(ValueError, match="weight"):
        Residents(np.zeros(2), np.zeros(2), weight=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="group"):
        Residents(np.zeros(2), np.zeros(2), group=np.array(["a"]))
    with pytest.raises(ValueError, match="unique"):
        Sites(np.zeros(2), np.zeros(2), ["a", "a"])
    with pytest.raises(ValueError, match="one id per site"):
        Sites(np.zeros(2), np.zeros(2), ["a"])
    with pytest.raises(ValueError, match="capacity"):
        Sites(np.zeros(1), np.zeros(1), ["a"], capacity_per_hour=np.array([0.0]))


@pytest.mark.parametrize("south", [False, True])
def test_inverse_utm_round_trip_is_under_a_metre(south: bool) -> None:
    rng = np.random.default_rng(9)
    lon = rng.uniform(102.0, 108.0, 20_000)  # the whole of zone 48, edges included
    lat = rng.uniform(-60.0, 0.0, 20_000) if south else rng.uniform(0.0, 60.0, 20_000)
    x, y = to_utm(lon, lat, ZONE, south)
    lon2, lat2 = from_utm(x, y, ZONE, south)
    x2, y2 = to_utm(lon2, lat2, ZONE, south)
    assert np.hypot(x2 - x, y2 - y).max() < 1.0
    # and in degrees: under 1 m on the ground
    assert (np.abs(lat2 - lat) * 111_320).max() < 1.0
    assert (np.abs(lon2 - lon) * 111_320 * np.cos(np.radians(lat))).max() < 1.0
    # Chengdu's centre comes back within millimetres
    cx, cy = to_utm(np.array([LON0]), np.array([LAT0]), ZONE)
    back = from_utm(cx, cy, ZONE)
    assert abs(back[0][0] - LON0) * 111_320 < 1e-3 and abs(back[1][0] - LAT0) * 111_320 < 1e-3


def _brute_greedy(
    ux: F64, uy: F64, uw: F64, cx: F64, cy: F64, radius: float, n_new: int
) -> list[tuple[int, float, int]]:
    reach = np.hypot(cx[:, None] - ux[None, :], cy[:, None] - uy[None, :]) <= radius
    left = np.ones(ux.size, dtype=bool)
    picks = []
    for _ in range(n_new):
        gains = (reach & left) @ uw
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        picks.append((best, float(gains[best]), int((reach[best] & left).sum())))
        left &= ~reach[best]
    return picks


def _uncovered(residents: Residents, rx: F64, ry: F64, sx: F64, sy: F64, radius: float) -> NDArray[np.bool_]:
    if sx.size == 0:
        return residents.weights() > 0
    dist = np.hypot(rx[:, None] - sx[None, :], ry[:, None] - sy[None, :]).min(axis=1)
    out: NDArray[np.bool_] = (dist > radius) & (residents.weights() > 0)
    return out


@pytest.mark.parametrize(("seed", "m", "radius"), [(10, 15, 1200.0), (11, 0, 1500.0), (12, 40, 900.0)])
def test_suggestions_match_a_brute_force_greedy_on_grid_cells(seed: int, m: int, radius: float) -> None:
    residents, sites, rx, ry, sx, sy = _random_city(seed, 1500, m, spread=0.08)
    todo = _uncovered(residents, rx, ry, sx, sy, radius)
    ux, uy, uw = rx[todo], ry[todo], residents.weights()[todo]
    size = radius / 2
    cells = sorted(
        set(
            zip(
                np.floor(ux / size).astype(int).tolist(),
                np.floor(uy / size).astype(int).tolist(),
                strict=True,
            )
        )
    )
    cx = (np.array([c[0] for c in cells]) + 0.5) * size
    cy = (np.array([c[1] for c in cells]) + 0.5) * size
    expected = _brute_greedy(ux, uy, uw, cx, cy, radius, 12)

    got = suggest_sites(residents, sites, radius, 12, zone=ZONE)
    assert len(got) == len(expected) == 12
    total = residents.weights().sum()
    cumulative = residents.weights()[~todo].sum()
    for s, (best, gain, count) in zip(got, expected, strict=True):
        gx, gy = to_utm(np.array([s.lon]), np.array([s.lat]), ZONE)
        assert abs(gx[0] - cx[best]) < 0.05 and abs(gy[0] - cy[best]) < 0.05
        assert s.newly_covered == pytest.approx(gain) and s.newly_covered_residents == count
        cumulative += gain
        assert s.cumulative_covered == pytest.approx(cumulative)
        assert s.cumulative_share == pytest.approx(cumulative / total)
        assert s.candidate_id is None
    assert [s.rank for s in got] == list(range(1, 13))
    assert all(a.newly_covered >= b.newly_covered for a, b in zip(got, got[1:], strict=False))


def test_suggested_sites_reach_the_promised_share() -> None:
    residents, sites, *_ = _random_city(13, 2000, 20, spread=0.1)
    got = suggest_sites(residents, sites, 1000.0, 8, zone=ZONE)
    more = Sites(
        np.concatenate((sites.lon, [s.lon for s in got])),
        np.concatenate((sites.lat, [s.lat for s in got])),
        [*sites.id, *(f"new{s.rank}" for s in got)],
    )
    assert measure_coverage(residents, more, 1000.0, zone=ZONE).share == pytest.approx(
        got[-1].cumulative_share
    )


def test_grid_candidates_eventually_cover_everyone_and_then_stop() -> None:
    residents, sites, *_ = _random_city(14, 300, 3, spread=0.05)
    got = suggest_sites(residents, sites, 1200.0, 10_000, zone=ZONE)
    assert 0 < len(got) < 10_000
    assert got[-1].cumulative_share == pytest.approx(1.0)
    assert all(s.newly_covered > 0 for s in got)
    assert suggest_sites(residents, sites, 1200.0, 0, zone=ZONE) == ()


def test_everyone_covered_needs_no_new_site() -> None:
    residents = Residents(np.array([LON0, LON0 + 0.001]), np.array([LAT0, LAT0]))
    sites = Sites(np.array([LON0]), np.array([LAT0]), ["a"])
    assert suggest_sites(residents, sites, zone=ZONE) == ()


def test_given_candidates_match_a_brute_force_greedy() -> None:
    residents, sites, rx, ry, sx, sy = _random_city(15, 1500, 10, spread=0.08)
    rng = np.random.default_rng(16)
    clon = LON0 + rng.uniform(-0.2, 0.2, 60)
    clat = LAT0 + rng.uniform(-0.2, 0.2, 60)
    candidates = Sites(clon, clat, [f"C{i}" for i in range(60)])
    todo = _uncovered(residents, rx, ry, sx, sy, 1200.0)
    cx, cy = to_utm(clon, clat, ZONE)
    expected = _brute_greedy(rx[todo], ry[todo], residents.weights()[todo], cx, cy, 1200.0, 60)

    got = suggest_sites(residents, sites, 1200.0, 60, candidates, zone=ZONE)
    assert len(got) == len(expected) < 60  # stops when no candidate reaches anyone uncovered
    for s, (best, gain, count) in zip(got, expected, strict=True):
        assert s.candidate_id == f"C{best}"
        assert (s.lon, s.lat) == (clon[best], clat[best])
        assert s.newly_covered == pytest.approx(gain) and s.newly_covered_residents == count
