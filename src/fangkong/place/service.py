"""Venues: CRUD, search, and venue codes (场所码)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.orm import Session

from fangkong import crud
from fangkong.auth.actor import Actor
from fangkong.errors import ErrorDetail
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.place.models import Place
from fangkong.place.schemas import PlaceCreate, PlaceUpdate
from fangkong.unit.models import Unit

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_venue_code() -> str:
    """A random, unguessable venue code: `V` + 11 characters (no 0/O/1/I/L)."""
    return "V" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(11))


def _check(session: Session, values: dict[str, Any]) -> list[ErrorDetail]:
    unit_id = values.get("responsible_unit_id")
    if unit_id is not None and session.get(Unit, unit_id) is None:
        return [ErrorDetail("responsible_unit_id", "no such unit", unit_id)]
    return []


PLACE = crud.Entity(
    model=Place,
    name="place",
    read_action="place.read",
    manage_action="place.manage",
    fields=(
        "name",
        "category",
        "area_code",
        "address",
        "lon",
        "lat",
        "capacity",
        "responsible_unit_id",
        "venue_code",
    ),
    unique=("venue_code",),
    categories=PLACE_CATEGORIES,
    check=_check,
)


def create(*, session: Session, actor: Actor, data: PlaceCreate) -> Place:
    place: Place = crud.create(
        PLACE, session=session, actor=actor, data=data, defaults={"venue_code": new_venue_code()}
    )
    return place


def update(*, session: Session, actor: Actor, place_id: int, data: PlaceUpdate) -> Place:
    place: Place = crud.update(PLACE, session=session, actor=actor, ident=place_id, data=data)
    return place


def delete(*, session: Session, actor: Actor, place_id: int) -> None:
    crud.delete(PLACE, session=session, actor=actor, ident=place_id)


def get(*, session: Session, actor: Actor, place_id: int) -> Place:
    place: Place = crud.get(PLACE, session=session, actor=actor, ident=place_id)
    return place


def search(
    *,
    session: Session,
    actor: Actor,
    q: str | None = None,
    category: str | None = None,
    area_code: str | None = None,
    venue_code: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Place], int | None]:
    extra = [Place.venue_code == venue_code.strip().upper()] if venue_code else []
    return crud.search(
        PLACE,
        session=session,
        actor=actor,
        q=q,
        category=category,
        area_code=area_code,
        filters=extra,
        after=after,
        limit=limit,
    )
