"""Tracing pages: cases, a case (investigation clock, timeline, contacts), chains, tasks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from fangkong.api.deps import DbSession
from fangkong.auth.authorize import can
from fangkong.case import service as cases
from fangkong.chain import service as chains
from fangkong.contact import service as contacts
from fangkong.errors import NotFound
from fangkong.investigation import service as investigations
from fangkong.investigation.schemas import EntryIn, StepIn
from fangkong.task import service as tasks
from fangkong.types import MAX_ID
from fangkong.validation import invalid_from
from fangkong.web.chain_svg import svg
from fangkong.web.guard import area_names, check_csrf, web_actor
from fangkong.web.pages import render

router = APIRouter(include_in_schema=False)
LISTS = ("close_contact", "secondary_contact", "companion")
PAGE = 200  # listings per page on the case page


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request,
    session: DbSession,
    classification: Annotated[str | None, Query(max_length=16)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    actor = web_actor(request, session)
    rows, nxt = cases.search(
        session=session, actor=actor, classification=classification or None, after=after, limit=100
    )
    from fangkong.investigation.models import Investigation

    invs = (
        {
            i.case_id: i
            for i in session.scalars(
                select(Investigation).where(Investigation.case_id.in_([c.id for c in rows]))
            )
        }
        if rows
        else {}
    )
    return render(
        request,
        "cases.html",
        actor,
        rows=rows,
        investigations=invs,
        now=_now(),
        next_after=nxt,
        classification=classification,
        can_create=can(actor, "case.create"),
        area_names=area_names(session, {c.area_code for c in rows}),
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    session: DbSession,
    case_id: int,
    list_name: Annotated[str | None, Query(alias="list", max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    actor = web_actor(request, session)
    case = cases.get(session=session, actor=actor, case_id=case_id)
    from fangkong.person import service as persons

    person = persons.read(session=session, actor=actor, person_id=case.person_id)
    try:
        _c, inv = investigations.get(session=session, actor=actor, case_id=case.id)
        entries = investigations.entries(session=session, actor=actor, case_id=case.id)
    except NotFound:
        inv, entries = None, []
    readable = can(actor, "contact.read")
    counts = contacts.counts(session=session, actor=actor, case_id=case.id) if readable else {}
    shown = list_name if list_name in LISTS else next((n for n in LISTS if n in counts), LISTS[0])
    listings = (
        contacts.listings(
            session=session, actor=actor, case_id=case.id, list_name=shown, after=after, limit=PAGE + 1
        )
        if readable
        else []
    )
    more = len(listings) > PAGE
    listings = listings[:PAGE]
    effective = contacts.effective_for(
        session=session, case_id=case.id, person_ids={r.person_id for r in listings}
    )
    from fangkong.person.models import Person

    names = (
        dict(
            session.execute(
                select(Person.id, Person.name).where(Person.id.in_({r.person_id for r in listings}))
            ).all()
        )
        if listings
        else {}
    )
    from fangkong.privacy import mask_name

    return render(
        request,
        "case.html",
        actor,
        case=case,
        person=person,
        inv=inv,
        entries=entries,
        now=_now(),
        listings=listings,
        lists=LISTS,
        counts=counts,
        shown=shown,
        next_after=listings[-1].id if more else None,
        effective={pid: r.id for pid, r in effective.items()},
        names={k: mask_name(v) for k, v in names.items()},
        history=cases.history(session=session, actor=actor, case_id=case.id),
        can_manage=can(actor, "investigation.manage"),
        can_find=can(actor, "contact.find"),
        can_confirm=can(actor, "contact.confirm"),
        area_names=area_names(session, {case.area_code}),
    )


@router.get("/cases/{case_id}/trajectory", response_class=HTMLResponse)
def case_trajectory(request: Request, session: DbSession, case_id: int) -> Response:
    """The case person's stays, check-ins and travel in the lookback window (audited read)."""
    from fangkong.contact.movement import default
    from fangkong.contact.trajectory import trajectory

    actor = web_actor(request, session)
    case = cases.get(session=session, actor=actor, case_id=case_id)
    found = trajectory(session=session, actor=actor, case_id=case.id, movement=default())
    return render(request, "trajectory.html", actor, case=case, tr=found)


def _case_back(case_id: int) -> Response:
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/step")
def case_step(
    request: Request,
    session: DbSession,
    case_id: int,
    step: Annotated[str, Form(max_length=16)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    summary: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    try:
        data = StepIn.model_validate({"step": step, "summary": summary or None})
    except ValidationError as exc:
        raise invalid_from(exc, "invalid step") from None
    investigations.record_step(session=session, actor=actor, case_id=case_id, data=data)
    return _case_back(case_id)


@router.post("/cases/{case_id}/entries")
def case_entry(
    request: Request,
    session: DbSession,
    case_id: int,
    kind: Annotated[str, Form(max_length=8)] = "",
    start: Annotated[str, Form(max_length=20)] = "",
    end: Annotated[str, Form(max_length=20)] = "",
    text: Annotated[str, Form(max_length=300)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    field = {"place": "place_text", "person": "person_text", "note": "notes", "trip": "number"}.get(
        kind, "notes"
    )
    payload: dict[str, Any] = {"kind": kind, "start": start or None, "end": end or None, field: text or None}
    if kind == "trip":
        payload["mode"] = "train"
    try:
        data = EntryIn.model_validate(payload)
    except ValidationError as exc:
        raise invalid_from(exc, "invalid entry") from None
    investigations.add_entry(session=session, actor=actor, case_id=case_id, data=data)
    return _case_back(case_id)


@router.post("/cases/{case_id}/find")
def case_find(
    request: Request, session: DbSession, case_id: int, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    from fangkong.contact.movement import default

    contacts.run(session=session, actor=actor, case_id=case_id, movement=default())
    return _case_back(case_id)


@router.post("/cases/{case_id}/decide")
def case_decide(
    request: Request,
    session: DbSession,
    case_id: int,
    accept: Annotated[str, Form(max_length=8)] = "yes",
    list_name: Annotated[str, Form(alias="list", max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    shown = list_name if list_name in LISTS else None
    contacts.decide(
        session=session,
        actor=actor,
        case_id=case_id,
        listing_ids=None,
        accept=accept == "yes",
        list_name=shown,
    )
    return RedirectResponse(f"/cases/{case_id}" + (f"?list={shown}" if shown else ""), status_code=303)


@router.get("/chains", response_class=HTMLResponse)
def chain_page(request: Request, session: DbSession) -> Response:
    actor = web_actor(request, session)
    g = chains.graph(session=session, actor=actor)
    return render(request, "chains.html", actor, graph=g, drawing=svg(g))


@router.get("/tasks", response_class=HTMLResponse)
def task_page(
    request: Request, session: DbSession, status: Annotated[str, Query(max_length=12)] = "open"
) -> Response:
    actor = web_actor(request, session)
    rows, _ = tasks.search(session, actor, status=status or None, limit=500)
    rows.sort(key=lambda t: t.due_at)
    return render(
        request,
        "tasks.html",
        actor,
        rows=rows,
        now=_now(),
        task_status=status,
        area_names=area_names(session, {t.area_code for t in rows}),
    )


@router.post("/tasks/{task_id}/done")
def task_done(
    request: Request,
    session: DbSession,
    task_id: int,
    result: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    tasks.complete(session, actor, task_id, result or None)
    return RedirectResponse("/tasks", status_code=303)
