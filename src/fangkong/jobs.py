"""Periodic jobs run by the worker (`fangkong worker`, or the in-process worker): each job runs
in its own unit of work, at most once per its interval, and is idempotent."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def _apply_due_profiles(session: Session) -> None:
    """A profile activated ahead of time comes into force: re-plan the people it concerns."""
    from fangkong.auth.actor import system_actor
    from fangkong.errors import PolicyError
    from fangkong.measure import service as measures

    try:
        n = measures.apply_due(session, system_actor("worker"), dt.datetime.now(dt.UTC))
    except PolicyError:
        return  # no profile in force yet: nothing to re-plan
    if n:
        log.info("re-planned %s person(s) under the profile now in force", n)


def _supervise_overdue(session: Session) -> None:
    """Overdue tasks (an investigation milestone, a locate-and-control, a retest …) open a
    supervision task (督办) for the area above."""
    from fangkong.auth.actor import system_actor
    from fangkong.task import service as tasks

    n = tasks.supervise_overdue(session, system_actor("worker"), dt.datetime.now(dt.UTC))
    if n:
        log.info("opened %s supervision task(s)", n)


def _testing_turnaround(session: Session) -> None:
    """Tubes past the profile's result deadline (采送检报) alert their site's area."""
    from fangkong.auth.actor import system_actor
    from fangkong.nat.turnaround import alert_late

    n = alert_late(session, system_actor("worker"), dt.datetime.now(dt.UTC))
    if n:
        log.info("opened %s turnaround alert(s)", n)


def _advance_series(session: Session) -> None:
    """Auto-repeating testing rounds (连续多轮): close those past their deadline with every
    result in, then plan each series' next round or stop it, by the profile's stop rule."""
    from fangkong.auth.actor import system_actor
    from fangkong.nat.series import advance_all

    done = advance_all(session=session, actor=system_actor("worker"), now=dt.datetime.now(dt.UTC))
    if done.closed or done.planned or done.stopped:
        log.info(
            "testing series: closed round(s) %s, planned %s, stopped series %s",
            done.closed,
            done.planned,
            done.stopped,
        )


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[Session], None]


JOBS: tuple[Job, ...] = (
    Job("policy.apply_due", 600, _apply_due_profiles),
    Job("tasks.supervise_overdue", 300, _supervise_overdue),
    Job("nat.turnaround", 300, _testing_turnaround),
    Job("nat.series", 300, _advance_series),
)


@dataclass
class PeriodicRunner:
    jobs: tuple[Job, ...] = JOBS
    last: dict[str, float] = field(default_factory=dict)

    def run_due(self, factory: sessionmaker[Session], now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        ran = []
        for job in self.jobs:
            if now - self.last.get(job.name, -1e18) < job.every_seconds:
                continue
            self.last[job.name] = now
            session = factory()
            try:
                job.run(session)
                session.commit()
                ran.append(job.name)
            except Exception:
                session.rollback()
                log.exception("periodic job %s failed", job.name)
            finally:
                session.close()
        return ran
