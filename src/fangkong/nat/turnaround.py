"""Turnaround alerts (采送检报时限): tubes still without a result past the profile's deadline
for their setting (`testing.result_deadlines`: screening 24 h, fever clinic 6 h … in cn-9th),
counted from when the tube was closed, open one urgent task per site and stage for the site's
area — "collected, not shipped", "shipped, not received", "received, not reported" — listing
the tubes. Run every five minutes by the worker; idempotent (one alert per site, stage and
day, updated with the tubes late now)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor
from fangkong.errors import PolicyError
from fangkong.nat.models import SamplingSite, Tube

STAGES = {
    "closed": ("collected", "已采未送"),
    "open": ("collected", "已采未送"),
    "shipped": ("shipped", "已送未收"),
    "received": ("received", "已收未报"),
}


def late(session: Session, now: dt.datetime) -> dict[tuple[int, str], list[str]]:
    """(site id, stage) → barcodes of the tubes past their deadline."""
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    try:
        testing = profiles.active(session, local_day(now)).profile.testing
    except PolicyError:
        return {}
    if testing is None:
        return {}
    out: dict[tuple[int, str], list[str]] = defaultdict(list)
    for setting, limit in testing.result_deadlines.items():
        cutoff = now - dt.timedelta(seconds=limit.seconds)
        rows = session.execute(
            select(Tube.site_id, Tube.status, Tube.barcode).where(
                Tube.setting == setting,
                Tube.members > 0,
                Tube.status.in_(tuple(STAGES)),
                func.coalesce(Tube.closed_at, Tube.opened_at) < cutoff,
            )
        )
        for site_id, status, barcode in rows:
            out[(site_id, STAGES[status][0])].append(barcode)
    return dict(out)


def alert_late(session: Session, actor: Actor, now: dt.datetime) -> int:
    """Open (or refresh) the alerts; returns how many were opened."""
    from fangkong.task import service as tasks

    found = late(session, now)
    if not found:
        return 0
    sites = {
        s.id: s
        for s in session.scalars(select(SamplingSite).where(SamplingSite.id.in_({k[0] for k in found})))
    }
    labels = {v[0]: v[1] for v in STAGES.values()}
    day = now.date().isoformat()
    specs: list[dict[str, Any]] = []
    for (site_id, stage), barcodes in sorted(found.items()):
        site = sites.get(site_id)
        if site is None:
            continue
        specs.append(
            {
                "kind": "supervision",
                "title": f"采送检超时：{labels[stage]} {len(barcodes)} 管（{site.name}）",
                "area_code": site.area_code,
                "role": "commander",
                "due_at": now + dt.timedelta(hours=1),
                "priority": "urgent",
                "dedupe_key": f"nat-late:{site_id}:{stage}:{day}",
                "data": {
                    "site_id": site_id,
                    "stage": stage,
                    "tubes": sorted(barcodes)[:500],
                    "count": len(barcodes),
                },
            }
        )
    made = 0
    for task, created in tasks.create_many(session, actor, specs):
        made += int(created)
        if not created and task.status == "open":  # refresh the list of late tubes
            spec = next(s for s in specs if s["dedupe_key"] == task.dedupe_key)
            task.data = dict(spec["data"])
            task.title = str(spec["title"])
    session.flush()
    return made
