"""Turnaround (采送检报时限) of tubes, stage by stage: collected → shipped → received → reported.

A tube without a result is **late** in the stage it is in when

- it is past the profile's end-to-end deadline for its setting (`testing.result_deadlines`:
  screening 24 h, fever clinic 6 h … in cn-9th), counted from when the tube was closed (or
  opened, while it is still open), or
- the profile sets a limit for that stage (`testing.stage_limits`, optional; no shipped profile
  has one) and the tube has been in the stage longer: since it was closed (collected, not
  shipped), shipped (shipped, not received) or received (received, not reported).

`alert_late` opens one urgent task per site, stage and day for the site's area — "collected,
not shipped", "shipped, not received", "received, not reported" — listing the late tubes and
which rule made each one late. The worker runs it every five minutes; it is idempotent (one
alert per site, stage and day, refreshed with the tubes late now).

`summary` is the turnaround of a round or a site per stage — median and 90th percentile of the
time spent in it, tubes still in it, tubes over its limit — computed in the database (a few
rows come back, whatever the number of tubes).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Subquery,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.db.base import utcnow
from fangkong.errors import ErrorDetail, NotFound, PolicyError, invalid
from fangkong.nat.models import SamplingSite, Tube
from fangkong.policy.schema import TUBE_STAGES, Testing
from fangkong.policy.units import Duration

# Tube status → (the stage it is in, its label).
STAGES = {
    "closed": ("collected", "已采未送"),
    "open": ("collected", "已采未送"),
    "shipped": ("shipped", "已送未收"),
    "received": ("received", "已收未报"),
}
LABELS = {stage: label for stage, label in STAGES.values()}
IN_STAGE = {stage: tuple(status for status, (s, _) in STAGES.items() if s == stage) for stage in TUBE_STAGES}
MAX_LISTED = 500  # barcodes listed in one alert
SUMMARY_STAGES = (*TUBE_STAGES, "total")
# Durations come from two timestamps (on SQLite through julianday, good to some 40 µs): a
# stage that took its limit to the millisecond is not over it.
TOLERANCE = 0.001


def _entered(stage: str) -> Any:
    """When a tube entered the stage; for `collected` (closed, or opened while still open) it
    also starts the end-to-end clock."""
    if stage in ("collected", "total"):
        return func.coalesce(Tube.closed_at, Tube.opened_at)
    return {"shipped": Tube.shipped_at, "received": Tube.received_at}[stage]


def _left(stage: str) -> Any:
    """When a tube left the stage (`total`: when its result was reported)."""
    return {"collected": Tube.shipped_at, "shipped": Tube.received_at}.get(stage, Tube.reported_at)


def _testing(session: Session, now: dt.datetime) -> Testing | None:
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    try:
        return profiles.active(session, local_day(now)).profile.testing
    except PolicyError:
        return None


def _rules(
    testing: Testing, now: dt.datetime
) -> tuple[ColumnElement[bool] | None, ColumnElement[bool] | None]:
    """SQL conditions: past the end-to-end deadline; over the limit of the stage the tube is in."""

    def ago(seconds: float) -> dt.datetime:
        return now - dt.timedelta(seconds=seconds)

    end_to_end = [
        and_(Tube.setting == setting, _entered("collected") < ago(limit.seconds))
        for setting, limit in testing.result_deadlines.items()
    ]
    limits = testing.stage_limits.given() if testing.stage_limits else []
    stage = [
        and_(Tube.status.in_(IN_STAGE[name]), _entered(name) < ago(limit.seconds)) for name, limit in limits
    ]
    return (or_(*end_to_end) if end_to_end else None), (or_(*stage) if stage else None)


def _late_where(testing: Testing, now: dt.datetime) -> tuple[ColumnElement[bool], ColumnElement[int]] | None:
    """The condition for a late tube, and 1 when the end-to-end deadline made it late."""
    end_to_end, stage = _rules(testing, now)
    either = [c for c in (end_to_end, stage) if c is not None]
    if not either:
        return None
    where = and_(Tube.members > 0, Tube.status.in_(tuple(STAGES)), or_(*either))
    flag = case((end_to_end, 1), else_=0) if end_to_end is not None else literal(0)
    return where, flag


@dataclass
class Late:
    """The late tubes of one site and stage, by the rule that made them late."""

    end_to_end: list[str] = field(default_factory=list)  # past the result deadline (maybe both)
    stage_limit: list[str] = field(default_factory=list)  # within it, but over the stage's limit

    @property
    def count(self) -> int:
        return len(self.end_to_end) + len(self.stage_limit)


def late(session: Session, now: dt.datetime, testing: Testing | None = None) -> dict[tuple[int, str], Late]:
    """(site id, stage) → the tubes late in that stage (one query), under `testing` (default:
    the testing rules of the profile in force)."""
    testing = testing or _testing(session, now)
    rule = _late_where(testing, now) if testing else None
    if rule is None:
        return {}
    where, end_to_end = rule
    out: dict[tuple[int, str], Late] = defaultdict(Late)
    for site_id, status, barcode, by_deadline in session.execute(
        select(Tube.site_id, Tube.status, Tube.barcode, end_to_end).where(where)
    ):
        found = out[(site_id, STAGES[status][0])]
        (found.end_to_end if by_deadline else found.stage_limit).append(barcode)
    return dict(out)


def count_late(session: Session, now: dt.datetime, *, round_id: int | None = None) -> int:
    """How many tubes (of a round) are late by either rule."""
    testing = _testing(session, now)
    rule = _late_where(testing, now) if testing else None
    if rule is None:
        return 0
    stmt = select(func.count()).select_from(Tube).where(rule[0])
    if round_id is not None:
        stmt = stmt.where(Tube.round_id == round_id)
    return int(session.scalar(stmt) or 0)


def alert_late(session: Session, actor: Actor, now: dt.datetime) -> int:
    """Open (or refresh) the alerts; returns how many were opened."""
    from fangkong.task import service as tasks

    testing = _testing(session, now)
    found = late(session, now, testing)
    if not found:
        return 0
    limits = dict(testing.stage_limits.given()) if testing and testing.stage_limits else {}
    sites = {
        s.id: s
        for s in session.scalars(select(SamplingSite).where(SamplingSite.id.in_({k[0] for k in found})))
    }
    day = now.date().isoformat()
    specs: list[dict[str, Any]] = []
    for (site_id, stage), tubes_late in sorted(found.items()):
        site = sites.get(site_id)
        if site is None:
            continue
        data: dict[str, Any] = {
            "site_id": site_id,
            "stage": stage,
            "count": tubes_late.count,
            "tubes": sorted(tubes_late.end_to_end + tubes_late.stage_limit)[:MAX_LISTED],
            # which rule made them late: a tube past both counts as end_to_end
            "late_by": {"end_to_end": len(tubes_late.end_to_end), "stage_limit": len(tubes_late.stage_limit)},
        }
        if stage in limits:
            data["stage_limit"] = str(limits[stage])
        if tubes_late.stage_limit:  # the tubes listed but not here are past the end-to-end deadline
            data["stage_limit_tubes"] = sorted(tubes_late.stage_limit)[:MAX_LISTED]
        specs.append(
            {
                "kind": "supervision",
                "title": f"采送检超时：{LABELS[stage]} {tubes_late.count} 管（{site.name}）",
                "area_code": site.area_code,
                "role": "commander",
                "due_at": now + dt.timedelta(hours=1),
                "priority": "urgent",
                "dedupe_key": f"nat-late:{site_id}:{stage}:{day}",
                "data": data,
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


# ---------------------------------------------------------------- the summary per stage


class _Seconds(FunctionElement[float]):
    """`end − start` in seconds, on SQLite and PostgreSQL: `_Seconds(start, end)`."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(_Seconds)
