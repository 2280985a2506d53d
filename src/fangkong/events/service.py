"""Domain events: recorded in the outbox in the same transaction as the change, handled
afterwards by idempotent handlers (in-process thread for the demo, `fangkong worker` in
production).

A handler's effects and its `event_handling` row commit together, so each handler takes
effect exactly once per event even if the worker dies and re-runs; a failing handler is
retried up to `MAX_ATTEMPTS` times and then left visible as failed.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from fangkong.auth.actor import Actor
from fangkong.db.base import utcnow
from fangkong.events.models import DomainEvent, EventHandling

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
Handler = Callable[[Session, DomainEvent], None]


@dataclass(frozen=True)
class Registration:
    name: str
    event_types: frozenset[str]
    fn: Handler


_REGISTRY: dict[str, Registration] = {}


def handler(name: str, *event_types: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler `name` for the given event types."""

    def wrap(fn: Handler) -> Handler:
        _REGISTRY[name] = Registration(name, frozenset(event_types), fn)
        return fn

    return wrap


def registered() -> list[Registration]:
    return list(_REGISTRY.values())


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def emit(
    session: Session,
    type: str,
    aggregate_type: str,
    aggregate_id: Any,
    payload: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
) -> DomainEvent:
    event = DomainEvent(
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=payload or {},
        actor_id=actor.user_id if actor else None,
    )
    session.add(event)
    return event


def pending(session: Session, reg: Registration, limit: int = 100) -> list[DomainEvent]:
    q = (
        select(DomainEvent)
        .outerjoin(
            EventHandling,
            and_(EventHandling.event_id == DomainEvent.id, EventHandling.handler == reg.name),
        )
        .where(DomainEvent.type.in_(sorted(reg.event_types)))
        .where(
            or_(
                EventHandling.event_id.is_(None),
                and_(EventHandling.status == "failed", EventHandling.attempts < MAX_ATTEMPTS),
            )
        )
        .order_by(DomainEvent.id)
        .limit(limit)
    )
    return list(session.scalars(q))


def run_pending(factory: sessionmaker[Session], *, limit: int = 100) -> int:
    """Run every registered handler on its pending events; return how many ran."""
    ran = 0
    for reg in registered():
        with factory() as session:
            event_ids = [e.id for e in pending(session, reg, limit)]
        for event_id in event_ids:
            ran += 1
            _run_one(factory, reg, event_id)
    return ran


def _run_one(factory: sessionmaker[Session], reg: Registration, event_id: int) -> None:
    session = factory()
    try:
        event = session.get(DomainEvent, event_id)
        if event is None:
            return
        row = session.get(EventHandling, (event_id, reg.name))
        if row is not None and row.status == "done":
            return  # another worker got there first
        attempts = (row.attempts if row else 0) + 1
        reg.fn(session, event)
        if row is None:
            session.add(EventHandling(event_id=event_id, handler=reg.name, status="done", attempts=attempts))
        else:
            row.status, row.attempts, row.last_error, row.handled_at = ("done", attempts, None, utcnow())
        session.commit()
    except Exception:
        session.rollback()
        error = traceback.format_exc(limit=5)
        log.warning("handler %s failed on event %s: %s", reg.name, event_id, error)
        _record_failure(factory, reg.name, event_id, error)
    finally:
        session.close()


def _record_failure(factory: sessionmaker[Session], name: str, event_id: int, error: str) -> None:
    with factory() as session:
        row = session.get(EventHandling, (event_id, name))
        if row is None:
            session.add(
                EventHandling(event_id=event_id, handler=name, status="failed", attempts=1, last_error=error)
            )
        else:
            row.attempts += 1
            row.status, row.last_error, row.handled_at = "failed", error, utcnow()
        session.commit()


class InProcessWorker:
    """Runs `run_pending` (and the periodic jobs when due) every `interval` seconds in a daemon
    thread."""

    def __init__(self, factory: sessionmaker[Session], interval: float = 1.0) -> None:
        from fangkong.jobs import PeriodicRunner

        self.factory = factory
        self.interval = interval
        self.periodic = PeriodicRunner()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="fangkong-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_pending(self.factory)
                self.periodic.run_due(self.factory)
            except Exception:  # keep the server alive; the failure is logged
                log.exception("event worker iteration failed")
            self._stop.wait(self.interval)
