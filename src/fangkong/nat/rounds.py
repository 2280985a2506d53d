"""Testing rounds (全员/区域核酸): plan a round for an area by a deadline, snapshot who is
expected (应检人员) with their community, nearest open sampling site and whether the profile
wants them in a single tube; write the announcement; close it.

Pooling comes from the profile in force (`testing.pooling`): the default pool size, the
allowed sizes, and the groups always tested singly (`single_tube_for`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, ErrorDetail, NotFound, PolicyError, invalid
from fangkong.events import service as events
from fangkong.nat.models import RoundMember, SamplingSite, TestingRound
from fangkong.person.models import Person, PersonKeyGroup
from fangkong.policy.schema import Pooling
from fangkong.types import AreaCodeParam

Target = Literal["everyone", "key_groups", "under_measures"]
CHUNK = 20_000


class RoundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    area_code: AreaCodeParam
    target: Target = "everyone"
    start_at: dt.datetime
    deadline_at: dt.datetime
    pool_size: int | None = Field(default=None, ge=1, le=20, description="default: the profile's")
    series_id: int | None = Field(default=None, ge=1, le=2_147_483_647, description="the round this repeats")
    auto_repeat: bool | None = Field(
        default=None,
        description="the worker closes the round once its results are in and plans the next by the "
        "profile's stop rule; default: the series' setting, else on for `everyone` (全员核酸)",
    )


def pooling_rules(session: Session, now: dt.datetime) -> Pooling:
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    loaded = profiles.active(session, local_day(now))
    testing = loaded.profile.testing
    if testing is None:
        raise PolicyError(
            f"profile {loaded.id} has no testing rules",
            [ErrorDetail("profile", "no testing section", loaded.id)],
        )
    return testing.pooling


def get(session: Session, actor: Actor, round_id: int) -> TestingRound:
    r = session.get(TestingRound, round_id)
    if r is None:
        raise NotFound(f"testing round {round_id} not found")
    authorize(actor, "nat.read", r)
    return r


def get_open(session: Session, round_id: int) -> TestingRound:
    r = session.get(TestingRound, round_id)
    if r is None:
        raise NotFound(
            f"testing round {round_id} not found", [ErrorDetail("round_id", "unknown round", round_id)]
        )
    if r.status != "open":
        raise Conflict(
            f"testing round {r.name} is closed", [ErrorDetail("round_id", "round closed", round_id)]
        )
    return r


def create(
    *, session: Session, actor: Actor, data: RoundCreate, now: dt.datetime | None = None
) -> TestingRound:
    """Plan a round: who is expected, in which tube size, at which site; the announcement."""
    now = now or utcnow()
    area = session.get(Area, data.area_code)
    if area is None:
        raise invalid("area_code", "unknown area code", data.area_code)
    authorize(actor, "nat.manage", area)
    start, deadline = _aware(data.start_at), _aware(data.deadline_at)
    if deadline <= start:
        raise invalid("deadline_at", "the deadline must come after the start", data.deadline_at)
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    loaded = profiles.active(session, local_day(now))
    pooling = pooling_rules(session, now)
    size = data.pool_size or pooling.default_size
    if size not in pooling.allowed_sizes:
        raise invalid("pool_size", f"one of {pooling.allowed_sizes} (policy profile)", size)
    seq = 1
    auto_repeat = data.target == "everyone" if data.auto_repeat is None else data.auto_repeat
    if data.series_id is not None:
        first = session.get(TestingRound, data.series_id)
        if first is None:
            raise invalid("series_id", "unknown round", data.series_id)
        series = first.series_id or first.id
        last = session.scalars(
            select(TestingRound)
            .where((TestingRound.series_id == series) | (TestingRound.id == series))
            .order_by(TestingRound.seq.desc())
            .limit(1)
        ).one()
        seq = last.seq + 1
        if data.auto_repeat is None:
            auto_repeat = last.auto_repeat
    else:
        series = None
    r = TestingRound(
        name=data.name,
        area_code=area.code,
        target=data.target,
        start_at=start,
        deadline_at=deadline,
        default_pool_size=size,
        series_id=series,
        seq=seq,
        auto_repeat=auto_repeat,
        profile_id=loaded.id,
        created_by=actor.username,
    )
    try:
        with session.begin_nested():
            session.add(r)
            session.flush()
    except IntegrityError:  # the unique (series_id, seq): planned meanwhile by someone else
        raise Conflict(
            f"round {seq} of series {series} was planned meanwhile",
            [ErrorDetail("series_id", "round already planned", data.series_id)],
        ) from None
    r.expected = _snapshot(session, r, pooling, now)
    r.announcement_zh, r.announcement_en = _announcement(r, area.name)
    session.flush()
    audit.record(
        session,
        actor,
        "nat.round_create",
        "nat_round",
        r.id,
        after={
            "name": r.name,
            "area_code": r.area_code,
            "target": r.target,
            "expected": r.expected,
            "auto_repeat": r.auto_repeat,
        },
        area_code=r.area_code,
    )
    events.emit(session, "nat.round_created", "nat_round", r.id, {"expected": r.expected}, actor=actor)
    return r


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        from fangkong.config import get_settings

        return value.replace(tzinfo=get_settings().tz)
    return value


def _snapshot(session: Session, r: TestingRound, pooling: Pooling, now: dt.datetime) -> int:
    """Insert the round's expected persons; returns how many."""
    from fangkong.auth.actor import system_actor

    scope = system_actor("nat")  # the round's own area bounds the query, not the planner's
    scope = Actor(user_id=None, username=scope.username, roles=scope.roles, area_code=r.area_code)
    stmt = select(Person.id, Person.area_code, Person.lon, Person.lat).where(
        jurisdiction_filter(scope, Person.area_code), Person.status == "active"
    )
    keyed = _key_group_persons(session)
    if r.target == "key_groups":
        stmt = stmt.where(Person.id.in_(select(PersonKeyGroup.person_id)))
    rows: list[Any] = list(session.execute(stmt.order_by(Person.id)).all())
    if r.target == "under_measures":
        measured = _persons_in_categories(session, None)
        rows = [row for row in rows if row[0] in measured]
    single = _single_tube_persons(session, pooling.single_tube_for, keyed)
    site_of, distance = _nearest_sites(session, r, rows)
    values: list[dict[str, Any]] = []
    for n, (pid, area_code, _lon, _lat) in enumerate(rows):
        values.append(
            {
                "round_id": r.id,
                "person_id": pid,
                "area_code": area_code[:12] if len(area_code) >= 12 else area_code,
                "site_id": site_of[n],
                "distance_m": distance[n],
                "single_tube": pid in single or r.default_pool_size == 1,
            }
        )
        if len(values) >= CHUNK:
            session.execute(insert(RoundMember), values)
            values = []
    if values:
        session.execute(insert(RoundMember), values)
    return len(rows)


