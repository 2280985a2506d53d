"""Rounds that repeat (连续多轮): the next round of a series on the profile's cadence until its
stop rule is met (`testing.mass_testing`; cn-9th: one round a day; after 3 consecutive clear
rounds wait 3 days and run one final round; if that is clear too, stop).

A round is *clear* when it is closed and none of its tubes is positive (pooled or single).

Series with `auto_repeat` on are run by the worker (`advance_all`, every five minutes): a round
closes once its deadline is past and every tube with swabs in it has its result; then the
series' next round is planned by the stop rule, or the series stops (recorded once, and the
flag goes off). Idempotent, and safe with several workers: a series never gets two rounds of
the same number (unique index on `(series_id, seq)`), its rounds are locked while one worker
advances them, and a stop is recorded by the worker that switched the flag off.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, FangkongError, PolicyError
from fangkong.events import service as events
from fangkong.nat import rounds
from fangkong.nat.models import TestingRound, Tube
from fangkong.policy.schema import MassTesting

log = logging.getLogger(__name__)


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


def _mass_testing(session: Session, now: dt.datetime) -> MassTesting:
    """The profile's mass-testing rule in force on `now`'s local day (PolicyError if none)."""
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    testing = profiles.active(session, local_day(now)).profile.testing
    mass = testing.mass_testing if testing is not None else None
    if mass is None or mass.mode == "off":
        raise PolicyError("the profile in force has no mass-testing rule (testing.mass_testing)")
    return mass


def next_step(*, session: Session, actor: Actor, round_id: int, now: dt.datetime | None = None) -> NextStep:
    """What the series of `round_id` does next, by the profile's stop rule."""
    now = now or utcnow()
    r = rounds.get(session, actor, round_id)
    series = _series(session, r)
    last = series[-1]
    mass = _mass_testing(session, now)
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
    """Plan the next round of the series (same area, target, pool size and `auto_repeat`), if
    the stop rule says so. A round whose planned window is already over (results came in late)
    moves on by whole cadence steps to the first window still ahead."""
    now = now or utcnow()
    step = next_step(session=session, actor=actor, round_id=round_id, now=now)
    if step.action not in ("repeat", "final") or step.start_at is None:
        raise Conflict(step.reason_en)
    r = rounds.get(session, actor, round_id)
    authorize(actor, "nat.manage", r)
    series = _series(session, r)
    last = series[-1]
    length = last.deadline_at - last.start_at
    start = step.start_at
    if start + length <= now:
        cadence = dt.timedelta(seconds=_mass_testing(session, now).cadence.seconds)
        start = start + cadence * (math.floor((now - start - length) / cadence) + 1) if cadence else now
    base = series[0].name.split("（")[0]
    name = f"{base}（第{last.seq + 1}轮{'·收尾轮' if step.action == 'final' else ''}）"
    made = rounds.create(
        session=session,
        actor=actor,
        data=rounds.RoundCreate(
            name=name[:200],
            area_code=last.area_code,
            target=last.target,
            start_at=start,
            deadline_at=start + length,
            pool_size=last.default_pool_size,
            series_id=series[0].id,
            auto_repeat=last.auto_repeat,
        ),
        now=now,
    )
    made.final = step.action == "final"
    session.flush()
    events.emit(
        session,
        "nat.series_repeated",
        "nat_round",
        series[0].id,
        {
            "round_id": made.id,
            "seq": made.seq,
            "action": step.action,
            "clear_rounds": step.clear_rounds,
            "reason_zh": step.reason_zh,
            "reason_en": step.reason_en,
        },
        actor=actor,
    )
    return made


def set_auto_repeat(*, session: Session, actor: Actor, round_id: int, auto_repeat: bool) -> TestingRound:
    """Switch automatic repetition on or off for the whole series of `round_id`."""
    r = rounds.get(session, actor, round_id)
    authorize(actor, "nat.manage", r)
    series = _series(session, r)
    if all(item.auto_repeat == auto_repeat for item in series):
        return r
    for item in series:
        item.auto_repeat = auto_repeat
    first = series[0]
    audit.record(
        session,
        actor,
        "nat.round_auto_repeat",
        "nat_round",
        first.id,
        after={"auto_repeat": auto_repeat, "rounds": [item.id for item in series]},
        area_code=first.area_code,
    )
    events.emit(
        session, "nat.series_auto_repeat", "nat_round", first.id, {"auto_repeat": auto_repeat}, actor=actor
    )
    session.flush()
    return r


