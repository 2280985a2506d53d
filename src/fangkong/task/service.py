"""Tasks: create (idempotent by a dedupe key), list for an area, complete, find the overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, NotFound, invalid
from fangkong.events import service as events
from fangkong.task.models import Task

KINDS = ("locate_control", "investigation", "supervision", "retest", "transfer", "other")
PRIORITIES = ("urgent", "high", "normal")


def create(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    title: str,
    area_code: str,
    due_at: dt.datetime,
    person_id: int | None = None,
    case_id: int | None = None,
    parent_id: int | None = None,
    role: str | None = None,
    priority: str = "normal",
    dedupe_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> tuple[Task, bool]:
    """Create a task, or return the one already made for `dedupe_key` (flows re-run safely).
    Returns (task, created)."""
    if kind not in KINDS:
        raise invalid("kind", f"unknown task kind; expected one of {', '.join(KINDS)}", kind)
    if priority not in PRIORITIES:
        raise invalid("priority", f"expected one of {', '.join(PRIORITIES)}", priority)
    if dedupe_key is not None:
        existing = session.scalar(select(Task).where(Task.dedupe_key == dedupe_key))
        if existing is not None:
            return existing, False
    task = Task(
        kind=kind,
        title=title[:300],
        area_code=area_code,
        due_at=due_at,
        person_id=person_id,
        case_id=case_id,
        parent_id=parent_id,
        role=role,
        priority=priority,
        dedupe_key=dedupe_key,
        data=data or {},
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        actor,
        "task.create",
        "task",
        task.id,
        after={
            "kind": kind,
            "title": task.title,
            "area_code": area_code,
            "due_at": due_at.isoformat(),
            "person_id": person_id,
            "case_id": case_id,
        },
        area_code=area_code,
    )
    events.emit(session, "task.created", "task", task.id, {"kind": kind, "area_code": area_code}, actor=actor)
    return task, True


def create_many(session: Session, actor: Actor, specs: list[dict[str, Any]]) -> list[tuple[Task, bool]]:
    """`create` for many tasks at once (each spec: create's keyword arguments, with a
    `dedupe_key`): one query for the keys already used, one flush for the new tasks."""
    keys = [spec["dedupe_key"] for spec in specs]
    if any(k is None for k in keys):
        raise invalid("dedupe_key", "create_many needs a dedupe key per task")
    for spec in specs:
        if spec["kind"] not in KINDS:
            raise invalid("kind", f"unknown task kind; expected one of {', '.join(KINDS)}", spec["kind"])
        if spec.get("priority", "normal") not in PRIORITIES:
            raise invalid("priority", f"expected one of {', '.join(PRIORITIES)}", spec.get("priority"))
    existing = {t.dedupe_key: t for t in session.scalars(select(Task).where(Task.dedupe_key.in_(keys)))}
    out: list[tuple[Task, bool]] = []
    made: list[Task] = []
    for spec in specs:
        if spec["dedupe_key"] in existing:
            out.append((existing[spec["dedupe_key"]], False))
            continue
        task = Task(**{**spec, "title": spec["title"][:300], "data": spec.get("data") or {}})
        existing[spec["dedupe_key"]] = task
        made.append(task)
        out.append((task, True))
    if made:
        session.add_all(made)
        session.flush()
        for task in made:
            audit.record(
                session,
                actor,
                "task.create",
                "task",
                task.id,
                after={
                    "kind": task.kind,
                    "title": task.title,
                    "area_code": task.area_code,
                    "due_at": task.due_at.isoformat(),
                    "person_id": task.person_id,
                    "case_id": task.case_id,
                },
                area_code=task.area_code,
            )
            events.emit(
                session,
                "task.created",
                "task",
                task.id,
                {"kind": task.kind, "area_code": task.area_code},
                actor=actor,
            )
    return out


def get(session: Session, actor: Actor, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    authorize(actor, "task.read", task)
    return task


def complete(session: Session, actor: Actor, task_id: int, result: str | None = None) -> Task:
    task = get(session, actor, task_id)
    authorize(actor, "task.update", task)
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}")
    task.status, task.done_at, task.done_by, task.result = "done", utcnow(), actor.username, result
    audit.record(
        session, actor, "task.done", "task", task.id, after={"result": result}, area_code=task.area_code
    )
    events.emit(session, "task.done", "task", task.id, {"kind": task.kind}, actor=actor)
    return task


def cancel(session: Session, actor: Actor, task_id: int, reason: str) -> Task:
    task = get(session, actor, task_id)
    authorize(actor, "task.update", task)
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}")
    task.status, task.result, task.done_at, task.done_by = "cancelled", reason, utcnow(), actor.username
    audit.record(session, actor, "task.cancel", "task", task.id, reason=reason, area_code=task.area_code)
    return task


def search(
    session: Session,
    actor: Actor,
    *,
    status: str | None = "open",
    kind: str | None = None,
    area_code: str | None = None,
    case_id: int | None = None,
    overdue_at: dt.datetime | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[Task], int | None]:
    """Tasks of the actor's jurisdiction, soonest due first within the page (keyset by id)."""
    authorize(actor, "task.read")
    limit = max(1, min(limit, 500))
    stmt = select(Task).where(jurisdiction_filter(actor, Task.area_code)).order_by(Task.id)
    if status:
        stmt = stmt.where(Task.status == status)
    if kind:
        stmt = stmt.where(Task.kind == kind)
    if area_code:
        from fangkong.crud import within_area

        stmt = stmt.where(within_area(Task.area_code, area_code))
    if case_id is not None:
        stmt = stmt.where(Task.case_id == case_id)
    if overdue_at is not None:
        stmt = stmt.where(Task.due_at < overdue_at, Task.status == "open")
    if after is not None:
        stmt = stmt.where(Task.id > after)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def supervise_overdue(session: Session, actor: Actor, now: dt.datetime) -> int:
    """Open one supervision task (督办) per overdue open task, for the area above it. Idempotent."""
    from fangkong.area.codes import parent_of

    made = 0
    overdue = session.scalars(
        select(Task).where(Task.status == "open", Task.due_at < now, Task.kind != "supervision")
    )
    for task in overdue:
        above = parent_of(task.area_code) or task.area_code
        _t, created = create(
            session,
            actor,
            kind="supervision",
            title=f"督办：{task.title}",
            area_code=above,
            due_at=now + dt.timedelta(hours=2),
            parent_id=task.id,
            case_id=task.case_id,
            person_id=task.person_id,
            priority="urgent",
            dedupe_key=f"supervise:{task.id}",
            data={"overdue_task": task.id, "was_due": task.due_at.isoformat()},
        )
        made += int(created)
    return made
