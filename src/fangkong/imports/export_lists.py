"""The export-only lists: areas (the division tree) and the audit trail.

Both plug into `fangkong.imports.export.export` like the registry lists: a query whose first
column is the keyset key, and a function turning a chunk of rows into cells.

- Areas: code, name, level, parent code, local, coordinates; filters `q` (name contains),
  `area_code` (the subtree) and `level`; limited to the actor's jurisdiction.
- Audit trail: id, local time, account, action, resource, area, reason, and the before and
  after snapshots as JSON text, always masked with `fangkong.privacy.mask_record`; filters
  `user`, `action`, `resource_type`, `resource_id`, `since` and `until` (local dates).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong import crud
from fangkong.area.codes import LEVELS
from fangkong.area.models import Area
from fangkong.audit.models import AuditEntry
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import jurisdiction_filter
from fangkong.config import get_settings
from fangkong.errors import invalid
from fangkong.imports import columns as cols
from fangkong.privacy import mask_record

if TYPE_CHECKING:
    from fangkong.imports.export import Cells, ExportFilters, Query

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def areas(actor: Actor, f: ExportFilters) -> tuple[Query, Cells]:
    stmt = select(Area.code, Area.name, Area.level, Area.parent_code, Area.local, Area.lon, Area.lat).where(
        jurisdiction_filter(actor, Area.code)
    )
    if f.q and f.q.strip():
        stmt = stmt.where(Area.name.contains(f.q.strip(), autoescape=True))
    if f.area_code:
        stmt = stmt.where(crud.within_area(Area.code, f.area_code))
    if f.level:
        if f.level not in LEVELS:
            raise invalid("level", f"unknown level; expected one of {', '.join(LEVELS)}", f.level)
        stmt = stmt.where(Area.level == f.level)

    def cells(chunk: Sequence[Any], session: Session, masked: bool, lang: str) -> list[list[Any]]:
        return [
            [code, name, cols.label_of("area_level", level, lang), parent, cols.yes_no(local, lang), lon, lat]
            for code, name, level, parent, local, lon, lat in chunk
        ]

    return stmt, cells


def local_day_start(value: str, field: str, *, next_day: bool = False) -> dt.datetime:
    """The start (UTC) of a local date written YYYY-MM-DD, or of the day after it."""
    text = value.strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        day = dt.date.fromisoformat(text)
        if next_day:
            day += dt.timedelta(days=1)
        start = dt.datetime.combine(day, dt.time(), tzinfo=get_settings().tz)
        return start.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise invalid(field, "expected a date written YYYY-MM-DD", value) from None


def audit_trail(actor: Actor, f: ExportFilters) -> tuple[Query, Cells]:
    e = AuditEntry
    stmt = select(
        e.id,
        e.at,
        e.actor_name,
        e.action,
        e.resource_type,
        e.resource_id,
        e.area_code,
        e.reason,
        e.before,
        e.after,
    )
    for column, value in (
        (e.actor_name, f.user),
        (e.action, f.action),
        (e.resource_type, f.resource_type),
        (e.resource_id, f.resource_id),
    ):
        if value:
            stmt = stmt.where(column == value.strip())
    since = local_day_start(f.since, "since") if f.since else None
    until = local_day_start(f.until, "until", next_day=True) if f.until else None
    if since is not None and until is not None and until <= since:
        raise invalid("until", f"must not be before since ({f.since})", f.until)
    if since is not None:
        stmt = stmt.where(e.at >= since)
    if until is not None:
        stmt = stmt.where(e.at < until)
    zone = get_settings().tz

    def cells(chunk: Sequence[Any], session: Session, masked: bool, lang: str) -> list[list[Any]]:
        return [
            [
                ident,
                at.astimezone(zone).isoformat(timespec="seconds") if at else None,
                name,
                action,
                rtype,
                rid,
                area,
                reason,
                _json(mask_record(before, rtype)),
                _json(mask_record(after, rtype)),
            ]
            for ident, at, name, action, rtype, rid, area, reason, before, after in chunk
        ]

    return stmt, cells


def _json(value: dict[str, object] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
