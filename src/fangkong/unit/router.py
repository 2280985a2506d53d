"""/api/v1/units."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.types import MAX_ID
from fangkong.unit import service as units
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.unit.schemas import UnitCreate, UnitOut, UnitPage, UnitUpdate

router = APIRouter(tags=["units"])
UnitId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/units", response_model=UnitPage)
def search_units(
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    category: Annotated[
        str | None, Query(max_length=32, json_schema_extra={"enum": list(UNIT_CATEGORIES)})
    ] = None,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> UnitPage:
    rows, next_after = units.search(
        session=session, actor=actor, q=q, category=category, area_code=area_code, after=after, limit=limit
    )
    return UnitPage(items=[UnitOut.model_validate(u) for u in rows], next_after=next_after)


@router.post("/units", response_model=UnitOut, status_code=201)
def create_unit(body: UnitCreate, session: DbSession, actor: CurrentActor) -> UnitOut:
    return UnitOut.model_validate(units.create(session=session, actor=actor, data=body))


@router.get("/units/{unit_id}", response_model=UnitOut)
def get_unit(unit_id: UnitId, session: DbSession, actor: CurrentActor) -> UnitOut:
    return UnitOut.model_validate(units.get(session=session, actor=actor, unit_id=unit_id))


@router.patch("/units/{unit_id}", response_model=UnitOut)
def update_unit(unit_id: UnitId, body: UnitUpdate, session: DbSession, actor: CurrentActor) -> UnitOut:
    return UnitOut.model_validate(units.update(session=session, actor=actor, unit_id=unit_id, data=body))


@router.delete("/units/{unit_id}", status_code=204)
def delete_unit(unit_id: UnitId, session: DbSession, actor: CurrentActor) -> None:
    units.delete(session=session, actor=actor, unit_id=unit_id)
