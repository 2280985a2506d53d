"""The demo's testing round: in the sampler's district, a sampling site per community (where its
residents live), a lab whose account is the demo `lab_staff`, a round for the district today,
about 70 % of its residents swabbed into 10-in-1 tubes through the real registration path,
most tubes shipped, received and reported (two positive pools, whose members are then under
measures with retest tasks), the rest still on their way — so the round page shows progress,
pending results, missing persons and late tubes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from fangkong.area.models import Area
from fangkong.auth.actor import system_actor
from fangkong.auth.models import User
from fangkong.events import service as events
from fangkong.nat import results, rounds, sites, tubes
from fangkong.nat.intake import Registered, Swab, register_batch
from fangkong.nat.models import RoundMember, Tube
from fangkong.person.models import Person

ACTOR = system_actor("demo")


@dataclass
class TestingStats:
    sites: int = 0
    expected: int = 0
    swabs: int = 0
    tubes: int = 0
    reported: int = 0
    positive_pools: int = 0


def seed(factory: sessionmaker[Session], *, day: dt.date, seed: int = 20221101) -> TestingStats:
    from fangkong.config import get_settings

    tz = get_settings().tz
    rng = np.random.default_rng(seed + 11)
    stats = TestingStats()
    with factory.begin() as s:
        sampler = s.scalar(select(User).where(User.username == "sampler"))
        district = (sampler.area_code if sampler else None) or "510104"
        community_of = func.substr(Person.area_code, 1, 12).label("community")
        per_community = s.execute(
            select(community_of, func.avg(Person.lon), func.avg(Person.lat))
            .where(Person.area_code.startswith(district), Person.lon.is_not(None))
            .group_by(community_of)  # by the label: PostgreSQL sees two substr() with bound arguments
        ).all()
        names = dict(
            s.execute(
                select(Area.code, Area.name).where(Area.code.in_([c for c, _x, _y in per_community]))
            ).all()
        )
        for n, (community, lon, lat) in enumerate(per_community):
            if community not in names:
                continue
            sites.create_site(
                session=s,
                actor=ACTOR,
                data=sites.SiteCreate(
                    code=f"CY{district}{n:03d}",
                    name=f"{names[community]}核酸采样点",
                    area_code=community,
                    lon=round(float(lon), 6),
                    lat=round(float(lat), 6),
                    capacity_per_hour=300,
                    hours="07:00-19:00",
                    staff=6,
                ),
            )
            stats.sites += 1
        sites.create_lab(
            session=s,
            actor=ACTOR,
            data=sites.LabCreate(
                code="LAB-CD-01", name="成都市核酸检测中心", area_code="5101", daily_capacity=200_000
            ),
        )
        if s.scalar(select(User.id).where(User.username == "lab_staff")) is not None:
            sites.add_lab_member(session=s, actor=ACTOR, lab_code="LAB-CD-01", username="lab_staff")
        district_name = s.scalar(select(Area.name).where(Area.code == district)) or district
        start = dt.datetime.combine(day, dt.time(7, 0), tz)
        r = rounds.create(
            session=s,
            actor=ACTOR,
            data=rounds.RoundCreate(
                name=f"{district_name}第1轮区域核酸",
                area_code=district,
                start_at=start,
                deadline_at=start + dt.timedelta(hours=11),
            ),
            now=start,
        )
        round_id, stats.expected = r.id, r.expected
        members = s.execute(
            select(RoundMember.person_id, RoundMember.site_id, RoundMember.single_tube).where(
                RoundMember.round_id == round_id, RoundMember.site_id.is_not(None)
            )
        ).all()
    swabbed = [m for m in members if rng.random() < 0.7]
    by_site: dict[int, list[tuple[int, bool]]] = {}
    for pid, site_id, single in swabbed:
        if site_id is not None:
            by_site.setdefault(site_id, []).append((pid, bool(single)))
    at = dt.datetime.combine(day, dt.time(9, 0), tz)
    closed: dict[int, list[str]] = {}
    pooled_barcodes: set[str] = set()
    for site_id, people in sorted(by_site.items()):
        with factory.begin() as s:
            swabs, barcodes = _tubes_for(s, site_id, round_id, people, at)
            for outcome in register_batch(s, swabs):
                if isinstance(outcome, Registered):
                    stats.swabs += 1
            for b in barcodes:
                t = s.scalar(select(Tube).where(Tube.barcode == b))
                if t is not None and t.status == "open" and t.members:
                    t.status, t.closed_at, t.closed_by = "closed", at, "demo"
            closed[site_id] = barcodes
            pooled_barcodes |= {sw.tube for sw in swabs if sum(1 for x in swabs if x.tube == sw.tube) > 1}
            stats.tubes += len(barcodes)
    shipped_at = at + dt.timedelta(hours=2)
    reported_rows: list[results.ResultIn] = []
    for n, (site_id, barcodes) in enumerate(sorted(closed.items())):
        if n % 5 == 4:
            continue  # these sites' boxes are still on their way: pending results, late tubes
        with factory.begin() as s:
            tubes.ship(
                session=s,
                actor=ACTOR,
                code=f"BOX{site_id:05d}",
                site_id=site_id,
                lab_code="LAB-CD-01",
                barcodes=barcodes,
                now=shipped_at,
            )
            tubes.receive(
                session=s, actor=ACTOR, lab_code="LAB-CD-01", shipment=f"BOX{site_id:05d}", now=shipped_at
            )
        for b in barcodes:
            reported_rows.append(
                results.ResultIn(barcode=b, result="阴性", tested_at=shipped_at + dt.timedelta(hours=3))
            )
    # two positive pools (10-in-1 tubes a third and two thirds down the list)
    pooled = [k for k, row in enumerate(reported_rows) if row.barcode in pooled_barcodes]
    for k in {pooled[len(pooled) // 3], pooled[2 * len(pooled) // 3]} if len(pooled) >= 3 else set():
        reported_rows[k] = results.ResultIn(
            barcode=reported_rows[k].barcode,
            result="阳性",
            ct_n=31.2,
            ct_orf=33.0,
            tested_at=reported_rows[k].tested_at,
        )
        stats.positive_pools += 1
    if reported_rows:
        with factory.begin() as s:
            report = results.record(
                session=s,
                actor=ACTOR,
                lab_code="LAB-CD-01",
                rows=reported_rows,
                source="demo.csv",
                now=shipped_at + dt.timedelta(hours=4),
            )
            stats.reported = report.recorded
    from fangkong.events.registry import load_handlers

    load_handlers()
    events.run_pending(factory, limit=10_000)
    return stats


def _tubes_for(
    s: Session, site_id: int, round_id: int, people: list[tuple[int, bool]], at: dt.datetime
) -> tuple[list[Swab], list[str]]:
    """Open the tubes a site needs (10-in-1, single tubes for those the profile wants singly)
    and the swabs into them, in order."""
    swabs: list[Swab] = []
    barcodes: list[str] = []
    pooled = [p for p, single in people if not single]
    singles = [p for p, single in people if single]
    groups = [pooled[i : i + 10] for i in range(0, len(pooled), 10)] + [[p] for p in singles]
    for k, group in enumerate(groups):
        barcode = f"T{site_id:05d}{k:05d}"
        tubes.open_tube(
            session=s,
            actor=ACTOR,
            barcode=barcode,
            site_id=site_id,
            round_id=round_id,
            capacity=10 if len(group) > 1 or group[0] in pooled else 1,
            now=at,
        )
        barcodes.append(barcode)
        swabs += [
            Swab(tube=barcode, scan=str(p), site_id=site_id, at=at, actor=ACTOR, kind="person_id")
            for p in group
        ]
    return swabs, barcodes