def _seconds_pg(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(_Seconds, "sqlite")
def _seconds_sqlite(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@dataclass
class StageTurnaround:
    stage: str  # collected | shipped | received | total (collected → reported)
    done: int  # tubes that have left the stage
    waiting: int  # tubes in the stage now
    median_min: float | None  # of the tubes done, minutes in the stage
    p90_min: float | None
    limit: str | None  # the stage's limit; total: see Turnaround.result_deadlines
    over_limit: int | None  # done or waiting, longer than the limit (None: no limit)


@dataclass
class Turnaround:
    round_id: int | None
    site_id: int | None
    since: dt.datetime | None
    as_of: dt.datetime
    tubes: int
    result_deadlines: dict[str, str]
    stage_limits: dict[str, str]
    stages: list[StageTurnaround]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: dict[int, float], n: int, tenths: int) -> float | None:
    """The `tenths`/10 percentile of n values, given the ranks either side of it: linear
    interpolation between the closest ranks (PostgreSQL's percentile_cont). In whole numbers,
    so the ranks are those the database picked (`_ranked_minutes`)."""
    if n == 0:
        return None
    low, rest = divmod((n - 1) * tenths, 10)
    below = values[low + 1]
    above = values.get(low + 2, below)
    return below + (above - below) * rest / 10


def summary(
    *,
    session: Session,
    actor: Actor,
    round_id: int | None = None,
    site_id: int | None = None,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Turnaround:
    """The turnaround of the tubes (with swabs) of a round, of a site, or of a site in a round,
    optionally only those collected since `since`: per stage, the tubes done and waiting, the
    median and 90th percentile of the minutes spent in it (tubes done), and the tubes over the
    stage's limit (done or still waiting); `total` is collected → reported against the
    end-to-end deadline of each tube's setting."""
    from fangkong.nat import rounds

    now = now or utcnow()
    scope: list[ColumnElement[bool]] = [Tube.members > 0]
    if round_id is None and site_id is None:
        raise invalid("round_id", "give a round, a site or both")
    if round_id is not None:
        scope.append(Tube.round_id == rounds.get(session, actor, round_id).id)
    if site_id is not None:
        site = session.get(SamplingSite, site_id)
        if site is None:
            raise NotFound(
                f"sampling site {site_id} not found", [ErrorDetail("site_id", "unknown site", site_id)]
            )
        authorize(actor, "nat.read", site)
        scope.append(Tube.site_id == site.id)
    if since is not None:
        if not 1900 <= since.year <= 2200:  # far-off years overflow when moved to UTC
            raise invalid("since", "a time between the years 1900 and 2200", since.isoformat())
        if since.tzinfo is None:
            from fangkong.config import get_settings

            since = since.replace(tzinfo=get_settings().tz)
        scope.append(_entered("collected") >= since)
    testing = _testing(session, now)
    limits = dict(testing.stage_limits.given()) if testing and testing.stage_limits else {}
    deadlines = dict(testing.result_deadlines) if testing else {}
    rows = union_all(*(_leg(stage, scope, limits, deadlines, now) for stage in SUMMARY_STAGES))
    per_stage = rows.subquery("per_stage")
    counts = {
        stage: (int(done), int(waiting or 0), int(over or 0))
        for stage, done, waiting, over in session.execute(
            select(
                per_stage.c.stage,
                func.count(per_stage.c.seconds),
                func.sum(per_stage.c.waiting),
                func.sum(per_stage.c.over),
            ).group_by(per_stage.c.stage)
        )
    }
    minutes = _ranked_minutes(session, per_stage)
    out = []
    for stage in SUMMARY_STAGES:
        done, waiting, over = counts.get(stage, (0, 0, 0))
        median = _percentile(minutes[stage], done, 5)
        p90 = _percentile(minutes[stage], done, 9)
        out.append(
            StageTurnaround(
                stage=stage,
                done=done,
                waiting=waiting,
                median_min=None if median is None else round(median, 1),
                p90_min=None if p90 is None else round(p90, 1),
                limit=str(limits[stage]) if stage in limits else None,
                over_limit=over if stage in limits or (stage == "total" and deadlines) else None,
            )
        )
    done, waiting, _ = counts.get("total", (0, 0, 0))
    return Turnaround(
        round_id=round_id,
        site_id=site_id,
        since=since,
        as_of=now,
        tubes=done + waiting,
        result_deadlines={k: str(v) for k, v in deadlines.items()},
        stage_limits={k: str(v) for k, v in limits.items()},
        stages=out,
    )


def _leg(
    stage: str,
    scope: list[ColumnElement[bool]],
    limits: dict[str, Duration],
    deadlines: dict[str, Duration],
    now: dt.datetime,
) -> Select[Any]:
    """One row per tube that entered the stage: the seconds it spent there (NULL while it is
    still there), whether it is still there, whether it is over the limit."""
    entered, left = _entered(stage), _left(stage)
    waiting = Tube.status != "reported" if stage == "total" else Tube.status.in_(IN_STAGE[stage])
    seconds = _Seconds(entered, left)

    def over(limit: Duration) -> ColumnElement[bool]:
        return or_(
            and_(left.is_not(None), seconds > limit.seconds + TOLERANCE),
            and_(waiting, entered < now - dt.timedelta(seconds=limit.seconds)),
        )

    if stage == "total":  # against the end-to-end deadline of the tube's setting
        by_setting = [and_(Tube.setting == s, over(limit)) for s, limit in deadlines.items()]
        late: ColumnElement[bool] = or_(*by_setting) if by_setting else false()
    else:
        late = over(limits[stage]) if stage in limits else false()
    return select(
        literal(stage).label("stage"),
        case((left.is_not(None), seconds)).label("seconds"),
        case((waiting, 1), else_=0).label("waiting"),
        case((late, 1), else_=0).label("over"),
    ).where(*scope, entered.is_not(None))


def _ranked_minutes(session: Session, per_stage: Subquery) -> dict[str, dict[int, float]]:
    """stage → {rank: minutes} for the ranks either side of the median and the 90th percentile
    of the tubes done (ranked by time in the stage, 1-based): at most 4 rows per stage."""
    ranked = (
        select(
            per_stage.c.stage,
            per_stage.c.seconds,
            func.row_number()
            .over(partition_by=per_stage.c.stage, order_by=per_stage.c.seconds)
            .label("rank"),
            func.count().over(partition_by=per_stage.c.stage).label("n"),
        )
        .where(per_stage.c.seconds.is_not(None))
        .subquery("ranked")
    )
    wanted = []
    for tenths in (5, 9):  # rank 1 + ⌊(n − 1)·p⌋ and the next one
        low = 1 + (ranked.c.n - 1) * tenths // 10
        wanted += [ranked.c.rank == low, ranked.c.rank == low + 1]
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for stage, seconds, rank in session.execute(
        select(ranked.c.stage, ranked.c.seconds, ranked.c.rank).where(or_(*wanted))
    ):
        out[stage][int(rank)] = float(seconds) / 60
    return out
