"""/api/v1/audit: the audit trail (auditors and administrators)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.audit import service as audit
from fangkong.privacy import mask_record
from fangkong.types import MAX_ID

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    action: str
    resource_type: str
    resource_id: str | None
    area_code: str | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_before: int | None


@router.get("/audit", response_model=AuditPage)
def list_audit(
    session: DbSession,
    actor: CurrentActor,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="entries older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    user: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    resource_type: Annotated[str | None, Query(max_length=32)] = None,
    resource_id: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    rows = audit.list_entries(
        session=session,
        actor=actor,
        after_id=before,
        limit=limit + 1,
        user=user,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
    )
    items = [
        AuditOut.model_validate(r, from_attributes=True).model_copy(
            update={
                "before": mask_record(r.before, r.resource_type),
                "after": mask_record(r.after, r.resource_type),
            }
        )
        for r in rows[:limit]
    ]
    return AuditPage(items=items, next_before=items[-1].id if len(rows) > limit else None)
