"""The one authorisation function, and the jurisdiction filter for queries."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, true

from fangkong.area.codes import in_subtree, subtree_bounds
from fangkong.auth.actor import Actor
from fangkong.auth.roles import roles_for
from fangkong.errors import Forbidden


class HasArea(Protocol):
    area_code: Any


def authorize(actor: Actor, action: str, resource: Any = None) -> None:
    """Raise Forbidden unless `actor` may do `action` on `resource`.

    - the actor needs a role that the action's registry entry allows;
    - when the resource has an `area_code`, it must lie in the actor's jurisdiction;
    - a resident acting on a person may act only on their own record.
    """
    allowed = roles_for(action)
    if not (actor.roles & allowed):
        raise Forbidden(f"your role ({', '.join(sorted(actor.roles)) or 'none'}) may not perform {action}")
    if resource is None:
        return
    only_resident = "resident" in actor.roles and not (actor.roles - {"resident"})
    is_person = getattr(resource, "__tablename__", None) == "person"
    if only_resident and is_person and resource.id != actor.person_id:
        raise Forbidden("residents may only see their own record")
    code = _area_of(resource)
    if actor.area_code is not None and code is not None and not in_subtree(code, actor.area_code):
        raise Forbidden(f"{_describe(resource)} lies outside your jurisdiction ({actor.area_code})")


def can(actor: Actor, action: str, resource: Any = None) -> bool:
    try:
        authorize(actor, action, resource)
    except Forbidden:
        return False
    return True


def jurisdiction_filter(actor: Actor, column: Any) -> ColumnElement[bool]:
    """SQL condition limiting `column` (an area code column) to the actor's subtree.

    A range on the code, so it uses the index on every backend.
    """
    if actor.area_code is None:
        return true()
    low, high = subtree_bounds(actor.area_code)
    if high is None:
        return column >= low  # type: ignore[no-any-return]
    return and_(column >= low, column < high)


def _area_of(resource: Any) -> str | None:
    """The area a resource belongs to: its `area_code`, or an area's own code."""
    if getattr(resource, "__tablename__", None) == "area":
        return str(resource.code)
    code = getattr(resource, "area_code", None)
    return None if code is None else str(code)


def _describe(resource: Any) -> str:
    table = getattr(resource, "__tablename__", type(resource).__name__)
    ident = getattr(resource, "id", None) or getattr(resource, "code", None)
    return f"{table} {ident}" if ident is not None else str(table)
