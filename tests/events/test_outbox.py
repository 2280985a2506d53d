"""The outbox: events commit with the change; handlers run once, failures are retried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from fangkong.area import service as area_service
from fangkong.area.schemas import AreaCreate
from fangkong.auth.actor import Actor
from fangkong.events import service as events
from fangkong.events.models import DomainEvent, EventHandling

CALLS: list[int] = []


@pytest.fixture
def counting_handler() -> Iterator[None]:
    CALLS.clear()

    @events.handler("test.counter", "area.created")
    def _count(session: Any, event: DomainEvent) -> None:
        CALLS.append(event.id)
        session.add(
            DomainEvent(
                type="test.derived", aggregate_type="area", aggregate_id=event.aggregate_id, payload={}
            )
        )

    yield
    events.unregister("test.counter")


def test_event_is_part_of_the_transaction(factory: Any, areas: Any, system: Actor) -> None:
    with factory() as s:
        area_service.create_local(
            session=s, actor=system, data=AreaCreate(parent_code="510104021", name="甲")
        )
        s.rollback()
    with factory() as s:
        assert s.scalars(select(DomainEvent)).all() == []
        area_service.create_local(
            session=s, actor=system, data=AreaCreate(parent_code="510104021", name="甲")
        )
        s.commit()
        assert [e.type for e in s.scalars(select(DomainEvent))] == ["area.created"]


def test_handler_runs_exactly_once(factory: Any, areas: Any, system: Actor, counting_handler: None) -> None:
    with factory.begin() as s:
        for name in ("甲", "乙"):
            area_service.create_local(
                session=s, actor=system, data=AreaCreate(parent_code="510104021", name=name)
            )
    assert events.run_pending(factory) == 2
    assert events.run_pending(factory) == 0
    assert len(CALLS) == 2
    with factory() as s:
        assert len(s.scalars(select(DomainEvent).where(DomainEvent.type == "test.derived")).all()) == 2
        assert {h.status for h in s.scalars(select(EventHandling))} == {"done"}


def test_failing_handler_rolls_back_and_retries(factory: Any, areas: Any, system: Actor) -> None:
    attempts: list[int] = []

    @events.handler("test.flaky", "area.created")
    def _flaky(session: Any, event: DomainEvent) -> None:
        attempts.append(event.id)
        session.add(DomainEvent(type="test.partial", aggregate_type="x", aggregate_id="1", payload={}))
        if len(attempts) < 3:
            raise RuntimeError("downstream unavailable")

    try:
        with factory.begin() as s:
            area_service.create_local(
                session=s, actor=system, data=AreaCreate(parent_code="510104021", name="丙")
            )
        events.run_pending(factory)
        with factory() as s:
            row = s.scalar(select(EventHandling))
            assert (row.status, row.attempts) == ("failed", 1) and "downstream unavailable" in row.last_error
            assert s.scalars(select(DomainEvent).where(DomainEvent.type == "test.partial")).all() == []
        events.run_pending(factory)
        events.run_pending(factory)
        with factory() as s:
            row = s.scalar(select(EventHandling))
            assert (row.status, row.attempts, row.last_error) == ("done", 3, None)
            assert len(s.scalars(select(DomainEvent).where(DomainEvent.type == "test.partial")).all()) == 1
        assert events.run_pending(factory) == 0
    finally:
        events.unregister("test.flaky")


def test_gives_up_after_max_attempts(factory: Any, areas: Any, system: Actor) -> None:
    @events.handler("test.broken", "area.created")
    def _broken(session: Any, event: DomainEvent) -> None:
        raise ValueError("always")

    try:
        with factory.begin() as s:
            area_service.create_local(
                session=s, actor=system, data=AreaCreate(parent_code="510104021", name="丁")
            )
        for _ in range(events.MAX_ATTEMPTS + 2):
            events.run_pending(factory)
        with factory() as s:
            row = s.scalar(select(EventHandling))
            assert (row.status, row.attempts) == ("failed", events.MAX_ATTEMPTS)
    finally:
        events.unregister("test.broken")


def test_in_process_worker(factory: Any, areas: Any, system: Actor, counting_handler: None) -> None:
    import time

    worker = events.InProcessWorker(factory, interval=0.05)
    worker.start()
    try:
        with factory.begin() as s:
            area_service.create_local(
                session=s, actor=system, data=AreaCreate(parent_code="510104021", name="戊")
            )
        deadline = time.monotonic() + 10
        while not CALLS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(CALLS) == 1