def _key_group_persons(session: Session) -> set[int]:
    return set(session.scalars(select(PersonKeyGroup.person_id).distinct()))


def _persons_in_categories(session: Session, categories: list[str] | None) -> set[int]:
    from fangkong.measure.models import PersonCategory

    stmt = select(PersonCategory.person_id).where(PersonCategory.status == "active")
    if categories is not None:
        stmt = stmt.where(PersonCategory.category.in_(categories))
    return set(session.scalars(stmt.distinct()))


def _single_tube_persons(session: Session, groups: list[str], keyed: set[int]) -> set[int]:
    """Persons the profile wants tested singly: key groups, persons in the named categories
    (e.g. close_contact), persons in centralised quarantine."""
    from fangkong.measure.models import Measure

    out: set[int] = set()
    if "key_groups" in groups:
        out |= keyed
    categories = [g for g in groups if g not in ("key_groups", "quarantine_site", "fever_clinic")]
    if categories:
        out |= _persons_in_categories(session, categories)
    if "quarantine_site" in groups:
        out |= set(
            session.scalars(
                select(Measure.person_id).where(
                    Measure.status == "current", Measure.kind == "central_quarantine"
                )
            )
        )
    return out


def _nearest_sites(
    session: Session, r: TestingRound, rows: list[Any]
) -> tuple[list[int | None], list[float | None]]:
    """Each person's site: the nearest open site of the round's area, balanced by capacity
    (`fangkong.analysis.assignment`: a full site's farthest residents go to the nearest site
    with room within 3 km). None when either has no position."""
    from fangkong.analysis.assignment import assign
    from fangkong.config import get_settings
    from fangkong.tracing.projection import zone_of

    scope = Actor(user_id=None, username="nat", roles=frozenset(), area_code=r.area_code)
    sites = session.execute(
        select(SamplingSite.id, SamplingSite.lon, SamplingSite.lat, SamplingSite.capacity_per_hour).where(
            jurisdiction_filter(scope, SamplingSite.area_code),
            SamplingSite.status == "open",
            SamplingSite.lon.is_not(None),
            SamplingSite.lat.is_not(None),
        )
    ).all()
    none: list[Any] = [None] * len(rows)
    if not sites or not rows:
        return none, list(none)
    placed = [n for n, row in enumerate(rows) if row[2] is not None and row[3] is not None]
    if not placed:
        return none, list(none)
    settings = get_settings()
    hours = max((r.deadline_at - r.start_at).total_seconds() / 3600, 0.25)
    result = assign(
        np.array([rows[n][2] for n in placed], dtype=np.float64),
        np.array([rows[n][3] for n in placed], dtype=np.float64),
        np.array([s[1] for s in sites], dtype=np.float64),
        np.array([s[2] for s in sites], dtype=np.float64),
        np.array([float(s[3] or 0) for s in sites], dtype=np.float64),
        hours,
        zone=zone_of(settings.city_lon),
        south=settings.city_lat < 0,
    )
    site_of: list[int | None] = list(none)
    distance: list[float | None] = list(none)
    for k, n in enumerate(placed):
        idx = int(result.site[k])
        if idx >= 0:
            site_of[n] = int(sites[idx][0])
            distance[n] = round(float(result.distance_m[k]), 1)
    r.assignment = {"moved": result.moved, "over_capacity": result.overloaded}
    return site_of, distance


