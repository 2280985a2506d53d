"""Rounds that repeat (连续多轮): the next round of a series on the profile's cadence until its
stop rule is met (`testing.mass_testing`; cn-9th: one round a day; after 3 consecutive clear
rounds wait 3 days and run one final round; if that is clear too, stop).

A round is *clear* when it is closed and none of its tubes is positive (pooled or single).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, PolicyError
from fangkong.nat import rounds
from fangkong.nat.models import TestingRound, Tube


@dataclass
class NextStep:
    action: str  # repeat | final | stop | wait
    start_at: dt.datetime | None
    clear_rounds: int
    reason_zh: str
    reason_en: str


def _series(session: Session, r: TestingRound) -> list[TestingRound]:
    first = r.series_id or r.id
    return list(
        session.scalars(
            select(TestingRound)
            .where((TestingRound.id == first) | (TestingRound.series_id == first))
            .order_by(TestingRound.seq)
        )
    )


def _clear(session: Session, r: TestingRound) -> bool:
    positive = session.scalar(
        select(Tube.id).where(Tube.round_id == r.id, Tube.result == "positive").limit(1)
    )
    return r.status == "closed" and positive is None


def next_step(*, session: Session, actor: Actor, round_id: int, now: dt.datetime | None = None) -> NextStep:
    """What the series of `round_id` does next, by the profile's stop rule."""
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    now = now or utcnow()
    r = rounds.get(session, actor, round_id)
    series = _series(session, r)
    last = series[-1]
    testing = profiles.active(session, local_day(now)).profile.testing
    mass = testing.mass_testing if testing is not None else None
    if mass is None or mass.mode == "off":
        raise PolicyError("the profile in force has no mass-testing rule (testing.mass_testing)")
    cadence = dt.timedelta(seconds=mass.cadence.seconds)
    if last.status != "closed":
        return NextStep("wait", None, 0, f"第{last.seq}轮尚未结束", f"round {last.seq} is still open")
    clear = 0
    for item in reversed(series):
        if not _clear(session, item):
            break
        clear += 1
    rule = mass.stop_rule
    if last.final and clear >= 1:
        return NextStep("stop", None, clear, "收尾轮无阳性，停止全员核酸", "the final round was clear: stop")
    if clear >= rule.clear_rounds:
        if rule.final_round and not last.final:
            wait = dt.timedelta(seconds=rule.then_wait.seconds) if rule.then_wait else dt.timedelta(0)
            return NextStep(
                "final",
                last.start_at + wait,
                clear,
                f"连续{clear}轮无阳性：间隔后开展收尾轮",
                f"{clear} clear rounds in a row: one final round after the wait",
            )
        return NextStep(
            "stop", None, clear, f"连续{clear}轮无阳性，停止", f"{clear} clear rounds in a row: stop"
        )
    return NextStep(
        "repeat",
        last.start_at + cadence,
        clear,
        f"连续无阳性{clear}轮（需{rule.clear_rounds}轮）：按频次继续",
        f"{clear} clear round(s) of {rule.clear_rounds}: repeat on the cadence",
    )


def repeat(*, session: Session, actor: Actor, round_id: int, now: dt.datetime | None = None) -> TestingRound:
    """Plan the next round of the series (same area, target and pool size), if the stop rule
    says so."""
    step = next_step(session=session, actor=actor, round_id=round_id, now=now)
    if step.action not in ("repeat", "final") or step.start_at is None:
        raise Conflict(step.reason_en)
    r = rounds.get(session, actor, round_id)
    authorize(actor, "nat.manage", r)
    series = _series(session, r)
    last = series[-1]
    length = last.deadline_at - last.start_at
    base = series[0].name.split("（")[0]
    name = f"{base}（第{last.seq + 1}轮{'·收尾轮' if step.action == 'final' else ''}）"
    made = rounds.create(
        session=session,
        actor=actor,
        data=rounds.RoundCreate(
            name=name[:200],
            area_code=last.area_code,
            target=last.target,
            start_at=step.start_at,
            deadline_at=step.start_at + length,
            pool_size=last.default_pool_size,
            series_id=series[0].id,
        ),
        now=now,
    )
    made.final = step.action == "final"
    session.flush()
    return made
