"""Benchmark: sampling-site coverage (15分钟核酸采样圈) of 1,000,000 residents by 2,000 sites.

Generates residents clustered around Chengdu (104.06E 30.66N): eleven district centres with
Gaussian spreads of 1.5–6 km holding 90 % of the residents, the rest spread evenly over an
80 × 80 km square; each resident gets a household weight 1–4 and one of ~2,000 community
codes (a 2 km grid cell). Sampling sites are drawn where people live (site density follows
the population), jittered by 300 m, with capacities of 200–800 samples per hour; a share of
the outskirts is left without a site so the suggestions have work to do. Then times:

- `measure_coverage` (share overall and per community, exact nearest distance for everyone,
  site loads) at the default 1,200 m radius;
- `suggest_sites` for 50 new sites (grid candidates of 600 m).

    .venv/bin/python bench/bench_coverage.py [--residents 1000000] [--sites 2000] [--seed 7]

Benchmarks are not tests: this prints figures; record them in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np

LON0, LAT0 = 104.06, 30.66
KM_LAT = 1 / 111.32
KM_LON = 1 / (111.32 * math.cos(math.radians(LAT0)))
# district centres (km east, km north of the centre) and Gaussian spread (km)
CENTRES = [
    (0, 0, 3.0),
    (-6, 5, 2.5),
    (7, 4, 2.5),
    (5, -7, 3.0),
    (-5, -6, 2.0),
    (14, 12, 4.0),
    (-16, 10, 3.5),
    (-12, -15, 3.0),
    (18, -14, 5.0),
    (2, 20, 6.0),
    (-25, -2, 1.5),
]


def generate(n: int, m: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n_even = n // 10
    which = rng.integers(0, len(CENTRES), n - n_even)
    cen = np.array(CENTRES, dtype=np.float64)
    ex = np.concatenate(
        (cen[which, 0] + rng.normal(0, 1, which.size) * cen[which, 2], rng.uniform(-40, 40, n_even))
    )
    ny = np.concatenate(
        (cen[which, 1] + rng.normal(0, 1, which.size) * cen[which, 2], rng.uniform(-40, 40, n_even))
    )
    community = (np.floor(ex / 2).astype(np.int64) + 100) * 1000 + (np.floor(ny / 2).astype(np.int64) + 100)
    residents = {
        "lon": LON0 + ex * KM_LON,
        "lat": LAT0 + ny * KM_LAT,
        "weight": rng.integers(1, 5, n).astype(np.float64),
        "group": np.char.add("510104", community.astype(str)),
    }
    # sites where people live, except in the outer south-west quarter
    eligible = np.flatnonzero(~((ex < -10) & (ny < -10)))
    at = rng.choice(eligible, m, replace=False)
    sx = ex[at] + rng.normal(0, 0.3, m)
    sy = ny[at] + rng.normal(0, 0.3, m)
    sites = {
        "lon": LON0 + sx * KM_LON,
        "lat": LAT0 + sy * KM_LAT,
        "id": np.array([f"S{i:05d}" for i in range(m)]),
        "capacity": rng.integers(200, 801, m).astype(np.float64),
    }
    return residents, sites


def main() -> None:
    from fangkong.analysis.coverage import Residents, Sites, measure_coverage, suggest_sites
    from fangkong.tracing.projection import zone_of

    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--sites", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--radius", type=float, default=1200.0)
    ap.add_argument("--new", type=int, default=50)
    args = ap.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU, {platform.python_implementation()} "
        f"{platform.python_version()}, numpy {np.__version__}"
    )
    t = time.perf_counter()
    r, s = generate(args.residents, args.sites, args.seed)
    residents = Residents(r["lon"], r["lat"], weight=r["weight"], group=r["group"])
    sites = Sites(s["lon"], s["lat"], s["id"].tolist(), capacity_per_hour=s["capacity"])
    print(f"generate {len(residents):,} residents, {len(sites):,} sites: {time.perf_counter() - t:.2f} s")
    zone = zone_of(LON0)

    t = time.perf_counter()
    cov = measure_coverage(residents, sites, args.radius, zone=zone)
    t_cov = time.perf_counter() - t
    d = cov.nearest_distance_m
    print(f"measure_coverage (radius {args.radius:.0f} m, zone {zone}): {t_cov:.2f} s")
    print(
        f"  covered {cov.covered_residents:,} of {cov.residents:,} residents; weighted share {cov.share:.4f}"
    )
    print(
        f"  nearest site: median {np.median(d):.0f} m, p95 {np.percentile(d, 95):.0f} m, max {d.max():.0f} m"
    )
    shares = np.array([g.share for g in cov.by_group])
    print(
        f"  {len(cov.by_group):,} communities; {int((shares >= 0.999).sum()):,} fully covered, "
        f"{int((shares == 0).sum()):,} not at all"
    )
    hours = np.array([x.hours for x in cov.site_loads if x.hours is not None])
    print(f"  hours to sample all at the nearest site: median {np.median(hours):.1f}, max {hours.max():.1f}")

    t = time.perf_counter()
    sug = suggest_sites(residents, sites, args.radius, args.new, zone=zone)
    t_sug = time.perf_counter() - t
    print(f"suggest_sites ({args.new} new, grid candidates {args.radius / 2:.0f} m): {t_sug:.2f} s")
    if sug:
        print(
            f"  first: {sug[0].lon:.5f}, {sug[0].lat:.5f} covers {sug[0].newly_covered_residents:,} persons "
            f"(weight {sug[0].newly_covered:,.0f}); share {cov.share:.4f} → {sug[-1].cumulative_share:.4f} "
            f"after {len(sug)}"
        )
    print(f"total (coverage + suggestions): {t_cov + t_sug:.2f} s")


if __name__ == "__main__":
    main()
