"""Sampling-site coverage of an area ("15-minute sampling circle", 15分钟核酸采样圈): the share of
its residents within a walking radius of an open site, per community, each site's load, and
suggested new sites where coverage is poor (greedy maximum coverage; see
`fangkong.analysis.coverage`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.analysis.coverage import Residents, Sites, measure_coverage, suggest_sites
from fangkong.area.models import Area
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.config import get_settings
from fangkong.errors import invalid
from fangkong.nat.models import SamplingSite
from fangkong.person.models import Person
from fangkong.tracing.projection import zone_of


def coverage(
    *, session: Session, actor: Actor, area_code: str, radius_m: float = 1200.0, suggest: int = 0
) -> dict[str, Any]:
    area = session.get(Area, area_code)
    if area is None:
        raise invalid("area_code", "unknown area code", area_code)
    authorize(actor, "nat.read", area)
    if not 0 < radius_m <= 20_000:
        raise invalid("radius", "between 0 and 20,000 metres", radius_m)
    if not 0 <= suggest <= 200:
        raise invalid("suggest", "0 to 200 new sites", suggest)
    scope = Actor(user_id=None, username="nat", roles=frozenset(), area_code=area.code)
    people = session.execute(
        select(Person.lon, Person.lat, Person.area_code).where(
            jurisdiction_filter(scope, Person.area_code),
            Person.status == "active",
            Person.lon.is_not(None),
            Person.lat.is_not(None),
        )
    ).all()
    unplaced = session.scalar(
        select(Person.id)
        .where(jurisdiction_filter(scope, Person.area_code), Person.status == "active", Person.lon.is_(None))
        .limit(1)
    )
    sites = session.execute(
        select(
            SamplingSite.id,
            SamplingSite.code,
            SamplingSite.lon,
            SamplingSite.lat,
            SamplingSite.capacity_per_hour,
        ).where(
            jurisdiction_filter(scope, SamplingSite.area_code),
            SamplingSite.status == "open",
            SamplingSite.lon.is_not(None),
        )
    ).all()
    settings = get_settings()
    zone, south = zone_of(settings.city_lon), settings.city_lat < 0
    residents = Residents(
        lon=np.array([p[0] for p in people], dtype=np.float64),
        lat=np.array([p[1] for p in people], dtype=np.float64),
        group=np.array([(p[2][:12] if len(p[2]) >= 12 else p[2]) for p in people], dtype=object),
    )
    site_table = Sites(
        lon=np.array([s[2] for s in sites], dtype=np.float64),
        lat=np.array([s[3] for s in sites], dtype=np.float64),
        id=[s[1] for s in sites],
        capacity_per_hour=np.array([float(s[4]) if s[4] else np.nan for s in sites], dtype=np.float64),
    )
    cov = measure_coverage(residents, site_table, radius_m, zone=zone, south=south)
    names = dict(
        session.execute(
            select(Area.code, Area.name).where(Area.code.in_([g.key for g in cov.by_group]))
        ).all()
    )
    out: dict[str, Any] = {
        "area_code": area.code,
        "radius_m": radius_m,
        "residents": cov.residents,
        "covered": cov.covered_residents,
        "share": round(cov.share, 4),
        "open_sites": len(sites),
        "residents_without_position": unplaced is not None,
        "communities": [
            {
                "area_code": g.key,
                "area_name": names.get(g.key, g.key),
                "residents": g.residents,
                "covered": int(g.covered),
                "share": round(g.share, 4),
            }
            for g in cov.by_group
        ],
        "site_loads": [
            {
                "site": load.site_id,
                "assigned": int(load.assigned),
                "capacity_per_hour": _number(load.capacity_per_hour),
                "hours_to_sample_all": _number(load.hours, 1),
            }
            for load in cov.site_loads
        ],
        "suggestions": [],
    }
    if suggest and cov.residents:
        out["suggestions"] = [
            {
                "rank": s.rank,
                "lon": round(s.lon, 6),
                "lat": round(s.lat, 6),
                "newly_covered": s.newly_covered_residents,
                "share_after": round(s.cumulative_share, 4),
            }
            for s in suggest_sites(residents, site_table, radius_m, suggest, zone=zone, south=south)
        ]
    return out


def _number(value: float | None, digits: int = 0) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, digits) if digits else value
