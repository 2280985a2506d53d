"""/api/v1/places (venues)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.place import service as places
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.place.schemas import PlaceCreate, PlaceOut, PlacePage, PlaceUpdate
from fangkong.types import MAX_ID

router = APIRouter(tags=["places"])
PlaceId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/places", response_model=PlacePage)
def search_places(
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    category: Annotated[
        str | None, Query(max_length=32, json_schema_extra={"enum": list(PLACE_CATEGORIES)})
    ] = None,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
    venue_code: Annotated[str | None, Query(max_length=40)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PlacePage:
    rows, next_after = places.search(
        session=session,
        actor=actor,
        q=q,
        category=category,
        area_code=area_code,
        venue_code=venue_code,
        after=after,
        limit=limit,
    )
    return PlacePage(items=[PlaceOut.model_validate(p) for p in rows], next_after=next_after)


@router.post("/places", response_model=PlaceOut, status_code=201)
def create_place(body: PlaceCreate, session: DbSession, actor: CurrentActor) -> PlaceOut:
    """Register a venue; a venue code is issued when none is given."""
    return PlaceOut.model_validate(places.create(session=session, actor=actor, data=body))


@router.get("/places/{place_id}", response_model=PlaceOut)
def get_place(place_id: PlaceId, session: DbSession, actor: CurrentActor) -> PlaceOut:
    return PlaceOut.model_validate(places.get(session=session, actor=actor, place_id=place_id))


@router.patch("/places/{place_id}", response_model=PlaceOut)
def update_place(place_id: PlaceId, body: PlaceUpdate, session: DbSession, actor: CurrentActor) -> PlaceOut:
    return PlaceOut.model_validate(places.update(session=session, actor=actor, place_id=place_id, data=body))


@router.delete("/places/{place_id}", status_code=204)
def delete_place(place_id: PlaceId, session: DbSession, actor: CurrentActor) -> None:
    places.delete(session=session, actor=actor, place_id=place_id)
