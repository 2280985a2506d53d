"""Units (重点单位) and venues (重点场所) of the demo city, as numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fangkong.demo import names
from fangkong.demo.geography import Geography, jitter, pick_near, stream
from fangkong.place.categories import PLACE_CATEGORIES, VEHICLE_CATEGORIES
from fangkong.unit.categories import UNIT_CATEGORIES

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
_UC = {c: i for i, c in enumerate(UNIT_CATEGORIES)}


# --- units and venues ---------------------------------------------------------------------

# Units per resident (1 per N residents; at least one of each category).
UNIT_RATES: dict[str, int] = {
    "enterprise": 90,
    "construction": 2500,
    "postal_courier": 4000,
    "government_agency": 2500,
    "childcare": 4000,
    "school": 3000,
    "university": 60_000,
    "elderly_care": 12_000,
    "welfare_home": 150_000,
    "prison": 600_000,
    "mental_health_institution": 300_000,
    "medical_waste_centre": 1_500_000,
}
PLACE_RATES: dict[str, tuple[int, int]] = {  # (1 per N residents, at most; 0 = no limit)
    "office": (1500, 0),
    "hotel": (2500, 0),
    "shopping_mall": (600, 0),
    "bank": (2500, 0),
    "restaurant": (200, 0),
    "barber": (1200, 0),
    "farmers_market": (6000, 0),
    "park": (8000, 0),
    "medical_institution": (2500, 0),
    "isolation_site": (150_000, 0),
    "rail_passenger": (200_000, 6),
    "road_passenger": (200_000, 6),
    "waterway_passenger": (400_000, 3),
    "civil_aviation": (500_000, 2),
    "city_bus": (4000, 0),
    "urban_rail": (80_000, 13),
    "taxi": (3000, 0),
    "private_car": (20_000, 0),
    "returnee_transfer_vehicle": (300_000, 0),
}
PLACE_CAPACITY: dict[str, tuple[int, int]] = {
    "home": (300, 3000),
    "office": (200, 3000),
    "hotel": (40, 600),
    "shopping_mall": (30, 5000),
    "bank": (20, 80),
    "restaurant": (20, 300),
    "barber": (5, 20),
    "farmers_market": (200, 2000),
    "park": (500, 20000),
    "medical_institution": (30, 3000),
    "isolation_site": (50, 500),
    "rail_passenger": (2000, 30000),
    "road_passenger": (300, 3000),
    "waterway_passenger": (40, 300),
    "civil_aviation": (10000, 60000),
    "city_bus": (60, 100),
    "urban_rail": (1500, 2500),
    "taxi": (4, 4),
    "private_car": (5, 7),
    "returnee_transfer_vehicle": (20, 45),
}
# Which unit answers for a venue (None: nobody, e.g. a private car).
PLACE_RESPONSIBLE: dict[str, str | None] = {
    "home": "property_management",
    "park": "government_agency",
    "medical_institution": "government_agency",
    "isolation_site": "government_agency",
    "private_car": None,
}
# Approximate real locations of the stations and airports, in PLACE_NAME_PATTERNS order.
FIXED_POINTS: dict[str, tuple[tuple[float, float], ...]] = {
    "rail_passenger": (
        (104.141, 30.629),
        (104.073, 30.697),
        (104.068, 30.607),
        (103.980, 30.680),
        (103.972, 30.756),
        (104.080, 30.470),
    ),
    "civil_aviation": ((103.947, 30.578), (104.441, 30.319)),
}
_METRO_LINES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 18, 19)


@dataclass(frozen=True)
class Units:
    category: I64  # index into UNIT_CATEGORIES
    grid: I64
    area_code: list[str]
    name: list[str]
    address: list[str]
    lon: F64
    lat: F64
    credit_code: list[str]
    contact_name: list[str]
    contact_phone: list[str]
    weight: F64  # relative head count


@dataclass(frozen=True)
class Places:
    category: I64  # index into PLACE_CATEGORIES
    grid: I64
    area_code: list[str]
    name: list[str]
    address: list[str | None]
    lon: F64
    lat: F64
    capacity: I64
    responsible: I64  # index into Units, -1 for none
    venue_code: list[str]


_CREDIT_HEADS = {
    "enterprise": "91",
    "construction": "91",
    "postal_courier": "91",
    "property_management": "91",
    "government_agency": "11",
    "elderly_care": "52",
    "community": "Y1",
}  # others: 12 (public institution)
_AWAY_FROM_CENTRE = {"prison", "medical_waste_centre", "mental_health_institution"}
_CENTRAL = {"enterprise", "government_agency", "university", "office", "hotel", "shopping_mall", "bank"}
_STATIONS = {"rail_passenger", "road_passenger", "waterway_passenger", "civil_aviation"}


def _grid_weights(geo: Geography, category: str) -> F64:
    core = geo.district_core[geo.grid_district]
    bias = np.where(
        core, 2.0 if category in _CENTRAL else 0.05 if category in _AWAY_FROM_CENTRE else 1.0, 1.0
    )
    w: F64 = geo.grid_weight * bias
    share: F64 = w / w.sum()
    return share


def _first_grids(geo: Geography) -> I64:
    return np.searchsorted(geo.grid_community, np.arange(len(geo.community_code)))


def build_units(geo: Geography, size: int, seed: int, taken: frozenset[str] = frozenset()) -> Units:
    rng = stream(seed, 4)
    first_grid = _first_grids(geo)
    urban = np.flatnonzero(~geo.community_village)
    cats: list[I64] = []
    grids: list[I64] = []
    for ci, cat in enumerate(UNIT_CATEGORIES):
        if cat == "community":
            g = first_grid
        elif cat == "property_management":  # one per three urban communities
            g = first_grid[urban[::3]] if len(urban) else first_grid[:1]
        else:
            count = max(1, round(size / UNIT_RATES[cat]))
            g = np.sort(rng.choice(len(geo.grid_code), count, p=_grid_weights(geo, cat)))
        cats.append(np.full(len(g), ci, dtype=np.int64))
        grids.append(g.astype(np.int64))
    category, grid = np.concatenate(cats), np.concatenate(grids)
    n = len(category)
    comm = geo.grid_community[grid]
    district = geo.grid_district[grid]
    lon, lat = jitter(rng, geo.grid_lon[grid], geo.grid_lat[grid], 0.4)
    short = [names.short_district(d) for d in geo.district_name]
    brand, road = names.brands(rng, n), names.brands(rng, n)
    pick, number = rng.random(n).tolist(), rng.integers(1, 400, n).tolist()
    area_code: list[str] = []
    name: list[str] = []
    address: list[str] = []
    heads: list[str] = []
    for i, (ci, g, c, d) in enumerate(
        zip(category.tolist(), grid.tolist(), comm.tolist(), district.tolist(), strict=True)
    ):
        cat = UNIT_CATEGORIES[ci]
        at_community = cat in ("community", "property_management")
        area_code.append(geo.community_code[c] if at_community else geo.grid_code[g])
        patterns = names.UNIT_NAME_PATTERNS[cat]
        pattern = patterns[int(pick[i] * len(patterns))]
        if cat == "community" and geo.community_village[c]:
            pattern = "{c}村民委员会"
        name.append(
            names.fill(pattern, d=short[d], b=brand[i], c=geo.community_name[c], n=number[i] % 30 + 1)
        )
        address.append(f"{geo.district_name[d]}{road[i]}路{number[i]}号")
        heads.append(_CREDIT_HEADS.get(cat, "12") + geo.district_code[d])
    is_enterprise = category == _UC["enterprise"]
    weight = np.where(is_enterprise, 1 + np.minimum(rng.pareto(1.2, n), 2000), rng.lognormal(0, 0.5, n))
    contact = names.person_names(rng, rng.random(n) < 0.5, rng.random(n) < 0.6).to_pylist()
    return Units(
        category=category,
        grid=grid,
        area_code=area_code,
        name=name,
        address=address,
        lon=lon,
        lat=lat,
        credit_code=names.credit_codes(rng, heads, taken),
        contact_name=contact,
        contact_phone=names.mobile_numbers(rng, n).astype(str).tolist(),
        weight=weight,
    )


def place_count(category: str, size: int, communities: int) -> int:
    if category == "home":
        return communities
    per, most = PLACE_RATES[category]
    count = max(1, round(size / per))
    return min(count, most) if most else count


def build_places(
    geo: Geography, units: Units, size: int, seed: int, taken: frozenset[str] = frozenset()
) -> Places:
    rng = stream(seed, 5)
    first_grid = _first_grids(geo)
    cats: list[I64] = []
    grids: list[I64] = []
    fixed_lon: list[F64] = []
    fixed_lat: list[F64] = []
    for ci, cat in enumerate(PLACE_CATEGORIES):
        count = place_count(cat, size, len(geo.community_code))
        nan = np.full(count, np.nan)
        if cat == "home":
            g = first_grid
        elif cat in FIXED_POINTS:
            pts = np.array(FIXED_POINTS[cat][:count])
            d2 = (geo.grid_lon[None, :] - pts[:, :1]) ** 2 + (geo.grid_lat[None, :] - pts[:, 1:]) ** 2
            g = d2.argmin(axis=1)
            nan = pts.T.copy()
        else:
            g = np.sort(rng.choice(len(geo.grid_code), count, p=_grid_weights(geo, cat)))
        cats.append(np.full(count, ci, dtype=np.int64))
        grids.append(g.astype(np.int64))
        fixed_lon.append(nan[0] if nan.ndim == 2 else nan)
        fixed_lat.append(nan[1] if nan.ndim == 2 else nan)
    category, grid = np.concatenate(cats), np.concatenate(grids)
    n = len(category)
    lon, lat = jitter(rng, geo.grid_lon[grid], geo.grid_lat[grid], 0.3)
    flon, flat = np.concatenate(fixed_lon), np.concatenate(fixed_lat)
    lon, lat = np.where(np.isnan(flon), lon, flon), np.where(np.isnan(flat), lat, flat)
    comm, district = geo.grid_community[grid], geo.grid_district[grid]
    brand, road = names.brands(rng, n), names.brands(rng, n)
    pick, number = rng.random(n).tolist(), rng.integers(1, 400, n).tolist()
    plates = names.plates(rng, n)
    rank = np.arange(n) - np.searchsorted(category, category)
    name: list[str] = []
    address: list[str | None] = []
    for i, (ci, c, d, k) in enumerate(
        zip(category.tolist(), comm.tolist(), district.tolist(), rank.tolist(), strict=True)
    ):
        cat = PLACE_CATEGORIES[ci]
        patterns = names.PLACE_NAME_PATTERNS[cat]
        fixed = cat in _STATIONS
        pattern = patterns[k % len(patterns)] if fixed else patterns[int(pick[i] * len(patterns))]
        line = _METRO_LINES[k % len(_METRO_LINES)] if cat == "urban_rail" else k + 1
        name.append(names.fill(pattern, b=brand[i], c=geo.community_name[c], n=line, p=plates[i]))
        if cat in VEHICLE_CATEGORIES and not fixed:
            address.append(None)
        elif cat == "home":
            address.append(f"{geo.community_name[c]}{number[i]}号")
        else:
            address.append(f"{geo.district_name[d]}{road[i]}路{number[i]}号")
    lo, hi = (np.array([PLACE_CAPACITY[PLACE_CATEGORIES[c]][j] for c in category]) for j in (0, 1))
    capacity = rng.integers(lo, hi + 1)
    responsible = np.full(n, -1, dtype=np.int64)
    for ci, cat in enumerate(PLACE_CATEGORIES):
        unit_cat = PLACE_RESPONSIBLE.get(cat, "enterprise")
        here = np.flatnonzero(category == ci)
        if unit_cat is None:
            continue
        cand = np.flatnonzero(units.category == _UC[unit_cat])
        local = 0.0 if cat in VEHICLE_CATEGORIES else 0.6
        pick_i = pick_near(
            rng,
            geo.grid_township[grid[here]],
            district[here],
            geo.grid_township[units.grid[cand]],
            geo.grid_district[units.grid[cand]],
            units.weight[cand],
            local,
            0.35,
        )
        responsible[here] = cand[pick_i]
    return Places(
        category=category,
        grid=grid,
        area_code=[geo.grid_code[g] for g in grid.tolist()],
        name=name,
        address=address,
        lon=np.round(lon, 6),
        lat=np.round(lat, 6),
        capacity=capacity,
        responsible=responsible,
        venue_code=names.venue_codes(rng, n, taken),
    )