def _announcement(r: TestingRound, area_name: str) -> tuple[str, str]:
    from fangkong.timeutil import to_local

    start, end = to_local(r.start_at), to_local(r.deadline_at)
    assert start is not None and end is not None
    zh = (
        f"【核酸检测通告】{area_name}定于{start:%m月%d日%H:%M}至{end:%m月%d日%H:%M}开展{r.name}。"
        "请辖区内人员携带身份证件或出示个人码，前往指定采样点有序检测，全程佩戴口罩、保持一米距离，"
        "应检尽检、不漏一人。行动不便者请联系社区安排上门采样。"
    )
    en = (
        f"Notice: {r.name} in {area_name} from {start:%m-%d %H:%M} to {end:%m-%d %H:%M}. Everyone in the "
        "area please go to your assigned sampling site with your ID card or personal code, wear a mask "
        "and keep one metre apart. If you cannot get there, ask your community for door-to-door sampling."
    )
    return zh, en


def close(*, session: Session, actor: Actor, round_id: int, now: dt.datetime | None = None) -> TestingRound:
    r = get(session, actor, round_id)
    authorize(actor, "nat.manage", r)
    if r.status == "closed":
        return r
    r.status, r.closed_at = "closed", now or utcnow()
    audit.record(session, actor, "nat.round_close", "nat_round", r.id, area_code=r.area_code)
    events.emit(session, "nat.round_closed", "nat_round", r.id, {}, actor=actor)
    session.flush()
    return r
