"""/api/v1/areas."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.area import service as areas
from fangkong.area.schemas import AreaCreate, AreaOut

router = APIRouter(tags=["areas"])
Code = Annotated[str, Query(max_length=15, pattern=r"^\d+$")]


@router.get("/areas", response_model=list[AreaOut])
def search_areas(
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[str | None, Query(max_length=50, description="name contains")] = None,
    level: Annotated[str | None, Query(max_length=12)] = None,
    within: Code | None = None,
    parent: Code | None = None,
    after: Annotated[str | None, Query(max_length=15, description="keyset cursor: last code seen")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AreaOut]:
    """Search by name / level / subtree; or `parent=` for the children of one area."""
    if parent is not None:
        rows = areas.children(session=session, actor=actor, code=parent)
    else:
        rows = areas.search(
            session=session, actor=actor, q=q, level=level, within=within, after=after, limit=limit
        )
    return [AreaOut.model_validate(a) for a in rows]


@router.get("/areas/{code}", response_model=AreaOut)
def get_area(code: str, session: DbSession, actor: CurrentActor) -> AreaOut:
    return AreaOut.model_validate(areas.visible(session=session, actor=actor, code=code))


@router.get("/areas/{code}/path", response_model=list[AreaOut])
def area_path(code: str, session: DbSession, actor: CurrentActor) -> list[AreaOut]:
    areas.visible(session=session, actor=actor, code=code)
    return [AreaOut.model_validate(a) for a in areas.path(session=session, code=code)]


@router.post("/areas", response_model=AreaOut, status_code=201)
def create_area(body: AreaCreate, session: DbSession, actor: CurrentActor) -> AreaOut:
    """Add a community under a township, or a grid under a community."""
    return AreaOut.model_validate(areas.create_local(session=session, actor=actor, data=body))