@dataclass
class Advanced:
    """What one run of `advance_all` did: round ids closed and planned, series (first round
    ids) stopped."""

    closed: list[int] = field(default_factory=list)
    planned: list[int] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)


def advance_all(*, session: Session, actor: Actor, now: dt.datetime | None = None) -> Advanced:
    """Run every series of the actor's jurisdiction with `auto_repeat` on: close its rounds
    past their deadline whose results are all in, then plan the next round or stop the series,
    by the profile's stop rule. Idempotent. Only an enforced rule is acted on: with none in
    force (or in shadow mode), rounds still close but nothing is planned."""
    now = now or utcnow()
    authorize(actor, "nat.manage")
    out = Advanced()
    for r in _closable(session, actor, now):
        rounds.close(session=session, actor=actor, round_id=r.id, now=now)
        out.closed.append(r.id)
    try:
        mass = _mass_testing(session, now)
    except PolicyError:
        return out
    if mass.mode != "enforce":
        return out
    for last in _last_closed(session, actor):
        try:
            with session.begin_nested():  # one series' trouble neither stops nor undoes the others
                step = next_step(session=session, actor=actor, round_id=last.id, now=now)
                if step.action == "stop":
                    if _stop(session, actor, last, step):
                        out.stopped.append(last.series_id or last.id)
                elif step.action in ("repeat", "final"):
                    out.planned.append(repeat(session=session, actor=actor, round_id=last.id, now=now).id)
        except Conflict:
            continue  # planned meanwhile (another worker, or by hand)
        except FangkongError as exc:  # e.g. the profile no longer allows the series' pool size
            log.warning("testing series of round %s not advanced: %s", last.id, exc)
    return out


def _closable(session: Session, actor: Actor, now: dt.datetime) -> list[TestingRound]:
    """Open auto-repeating rounds past their deadline with at least one result and no tube
    still waiting for one (swabs in it, not reported). A round nobody was sampled in is never
    closed automatically: it would count as clear."""
    of_round = Tube.round_id == TestingRound.id
    waiting = select(Tube.id).where(of_round, Tube.members > 0, Tube.status != "reported").exists()
    reported = select(Tube.id).where(of_round, Tube.status == "reported").exists()
    return list(
        session.scalars(
            select(TestingRound)
            .where(
                TestingRound.status == "open",
                TestingRound.auto_repeat.is_(True),
                TestingRound.deadline_at <= now,
                ~waiting,
                reported,
                jurisdiction_filter(actor, TestingRound.area_code),
            )
            .order_by(TestingRound.id)
            .with_for_update(of=TestingRound, skip_locked=True)
        )
    )


def _last_closed(session: Session, actor: Actor) -> list[TestingRound]:
    """The closed last round of every auto-repeating series (locked; rows another worker holds
    are skipped)."""
    later = aliased(TestingRound)
    series_of = func.coalesce(TestingRound.series_id, TestingRound.id)
    return list(
        session.scalars(
            select(TestingRound)
            .where(
                TestingRound.status == "closed",
                TestingRound.auto_repeat.is_(True),
                ~select(later.id)
                .where(
                    or_(later.series_id == series_of, later.id == series_of),
                    later.seq > TestingRound.seq,
                )
                .exists(),
                jurisdiction_filter(actor, TestingRound.area_code),
            )
            .order_by(TestingRound.id)
            .with_for_update(of=TestingRound, skip_locked=True)
        )
    )


def _stop(session: Session, actor: Actor, last: TestingRound, step: NextStep) -> bool:
    """Switch the series' automatic repetition off and record the stop; False when another
    worker (or a person) switched it off first."""
    first = last.series_id or last.id
    series = _series(session, last)
    switched = session.scalars(
        update(TestingRound)
        .where(
            or_(TestingRound.id == first, TestingRound.series_id == first),
            TestingRound.auto_repeat.is_(True),
        )
        .values(auto_repeat=False)
        .returning(TestingRound.id)
        .execution_options(synchronize_session=False)
    ).all()
    for item in series:
        session.expire(item, ["auto_repeat"])
    if not switched:
        return False
    audit.record(
        session,
        actor,
        "nat.series_stop",
        "nat_round",
        first,
        after={"last_round": last.id, "clear_rounds": step.clear_rounds, "reason": step.reason_en},
        area_code=last.area_code,
    )
    events.emit(
        session,
        "nat.series_stopped",
        "nat_round",
        first,
        {
            "last_round_id": last.id,
            "seq": last.seq,
            "clear_rounds": step.clear_rounds,
            "reason_zh": step.reason_zh,
            "reason_en": step.reason_en,
        },
        actor=actor,
    )
    return True
