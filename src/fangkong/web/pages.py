"""Rendering: the Jinja environment, the page context (language, actor, navigation, CSRF)
and the error page."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from fangkong.auth.actor import Actor
from fangkong.auth.authorize import can
from fangkong.errors import FangkongError
from fangkong.i18n import label, pick_language, t
from fangkong.web.session import LANG_COOKIE


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    action: str | None
    active: bool = False


NAV = (
    NavItem("nav.home", "/", None),
    NavItem("nav.persons", "/persons", "person.read"),
    NavItem("nav.cases", "/cases", "case.read"),
    NavItem("nav.chains", "/chains", "chain.read"),
    NavItem("nav.tasks", "/tasks", "task.read"),
    NavItem("nav.nat", "/nat/rounds", "nat.read"),
    NavItem("nav.nat_sample", "/nat/sample", "nat.sample"),
    NavItem("nav.nat_lab", "/nat/lab", "nat.lab"),
    NavItem("nav.my_nat", "/me/nat", "nat.own"),
    NavItem("nav.areas", "/areas", "area.read"),
    NavItem("nav.places", "/places", "place.read"),
    NavItem("nav.units", "/units", "unit.read"),
    NavItem("nav.policy", "/policy", "policy.read"),
    NavItem("nav.users", "/users", "user.read"),
    NavItem("nav.audit", "/audit", "audit.read"),
)


@functools.cache
def templates() -> Jinja2Templates:
    from importlib import resources

    t = Jinja2Templates(directory=str(resources.files("fangkong.web") / "templates"))
    t.env.filters["when"] = when
    return t


def when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored instant (UTC; naive values from SQLite are UTC) in the city's time zone."""
    if value is None:
        return ""
    from fangkong.config import get_settings

    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(get_settings().tz).strftime(fmt)


def language(request: Request, actor: Actor | None = None) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie:
        return pick_language(cookie)
    if actor is not None and actor.language:
        return pick_language(actor.language)
    default: str = request.app.state.settings.language
    return default


def render(
    request: Request, template: str, actor: Actor | None, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = language(request, actor)
    path = request.url.path
    nav = [
        NavItem(
            n.label, n.href, n.action, active=(n.href == path or (n.href != "/" and path.startswith(n.href)))
        )
        for n in NAV
        if actor is not None and (n.action is None or can(actor, n.action))
    ]
    ctx: dict[str, Any] = {
        "lang": lang,
        "t": lambda key, **kw: t(key, lang, **kw),
        "label": lambda enum, code: label(enum, code, lang),
        "actor": actor,
        "actor_roles": " ".join(t(f"role.{r}", lang) for r in sorted(actor.roles)) if actor else "",
        "nav": nav,
        "csrf_token": actor.session_csrf if actor else context.pop("csrf_token", ""),
        "flashes": context.pop("flashes", []),
        "area_names": context.pop("area_names", {}),
        **context,
    }
    return templates().TemplateResponse(request, template, ctx, status_code=status)


def error_page(request: Request, exc: FangkongError, actor: Actor | None = None) -> HTMLResponse:
    return render(
        request,
        "error.html",
        actor,
        status=exc.status,
        message=exc.message,
        details=exc.details,
        status_code=exc.status,
        csrf_token="",
    )
