"""Writing and reading the audit trail. Writing happens in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit.models import AuditEntry
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize


def record(
    session: Session,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: Any = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    area_code: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor_name=actor.username,
        action=action,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        area_code=area_code,
        reason=reason,
        before=jsonable(before),
        after=jsonable(after),
    )
    session.add(entry)
    return entry


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, for compact audit rows."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def list_entries(
    *,
    session: Session,
    actor: Actor,
    after_id: int | None = None,
    limit: int = 50,
    user: str | None = None,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    since: dt.datetime | None = None,
) -> list[AuditEntry]:
    authorize(actor, "audit.read")
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if after_id is not None:
        q = q.where(AuditEntry.id < after_id)
    if user:
        q = q.where(AuditEntry.actor_name == user)
    if action:
        q = q.where(AuditEntry.action == action)
    if resource_type:
        q = q.where(AuditEntry.resource_type == resource_type)
    if resource_id:
        q = q.where(AuditEntry.resource_id == resource_id)
    if since:
        q = q.where(AuditEntry.at >= since)
    return list(session.scalars(q))


def jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)
