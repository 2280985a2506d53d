"""Registry pages: persons, households, areas, venues, units, accounts, audit trail."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from fangkong.api.deps import DbSession
from fangkong.area import service as areas
from fangkong.audit import service as audit
from fangkong.auth import service as auth
from fangkong.auth.authorize import can
from fangkong.i18n import t
from fangkong.person import households, merge
from fangkong.person import service as persons
from fangkong.person.key_groups import KEY_GROUPS
from fangkong.place import service as places
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.types import MAX_ID
from fangkong.unit import service as units
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.web.guard import area_names, check_csrf, web_actor
from fangkong.web.pages import language, render

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- persons


@router.get("/persons", response_class=HTMLResponse)
def person_list(
    request: Request,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    id_number: Annotated[str | None, Query(max_length=64)] = None,
    phone: Annotated[str | None, Query(max_length=20)] = None,
    area_code: Annotated[str | None, Query(max_length=15)] = None,
    key_group: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    actor = web_actor(request, session)
    f = {
        "q": q or None,
        "id_number": id_number or None,
        "phone": phone or None,
        "area_code": area_code or None,
        "key_group": key_group or None,
    }
    rows, next_after = persons.search(
        session=session,
        actor=actor,
        after=after,
        limit=50,
        q=f["q"],
        id_number=f["id_number"],
        phone=f["phone"],
        area_code=f["area_code"],
        key_group=f["key_group"],
    )
    items = [persons.to_out(p) for p in rows]
    query = urlencode({k: v for k, v in f.items() if v})
    return render(
        request,
        "persons.html",
        actor,
        items=items,
        f=f,
        next_after=next_after,
        query=query,
        key_groups=KEY_GROUPS,
        can_export=can(actor, "person.export"),
        area_names=area_names(session, {p.area_code for p in items}),
    )


@router.get("/persons/{person_id}", response_class=HTMLResponse)
def person_page(request: Request, session: DbSession, person_id: int) -> Response:
    actor = web_actor(request, session)
    person = persons.read(session=session, actor=actor, person_id=person_id)
    dups = []
    if can(actor, "person.merge"):
        dups = [
            (persons.to_out(p), r)
            for p, r in merge.candidates(session=session, actor=actor, person_id=person_id)
        ]
    from fangkong.web.policy_pages import person_context

    return render(
        request,
        "person.html",
        actor,
        person=person,
        can_unmask=persons.can_unmask(actor),
        duplicates=dups,
        area_names={person.area_code: areas.full_name(session=session, code=person.area_code)},
        **person_context(session, actor, person_id),
    )


@router.post("/persons/{person_id}/unmask", response_class=HTMLResponse)
def person_unmask(
    request: Request,
    session: DbSession,
    person_id: int,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    person = persons.unmask(session=session, actor=actor, person_id=person_id, reason=reason)
    return render(
        request,
        "person.html",
        actor,
        person=person,
        can_unmask=False,
        duplicates=[],
        area_names={person.area_code: areas.full_name(session=session, code=person.area_code)},
    )


@router.get("/households/{household_id}", response_class=HTMLResponse)
def household_page(request: Request, session: DbSession, household_id: int) -> Response:
    actor = web_actor(request, session)
    hh = households.get(session=session, actor=actor, household_id=household_id)
    rows, _ = persons.search(session=session, actor=actor, household_id=hh.id, limit=100)
    items = [persons.to_out(p) for p in rows]
    return render(
        request,
        "persons.html",
        actor,
        items=items,
        f={},
        next_after=None,
        query="",
        key_groups=KEY_GROUPS,
        can_export=False,
        area_names=area_names(session, {p.area_code for p in items}),
    )


# ---------------------------------------------------------------- registry lists


def _link(href: str, text: Any) -> Markup:
    return Markup('<a href="{}">{}</a>').format(href, escape(text))


@router.get("/areas", response_class=HTMLResponse)
def area_list(
    request: Request,
    session: DbSession,
    parent: Annotated[str | None, Query(max_length=15)] = None,
    q: Annotated[str | None, Query(max_length=50)] = None,
    area_code: Annotated[str | None, Query(max_length=15)] = None,
) -> Response:
    actor = web_actor(request, session)
    lang = language(request, actor)
    if q or area_code:
        rows = areas.search(session=session, actor=actor, q=q or None, within=area_code or None, limit=200)
    else:
        parent = parent or actor.area_code
        rows = areas.children(session=session, actor=actor, code=parent)
    table = [
        [
            _link(f"/areas?parent={a.code}", a.code),
            a.name,
            t(f"area_level.{a.level}", lang),
            _link(f"/persons?area_code={a.code}", t("nav.persons", lang)),
        ]
        for a in rows
    ]
    wanted = {"q": q, "area_code": area_code} if q or area_code else {"area_code": parent}
    query = urlencode({k: v for k, v in wanted.items() if v})
    return render(
        request,
        "registry_list.html",
        actor,
        title="nav.areas",
        rows=table,
        headers=["area.code", "area.name", "area.level", "nav.persons"],
        f={"q": q, "area_code": area_code},
        categories=None,
        next_href=None,
        export_href=f"/api/v1/exports/areas.xlsx?{query}",
    )


@router.get("/places", response_class=HTMLResponse)
def place_list(
    request: Request,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    area_code: Annotated[str | None, Query(max_length=15)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    actor = web_actor(request, session)
    lang = language(request, actor)
    f = {"q": q or None, "category": category or None, "area_code": area_code or None}
    rows, next_after = places.search(
        session=session, actor=actor, after=after, q=f["q"], category=f["category"], area_code=f["area_code"]
    )
    names = area_names(session, {p.area_code for p in rows})
    table = [
        [
            p.id,
            p.name,
            t(f"place_category.{p.category}", lang),
            names.get(p.area_code, p.area_code),
            p.capacity or "",
            p.venue_code,
        ]
        for p in rows
    ]
    query = urlencode({k: v for k, v in f.items() if v})
    return render(
        request,
        "registry_list.html",
        actor,
        title="nav.places",
        rows=table,
        f=f,
        headers=[
            "list.id",
            "list.name",
            "list.category",
            "person.area",
            "place.capacity",
            "place.venue_code",
        ],
        categories=PLACE_CATEGORIES,
        category_enum="place_category",
        next_href=f"/places?{query}&after={next_after}" if next_after else None,
        export_href=f"/api/v1/exports/places.xlsx?{query}",
    )


@router.get("/units", response_class=HTMLResponse)
def unit_list(
    request: Request,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    area_code: Annotated[str | None, Query(max_length=15)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    actor = web_actor(request, session)
    lang = language(request, actor)
    f = {"q": q or None, "category": category or None, "area_code": area_code or None}
    rows, next_after = units.search(
        session=session, actor=actor, after=after, q=f["q"], category=f["category"], area_code=f["area_code"]
    )
    names = area_names(session, {u.area_code for u in rows})
    table = [
        [
            u.id,
            u.name,
            t(f"unit_category.{u.category}", lang),
            names.get(u.area_code, u.area_code),
            u.credit_code or "",
        ]
        for u in rows
    ]
    query = urlencode({k: v for k, v in f.items() if v})
    return render(
        request,
        "registry_list.html",
        actor,
        title="nav.units",
        rows=table,
        f=f,
        headers=["list.id", "list.name", "list.category", "person.area", "unit.credit_code"],
        categories=UNIT_CATEGORIES,
        category_enum="unit_category",
        next_href=f"/units?{query}&after={next_after}" if next_after else None,
        export_href=f"/api/v1/exports/units.xlsx?{query}",
    )


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, session: DbSession) -> Response:
    actor = web_actor(request, session)
    lang = language(request, actor)
    rows = [
        [
            u.username,
            u.display_name,
            " ".join(t(f"role.{r}", lang) for r in u.roles),
            u.area_code or t("home.nationwide", lang),
            t("user.disabled" if u.disabled else "user.active", lang),
            u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "",
        ]
        for u in auth.list_users(session=session, actor=actor)
    ]
    return render(
        request,
        "registry_list.html",
        actor,
        title="nav.users",
        rows=rows,
        f={},
        headers=[
            "login.username",
            "user.display_name",
            "user.roles",
            "user.jurisdiction",
            "user.status",
            "user.last_login",
        ],
        categories=None,
        next_href=None,
        export_href=None,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_list(
    request: Request, session: DbSession, before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> Response:
    actor = web_actor(request, session)
    entries = audit.list_entries(session=session, actor=actor, after_id=before, limit=101)
    rows = [
        [
            e.id,
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor_name,
            e.action,
            f"{e.resource_type} {e.resource_id or ''}",
            e.reason or "",
        ]
        for e in entries[:100]
    ]
    return render(
        request,
        "registry_list.html",
        actor,
        title="nav.audit",
        rows=rows,
        f={},
        headers=["list.id", "audit.at", "audit.actor", "audit.action", "audit.resource", "audit.reason"],
        categories=None,
        export_href="/api/v1/exports/audit.xlsx",
        next_href=f"/audit?before={entries[99].id}" if len(entries) > 100 else None,
    )
