"""Shared create/read/update/delete/search for simple registry entities (venues, units).

Each operation authorises, checks references, writes the audit row and the domain event in
the caller's transaction, and never commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.db.base import Base
from fangkong.errors import Conflict, ErrorDetail, Invalid, NotFound
from fangkong.events import service as events

M = TypeVar("M", bound=Base)
MAX_PAGE = 500


@dataclass(frozen=True)
class Entity:
    model: type[Any]
    name: str  # resource type in audit rows and events: "place", "unit"
    read_action: str
    manage_action: str
    fields: tuple[str, ...]
    unique: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Extra reference checks: returns problems for the given values.
    check: Callable[[Session, dict[str, Any]], list[ErrorDetail]] | None = None


def within_area(column: Any, code: str, *, field: str = "area_code") -> ColumnElement[bool]:
    """`column` lies in the subtree of area `code` (any written form), as an index range."""
    from sqlalchemy import and_

    from fangkong.area.codes import normalize, subtree_bounds

    low, high = subtree_bounds(normalize(code, field=field))
    if high is None:
        return column >= low  # type: ignore[no-any-return]
    return and_(column >= low, column < high)


def refuse_nulls(model: Any, given: dict[str, Any]) -> None:
    """An update may not set a required column to null: say which fields, don't crash."""
    table = model.__table__
    empty = [k for k, v in given.items() if v is None and k in table.c and not table.c[k].nullable]
    if empty:
        raise Invalid("invalid update", [ErrorDetail(k, "cannot be empty") for k in empty])


def snapshot(entity: Entity, obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in entity.fields}


def get(entity: Entity, *, session: Session, actor: Actor, ident: int, manage: bool = False) -> Any:
    obj = session.get(entity.model, ident)
    if obj is None:
        raise NotFound(f"{entity.name} {ident} not found")
    authorize(actor, entity.manage_action if manage else entity.read_action, obj)
    return obj


def _validate(
    entity: Entity, session: Session, actor: Actor, values: dict[str, Any], own_id: int | None
) -> None:
    problems: list[ErrorDetail] = []
    code = values.get("area_code")
    if code is not None:
        if session.get(Area, code) is None:
            problems.append(ErrorDetail("area_code", "unknown area code", code))
        elif actor.area_code and not code.startswith(actor.area_code):
            problems.append(ErrorDetail("area_code", f"outside your jurisdiction ({actor.area_code})", code))
    if entity.check is not None:
        problems.extend(entity.check(session, values))
    if problems:
        raise Invalid(f"invalid {entity.name}", problems)
    for field in entity.unique:
        value = values.get(field)
        if value is None:
            continue
        other = session.scalar(select(entity.model.id).where(getattr(entity.model, field) == value))
        if other is not None and other != own_id:
            raise Conflict(
                f"{field} {value} is already used by {entity.name} {other}",
                [ErrorDetail(field, "already used", value)],
            )


def create(
    entity: Entity, *, session: Session, actor: Actor, data: BaseModel, defaults: dict[str, Any] | None = None
) -> Any:
    authorize(actor, entity.manage_action)
    values = {**(defaults or {}), **data.model_dump(exclude_none=True)}
    _validate(entity, session, actor, values, None)
    obj = entity.model(**{k: v for k, v in values.items() if k in entity.fields})
    session.add(obj)
    session.flush()
    audit.record(
        session,
        actor,
        f"{entity.name}.create",
        entity.name,
        obj.id,
        after=snapshot(entity, obj),
        area_code=obj.area_code,
    )
    events.emit(session, f"{entity.name}.created", entity.name, obj.id, {}, actor=actor)
    return obj


def update(entity: Entity, *, session: Session, actor: Actor, ident: int, data: BaseModel) -> Any:
    obj = get(entity, session=session, actor=actor, ident=ident, manage=True)
    given = data.model_dump(exclude_unset=True)
    refuse_nulls(entity.model, given)
    _validate(entity, session, actor, given, obj.id)
    before = snapshot(entity, obj)
    for key, value in given.items():
        setattr(obj, key, value)
    session.flush()
    old, new = audit.changes(before, snapshot(entity, obj))
    if new:
        audit.record(
            session,
            actor,
            f"{entity.name}.update",
            entity.name,
            obj.id,
            before=old,
            after=new,
            area_code=obj.area_code,
        )
        events.emit(
            session, f"{entity.name}.updated", entity.name, obj.id, {"fields": sorted(new)}, actor=actor
        )
    return obj


def delete(entity: Entity, *, session: Session, actor: Actor, ident: int) -> None:
    obj = get(entity, session=session, actor=actor, ident=ident, manage=True)
    before = snapshot(entity, obj)
    try:
        with session.begin_nested():  # keeps the outer transaction usable if a key still points here
            session.delete(obj)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{entity.name} {ident} is still referenced; remove the references first") from None
    audit.record(
        session,
        actor,
        f"{entity.name}.delete",
        entity.name,
        ident,
        before=before,
        area_code=before.get("area_code"),
    )
    events.emit(session, f"{entity.name}.deleted", entity.name, ident, {}, actor=actor)


def conditions(
    entity: Entity,
    actor: Actor,
    *,
    q: str | None = None,
    category: str | None = None,
    area_code: str | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a search (and of the matching export): the actor's
    jurisdiction, name contains `q`, one category, an area subtree."""
    model = entity.model
    conds = [jurisdiction_filter(actor, model.area_code)]
    if q and q.strip():
        conds.append(model.name.contains(q.strip(), autoescape=True))
    if category:
        if category not in entity.categories:
            raise Invalid("unknown category", [ErrorDetail("category", "unknown category", category)])
        conds.append(model.category == category)
    if area_code:
        conds.append(within_area(model.area_code, area_code))
    return conds


def search(
    entity: Entity,
    *,
    session: Session,
    actor: Actor,
    q: str | None = None,
    category: str | None = None,
    area_code: str | None = None,
    filters: Sequence[ColumnElement[bool]] = (),
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Any], int | None]:
    """Keyset-paginated search in the actor's jurisdiction: name contains `q`, one
    category, an area subtree, plus any extra filters."""
    authorize(actor, entity.read_action)
    limit = max(1, min(limit, MAX_PAGE))
    model = entity.model
    conds = [*conditions(entity, actor, q=q, category=category, area_code=area_code), *filters]
    stmt = select(model).where(*conds).order_by(model.id)
    if after is not None:
        stmt = stmt.where(model.id > after)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
