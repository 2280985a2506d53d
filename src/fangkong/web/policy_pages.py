"""Policy pages: the profiles, the one in force, switching with a preview first; and a
person's categories, measures and the reasons for them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from fangkong.api.deps import DbSession
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, can
from fangkong.errors import PolicyError, invalid
from fangkong.measure import service as measures
from fangkong.measure.schemas import CategoryAssign
from fangkong.policy import loader
from fangkong.policy.schema import CATEGORIES
from fangkong.policy_profile import service as profiles
from fangkong.web.guard import check_csrf, web_actor
from fangkong.web.pages import render

router = APIRouter(include_in_schema=False)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid(name, "expected a date YYYY-MM-DD", value) from None


def _page(request: Request, session: Session, actor: Actor, **extra: Any) -> Response:
    authorize(actor, "policy.read")
    shipped = [loader.load_shipped(pid) for pid in loader.shipped_ids()]
    try:
        current = profiles.active(session, measures.local_day(_now()))
    except PolicyError:
        current = None
    return render(
        request,
        "policy.html",
        actor,
        shipped=shipped,
        current=current,
        history=profiles.history(session),
        can_manage=can(actor, "policy.manage"),
        **extra,
    )


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, session: DbSession) -> Response:
    return _page(request, session, web_actor(request, session))


@router.post("/policy/preview", response_class=HTMLResponse)
def policy_preview(
    request: Request,
    session: DbSession,
    profile_id: Annotated[str, Form(max_length=48)] = "",
    effective_from: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    authorize(actor, "policy.manage")
    loaded = loader.load_shipped(profile_id)
    start = _date(effective_from, "effective_from")
    preview = profiles.preview(session=session, actor=actor, loaded=loaded, as_of=_now())
    return _page(request, session, actor, preview=preview, chosen=loaded, effective_from=start.isoformat())


@router.post("/policy/activate")
def policy_activate(
    request: Request,
    session: DbSession,
    profile_id: Annotated[str, Form(max_length=48)] = "",
    effective_from: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    loaded = loader.load_shipped(profile_id)
    profiles.activate(
        session=session,
        actor=actor,
        loaded=loaded,
        source_text=Path(loaded.path).read_text("utf-8"),
        effective_from=_date(effective_from, "effective_from"),
        as_of=_now(),
        note=note or None,
    )
    return RedirectResponse("/policy", status_code=303)


def person_context(session: Session, actor: Actor, person_id: int) -> dict[str, Any]:
    """What the person page shows about measures (nothing when the role may not see them)."""
    if not can(actor, "measure.read"):
        return {}
    try:
        cats, ev = measures.explain(session=session, actor=actor, person_id=person_id)
    except PolicyError as exc:
        return {
            "policy_problem": exc.message,
            "categories_all": CATEGORIES,
            "can_assign": can(actor, "measure.assign"),
        }
    return {
        "explanation": ev,
        "person_categories": cats,
        "categories_all": CATEGORIES,
        "can_assign": can(actor, "measure.assign"),
    }


@router.post("/persons/{person_id}/categories")
def assign_category(
    request: Request,
    session: DbSession,
    person_id: int,
    category: Annotated[str, Form(max_length=32)] = "",
    clock_at: Annotated[str, Form(max_length=25)] = "",
    setting: Annotated[str, Form(max_length=16)] = "",
    place: Annotated[str, Form(max_length=200)] = "",
    source: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    from pydantic import ValidationError

    from fangkong.validation import invalid_from

    try:
        data = CategoryAssign.model_validate(
            {
                "category": category,
                "clock_at": clock_at,
                "setting": setting or None,
                "place": place or None,
                "source": source or None,
            }
        )
    except ValidationError as exc:
        raise invalid_from(exc, "invalid category") from None
    measures.assign(session=session, actor=actor, person_id=person_id, data=data)
    return RedirectResponse(f"/persons/{person_id}", status_code=303)
