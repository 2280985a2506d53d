"""Server-rendered pages, on the same services as the API."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.api.deps import DbSession, client_address
from fangkong.area import service as areas
from fangkong.auth import service as auth
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import can, jurisdiction_filter
from fangkong.errors import FangkongError
from fangkong.i18n import pick_language, t
from fangkong.person import service as persons
from fangkong.person.models import Person
from fangkong.place.models import Place
from fangkong.unit.models import Unit
from fangkong.web import case_pages, nat_pages, nat_ship_pages, policy_pages, registry_pages
from fangkong.web.guard import LoginRequired, check_csrf, safe_next, web_actor
from fangkong.web.pages import language, render
from fangkong.web.session import (
    COOKIE,
    LANG_COOKIE,
    PRELOGIN_COOKIE,
    check_prelogin,
    prelogin_token,
    sign_cookie,
    unsign_cookie,
)

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    nonce = secrets.token_urlsafe(16)
    settings = request.app.state.settings
    resp = render(
        request,
        "login.html",
        None,
        csrf_token=prelogin_token(settings, nonce),
        next=safe_next(next),
        error=None,
        username=None,
    )
    resp.set_cookie(PRELOGIN_COOKIE, nonce, httponly=True, samesite="lax", max_age=3600)
    return resp


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    settings = request.app.state.settings
    lang = language(request)
    if not check_prelogin(settings, request.cookies.get(PRELOGIN_COOKIE), csrf_token):
        return _login_again(request, t("login.expired", lang), username, next)
    try:
        token, _row, _user = auth.login(
            session=session,
            settings=settings,
            username=username,
            password=password,
            kind="web",
            client=client_address(request),
            limiter=request.app.state.login_limiter,
        )
    except FangkongError as exc:
        session.commit()  # keep the failure count and its audit row
        return _login_again(request, exc.message, username, next, status=exc.status)
    resp = RedirectResponse(safe_next(next), status_code=303)
    resp.set_cookie(
        COOKIE,
        sign_cookie(settings, token),
        httponly=True,
        samesite="lax",
        max_age=settings.web_session_hours * 3600,
        secure=settings.env == "prod",
    )
    resp.delete_cookie(PRELOGIN_COOKIE)
    return resp


def _login_again(request: Request, error: str, username: str, next_: str, status: int = 400) -> Response:
    nonce = secrets.token_urlsafe(16)
    resp = render(
        request,
        "login.html",
        None,
        status=status,
        csrf_token=prelogin_token(request.app.state.settings, nonce),
        next=safe_next(next_),
        error=error,
        username=username,
    )
    resp.set_cookie(PRELOGIN_COOKIE, nonce, httponly=True, samesite="lax", max_age=3600)
    return resp


@router.post("/logout")
def logout(
    request: Request, session: DbSession, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    raw = unsign_cookie(request.app.state.settings, request.cookies.get(COOKIE, ""))
    if raw:
        auth.logout(session=session, token=raw)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/lang")
def switch_language(to: str = "zh-CN", next: str = "/") -> Response:
    resp = RedirectResponse(safe_next(next), status_code=303)
    resp.set_cookie(LANG_COOKIE, pick_language(to), max_age=365 * 86400, samesite="lax")
    return resp


# ---------------------------------------------------------------- landing page per role

_LINKS: dict[str, list[tuple[str, str, str]]] = {
    # role -> (label, hint, href)
    "commander": [
        ("nav.nat", "home.hint.nat", "/nat/rounds"),
        ("nav.persons", "home.hint.persons", "/persons"),
        ("nav.areas", "home.hint.areas", "/areas"),
        ("nav.places", "home.hint.places", "/places"),
        ("nav.units", "home.hint.units", "/units"),
    ],
    "epidemiologist": [
        ("nav.persons", "home.hint.persons_pii", "/persons"),
        ("nav.places", "home.hint.places", "/places"),
    ],
    "tracer": [
        ("nav.persons", "home.hint.persons_pii", "/persons"),
        ("nav.places", "home.hint.places", "/places"),
    ],
    "community_worker": [
        ("nav.persons", "home.hint.persons_grid", "/persons"),
        ("nav.areas", "home.hint.areas", "/areas"),
        ("nav.places", "home.hint.places", "/places"),
    ],
    "checkpoint_staff": [
        ("nav.persons", "home.hint.persons", "/persons"),
        ("nav.places", "home.hint.places", "/places"),
    ],
    "sampler": [
        ("nav.nat_sample", "home.hint.nat_sample", "/nat/sample"),
        ("nav.persons", "home.hint.persons", "/persons"),
        ("nav.places", "home.hint.places", "/places"),
    ],
    "lab_staff": [
        ("nav.nat_lab", "home.hint.nat_lab", "/nat/lab"),
        ("nav.units", "home.hint.units", "/units"),
    ],
    "quarantine_manager": [
        ("nav.persons", "home.hint.persons_pii", "/persons"),
        ("nav.places", "home.hint.places", "/places"),
    ],
    "supply_officer": [
        ("nav.units", "home.hint.units", "/units"),
        ("nav.places", "home.hint.places", "/places"),
    ],
    "auditor": [("nav.audit", "home.hint.audit", "/audit"), ("nav.users", "home.hint.users", "/users")],
    "admin": [
        ("nav.users", "home.hint.users", "/users"),
        ("nav.areas", "home.hint.areas", "/areas"),
        ("nav.audit", "home.hint.audit", "/audit"),
    ],
    "resident": [("nav.my_nat", "home.hint.my_nat", "/me/nat")],
}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession) -> Response:
    actor = web_actor(request, session)
    seen: set[str] = set()
    links = []
    for role in sorted(actor.roles):
        for label_, hint, href in _LINKS.get(role, []):
            if href not in seen:
                seen.add(href)
                links.append({"label": label_, "hint": hint, "href": href})
    figures = []
    if can(actor, "person.read"):
        figures.append(
            {
                "key": "persons",
                "label": "home.figure.persons",
                "href": "/persons",
                "value": _count(session, Person, actor, Person.status == "active"),
            }
        )
    if can(actor, "place.read"):
        figures.append(
            {
                "key": "places",
                "label": "home.figure.places",
                "href": "/places",
                "value": _count(session, Place, actor),
            }
        )
    if can(actor, "unit.read"):
        figures.append(
            {
                "key": "units",
                "label": "home.figure.units",
                "href": "/units",
                "value": _count(session, Unit, actor),
            }
        )
    if can(actor, "area.read"):
        figures.append(
            {
                "key": "areas",
                "label": "home.figure.areas",
                "href": "/areas",
                "value": areas.in_jurisdiction_count(session=session, actor=actor),
            }
        )
    own = None
    area_names: dict[str, str] = {}
    if actor.person_id is not None and "resident" in actor.roles:
        own = persons.read(session=session, actor=actor, person_id=actor.person_id)
        area_names = {own.area_code: areas.full_name(session=session, code=own.area_code)}
    jname = (
        areas.full_name(session=session, code=actor.area_code)
        if actor.area_code
        else t("home.nationwide", language(request, actor))
    )
    return render(
        request,
        "home.html",
        actor,
        figures=figures,
        links=links,
        own=own,
        area_names=area_names,
        jurisdiction_name=jname,
    )


def _count(session: Session, model: Any, actor: Actor, *conds: Any) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(model).where(jurisdiction_filter(actor, model.area_code), *conds)
        )
        or 0
    )


# ---------------------------------------------------------------- mounting


def mount(app: FastAPI) -> None:
    from importlib import resources

    static = resources.files("fangkong.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(router)
    app.include_router(registry_pages.router)
    app.include_router(policy_pages.router)
    app.include_router(case_pages.router)
    app.include_router(nat_pages.router)
    app.include_router(nat_ship_pages.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)
