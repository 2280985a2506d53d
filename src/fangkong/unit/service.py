"""Units: CRUD and search."""

from __future__ import annotations

from sqlalchemy.orm import Session

from fangkong import crud
from fangkong.auth.actor import Actor
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.unit.models import Unit
from fangkong.unit.schemas import UnitCreate, UnitUpdate

UNIT = crud.Entity(
    model=Unit,
    name="unit",
    read_action="unit.read",
    manage_action="unit.manage",
    fields=(
        "name",
        "category",
        "area_code",
        "address",
        "lon",
        "lat",
        "credit_code",
        "contact_name",
        "contact_phone",
    ),
    unique=("credit_code",),
    categories=UNIT_CATEGORIES,
)


def create(*, session: Session, actor: Actor, data: UnitCreate) -> Unit:
    unit: Unit = crud.create(UNIT, session=session, actor=actor, data=data)
    return unit


def update(*, session: Session, actor: Actor, unit_id: int, data: UnitUpdate) -> Unit:
    unit: Unit = crud.update(UNIT, session=session, actor=actor, ident=unit_id, data=data)
    return unit


def delete(*, session: Session, actor: Actor, unit_id: int) -> None:
    crud.delete(UNIT, session=session, actor=actor, ident=unit_id)


def get(*, session: Session, actor: Actor, unit_id: int) -> Unit:
    unit: Unit = crud.get(UNIT, session=session, actor=actor, ident=unit_id)
    return unit


def search(
    *,
    session: Session,
    actor: Actor,
    q: str | None = None,
    category: str | None = None,
    area_code: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Unit], int | None]:
    return crud.search(
        UNIT,
        session=session,
        actor=actor,
        q=q,
        category=category,
        area_code=area_code,
        after=after,
        limit=limit,
    )
