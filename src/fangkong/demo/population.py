"""Households, persons, units and venues of the demo city, as numpy / pyarrow arrays.

Everything is vectorised over persons; loops run only over small tables (household
templates, district codes, units and venues in the thousands).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from fangkong.demo import names
from fangkong.demo.geography import Geography, jitter, pick_near, stream
from fangkong.demo.organisations import Units
from fangkong.person.key_groups import KEY_GROUPS
from fangkong.unit.categories import UNIT_CATEGORIES

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]

RELATIONS = ("head", "spouse", "child", "parent", "grandchild")
_ROLE = {"H": 0, "S": 1, "C": 2, "P": 3, "G": 4}
# Household size distribution 1..6 (mean ≈ 2.62).
SIZE_P = np.array([0.25, 0.28, 0.22, 0.14, 0.07, 0.04])
# (members, share within its size, head age range, head male share)
_TEMPLATES: tuple[tuple[str, float, float, float, float], ...] = (
    ("H", 0.42, 19, 35, 0.55),
    ("H", 0.26, 35, 60, 0.55),
    ("H", 0.32, 60, 95, 0.4),
    ("HS", 0.28, 22, 35, 0.62),
    ("HS", 0.17, 35, 60, 0.62),
    ("HS", 0.30, 60, 92, 0.62),
    ("HC", 0.12, 28, 58, 0.35),
    ("HP", 0.13, 30, 60, 0.5),
    ("HSC", 0.78, 24, 58, 0.62),
    ("HSP", 0.12, 28, 50, 0.62),
    ("HCC", 0.10, 30, 55, 0.35),
    ("HSCC", 0.45, 28, 52, 0.62),
    ("HSCP", 0.35, 28, 50, 0.62),
    ("HSPP", 0.10, 28, 45, 0.62),
    ("HSCG", 0.10, 52, 75, 0.62),
    ("HSCPP", 0.50, 28, 48, 0.62),
    ("HSCCP", 0.30, 30, 50, 0.62),
    ("HSCCG", 0.20, 55, 75, 0.62),
    ("HSCCPP", 0.60, 30, 48, 0.62),
    ("HSCCGG", 0.40, 58, 78, 0.62),
)

# Activity of a person on weekdays.
NONE, WORKER, STUDENT, CHILDCARE = 0, 1, 2, 3
# Share of employed adults by the category of their work unit.
EMPLOYMENT_SHARES: dict[str, float] = {
    "enterprise": 0.66,
    "construction": 0.07,
    "postal_courier": 0.025,
    "government_agency": 0.08,
    "childcare": 0.015,
    "school": 0.04,
    "university": 0.01,
    "elderly_care": 0.01,
    "welfare_home": 0.003,
    "prison": 0.003,
    "mental_health_institution": 0.003,
    "medical_waste_centre": 0.001,
    "property_management": 0.04,
    "community": 0.015,
}
# Occupational key groups within a work-unit category: (group, share), drawn exclusively.
OCCUPATIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "enterprise": (("drivers", 0.06), ("security_guards", 0.02), ("cleaners", 0.02)),
    "construction": (("renovation_workers", 0.25), ("drivers", 0.05)),
    "postal_courier": (("couriers", 0.85), ("drivers", 0.10)),
    "government_agency": (
        ("police", 0.15),
        ("customs_staff", 0.04),
        ("sanitation_workers", 0.10),
        ("drivers", 0.04),
    ),
    "property_management": (("security_guards", 0.40), ("cleaners", 0.30)),
    "community": (("community_workers", 1.0),),
}
_KG = {g: i for i, g in enumerate(KEY_GROUPS)}
_UC = {c: i for i, c in enumerate(UNIT_CATEGORIES)}


@dataclass(frozen=True)
class Households:
    grid: I64  # index into Geography grids, ascending
    size: I64
    first: I64  # index of the household's first person
    address: pa.Array
    lon: F64
    lat: F64


@dataclass(frozen=True)
class Persons:
    household: I64
    relation: I64  # index into RELATIONS
    male: BOOL
    birth: NDArray[np.datetime64]
    age: I64  # completed years at end_date
    name: pa.Array
    phone: pa.Array  # null for children under 12 and a few others
    resident_id: NDArray[np.str_]
    activity: I64  # NONE / WORKER / STUDENT / CHILDCARE
    unit: I64  # index into Units (work unit, school or childcare), -1 if none
    key_person: I64  # (key_person, key_group) pairs, sorted by person
    key_group: I64  # index into KEY_GROUPS

    def __len__(self) -> int:
        return len(self.household)


def build_households(geo: Geography, size: int, seed: int) -> Households:
    rng = stream(seed, 2)
    sizes = rng.choice(np.arange(1, 7), size=int(size / 2.5) + 64, p=SIZE_P)
    total = np.cumsum(sizes)
    count = int(np.searchsorted(total, size)) + 1
    sizes = sizes[:count].astype(np.int64)
    sizes[-1] -= int(total[count - 1]) - size
    grid = np.sort(rng.choice(len(geo.grid_code), size=count, p=geo.grid_weight))
    first = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    # Number households within their community: building / unit / floor / room, or group / no.
    comm = geo.grid_community[grid]
    new_comm = np.concatenate(([True], comm[1:] != comm[:-1]))
    j = np.arange(count) - np.maximum.accumulate(np.where(new_comm, np.arange(count), 0))
    offset = rng.integers(0, 20, len(geo.community_code))[comm]
    building = j // 48 + 1 + offset
    unit_no, floor, room = (j // 16) % 3 + 1, (j // 2) % 8 + 1, j % 2 + 1
    village = geo.community_village[comm]
    cname = pa.array(geo.community_name).take(pa.array(comm))

    def s(a: I64) -> pa.Array:
        return pa.array(a.astype(str))

    flat = pc.binary_join_element_wise(
        cname, s(building), "栋", s(unit_no), "单元", s(floor * 100 + room), "室", ""
    )
    rural = pc.binary_join_element_wise(cname, s(j // 30 + 1), "组", s(j % 30 + 1), "号", "")
    address = pc.if_else(pa.array(village), rural, flat)
    # Every building shares one point within ~300 m of its grid's centre.
    bkey = comm * 1_000_000 + np.where(village, j // 6, building)
    _, inverse = np.unique(bkey, return_inverse=True)
    blon, blat = jitter(rng, np.zeros(inverse.max() + 1), np.zeros(inverse.max() + 1), 0.3)
    return Households(
        grid=grid,
        size=sizes,
        first=first,
        address=address,
        lon=np.round(geo.grid_lon[grid] + blon[inverse], 6),
        lat=np.round(geo.grid_lat[grid] + blat[inverse], 6),
    )


def _ages(rng: np.random.Generator, hh: Households) -> tuple[I64, I64, BOOL, F64]:
    """(household index, relation, male, age in years) for every member."""
    count = len(hh.size)
    template = np.zeros(count, dtype=np.int64)
    for sz in range(1, 7):
        idx = [i for i, t in enumerate(_TEMPLATES) if len(t[0]) == sz]
        p = np.array([_TEMPLATES[i][1] for i in idx])
        members = np.flatnonzero(hh.size == sz)
        template[members] = np.array(idx)[rng.choice(len(idx), len(members), p=p / p.sum())]
    roles = np.full((len(_TEMPLATES), 6), -1, dtype=np.int64)
    for i, t in enumerate(_TEMPLATES):
        roles[i, : len(t[0])] = [_ROLE[c] for c in t[0]]
    lo, hi, male_p = (np.array([t[k] for t in _TEMPLATES]) for k in (2, 3, 4))
    head_age = lo[template] + rng.random(count) * (hi[template] - lo[template])
    head_male = rng.random(count) < male_p[template]

    house = np.repeat(np.arange(count), hh.size)
    k = np.arange(len(house)) - hh.first[house]
    relation = roles[template[house], k]
    head = head_age[house]
    n = len(house)
    u = rng.random(n)
    age = head.copy()
    sp = relation == _ROLE["S"]
    age[sp] = head[sp] + rng.normal(-1.5, 3.0, int(sp.sum()))
    ch = relation == _ROLE["C"]
    gap_hi = np.clip(head[ch], 22.5, 38.0)
    age[ch] = head[ch] - (22 + u[ch] * (gap_hi - 22))
    pa_ = relation == _ROLE["P"]
    age[pa_] = head[pa_] + 22 + u[pa_] * 12
    gc = relation == _ROLE["G"]
    age[gc] = head[gc] - 48 - u[gc] * 14
    age = np.clip(age, 0.0, 95.9)
    male = rng.random(n) < 0.515
    male[relation == 0] = head_male[house[relation == 0]]
    male[sp] = ~head_male[house[sp]]
    # Two parents in one household: one father, one mother.
    second_parent = pa_ & np.concatenate(([False], pa_[:-1] & (house[1:] == house[:-1])))
    male[second_parent] = ~male[np.flatnonzero(second_parent) - 1]
    return house, relation, male, age


def _id_codes(
    rng: np.random.Generator, geo: Geography, hh: Households, house: I64, age: F64, birth_year: I64
) -> I64:
    district = np.array(geo.district_code)[geo.grid_district[hh.grid[house]]].astype(np.int64)
    n = len(house)
    local = rng.random(n) < np.where(age < 18, 0.95, 0.76)
    sichuan, elsewhere = (np.array(c, dtype=np.int64) for c in names.stable_county_codes())
    other = np.where(
        rng.random(n) < 0.55,
        sichuan[rng.integers(0, len(sichuan), n)],
        elsewhere[rng.integers(0, len(elsewhere), n)],
    )
    code = np.where(local, district, other)
    key = code * 10000 + birth_year
    uniq, inverse = np.unique(key, return_inverse=True)
    fixed = np.array([int(names.birth_place_code(str(k // 10000), int(k % 10000))) for k in uniq.tolist()])
    return fixed[inverse]


def birth_dates(end_date: dt.date, age: I64, days: I64) -> NDArray[np.datetime64]:
    """Birth dates `days` (0..364) before the `age`-th birthday on or before `end_date`, so
    that the completed age at `end_date` is exactly `age` (and only dates move with it)."""
    day = min(end_date.day, 28) if end_date.month == 2 else end_date.day
    anniversary = (
        (end_date.year - age - 1970).astype("datetime64[Y]").astype("datetime64[M]")
        + np.timedelta64(end_date.month - 1, "M")
    ).astype("datetime64[D]") + (day - 1)
    birth: NDArray[np.datetime64] = anniversary - days.astype("timedelta64[D]")
    return birth


def build_persons(geo: Geography, hh: Households, units: Units, seed: int, end_date: dt.date) -> Persons:
    rng = stream(seed, 3)
    house, relation, male, age_f = _ages(rng, hh)
    n = len(house)
    age = np.floor(age_f).astype(np.int64)
    birth = birth_dates(end_date, age, np.floor((age_f - age) * 365).astype(np.int64))
    by = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    young = age_f < 37.5
    name = names.person_names(rng, male, young)

    phone_no = names.mobile_numbers(rng, n)
    has_phone = (age >= 12) & ~((age < 18) & (rng.random(n) < 0.2)) & ~((age >= 85) & (rng.random(n) < 0.3))
    phone = pa.array(phone_no.astype(str), mask=~has_phone)

    code = _id_codes(rng, geo, hh, house, age_f, by)
    ids = names.resident_ids(code, birth, names.id_sequences(rng, code, birth), male)

    activity, unit = _activities(rng, geo, hh, units, house, age, male)
    key_person, key_group = _key_groups(rng, units, age, male, activity, unit)
    return Persons(
        household=house,
        relation=relation,
        male=male,
        birth=birth,
        age=age,
        name=name,
        phone=phone,
        resident_id=ids,
        activity=activity,
        unit=unit,
        key_person=key_person,
        key_group=key_group,
    )


def _activities(
    rng: np.random.Generator, geo: Geography, hh: Households, units: Units, house: I64, age: I64, male: BOOL
) -> tuple[I64, I64]:
    n = len(house)
    u = rng.random(n)
    activity = np.full(n, NONE, dtype=np.int64)
    unit = np.full(n, -1, dtype=np.int64)
    home_t = geo.grid_township[hh.grid[house]]
    home_d = geo.grid_district[hh.grid[house]]
    cat_t = geo.grid_township[units.grid]
    cat_d = geo.grid_district[units.grid]

    def assign(who: I64, category: str, p_t: float, p_d: float) -> None:
        cand = np.flatnonzero(units.category == _UC[category])
        pick = pick_near(
            rng, home_t[who], home_d[who], cat_t[cand], cat_d[cand], units.weight[cand], p_t, p_d
        )
        unit[who] = cand[pick]

    childcare = np.flatnonzero((age >= 3) & (age <= 5) & (u < 0.85))
    school = np.flatnonzero((age >= 6) & (age <= 17) & (u < 0.99))
    university = np.flatnonzero((age >= 18) & (age <= 22) & (u < 0.45))
    activity[childcare] = CHILDCARE
    activity[np.concatenate((school, university))] = STUDENT
    assign(childcare, "childcare", 0.85, 0.14)
    assign(school, "school", 0.75, 0.23)
    assign(university, "university", 0.0, 0.3)
    retire = np.where(male, 60, 55)
    working_age = (age >= 18) & (activity == NONE)
    p_work = np.where(age < retire, 0.82, np.where(age < 65, 0.25, 0.0))
    employed = np.flatnonzero(working_age & (rng.random(n) < p_work))
    activity[employed] = WORKER
    cats = list(EMPLOYMENT_SHARES)
    shares = np.array(list(EMPLOYMENT_SHARES.values()))
    job = rng.choice(len(cats), len(employed), p=shares / shares.sum())
    for ci, category in enumerate(cats):
        assign(employed[job == ci], category, 0.2, 0.35)
    return activity, unit


def _key_groups(
    rng: np.random.Generator, units: Units, age: I64, male: BOOL, activity: I64, unit: I64
) -> tuple[I64, I64]:
    n = len(age)
    persons: list[I64] = []
    groups: list[I64] = []

    def tag(mask: BOOL, group: str) -> None:
        idx = np.flatnonzero(mask)
        persons.append(idx)
        groups.append(np.full(len(idx), _KG[group], dtype=np.int64))

    tag(age >= 60, "elderly")
    tag(age < 14, "children")
    tag(activity == STUDENT, "students")
    tag(~male & (age >= 20) & (age <= 40) & (rng.random(n) < 0.04), "pregnant")
    worker = activity == WORKER
    cat = np.where(unit >= 0, units.category[np.maximum(unit, 0)], -1)
    tag(worker & (cat == _UC["enterprise"]), "enterprise_employees")
    u = rng.random(n)
    for category, occupations in OCCUPATIONS.items():
        here = worker & (cat == _UC[category])
        low = 0.0
        for group, share in occupations:
            tag(here & (u >= low) & (u < low + share), group)
            low += share
    person_idx = np.concatenate(persons)
    group_idx = np.concatenate(groups)
    order = np.lexsort((group_idx, person_idx))
    return person_idx[order], group_idx[order]
