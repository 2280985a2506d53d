"""Testing pages (核酸检测): rounds and their progress, the sampler's scanning page (and the
boxing of its tubes for a lab, 装箱送检), the lab's receive-and-upload page, sampling sites with
their coverage, and a resident's own records.

Forms post back to the page they came from. A refused action (a full tube, a bad result sheet …)
is shown on that page in the standard error box, so a sampler keeps scanning; the service call
runs in a savepoint, so nothing of a refused action is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from fangkong.api.deps import DbSession
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, can
from fangkong.errors import FangkongError, invalid
from fangkong.i18n import t
from fangkong.nat import progress, queries, rounds, sites, tubes
from fangkong.nat.models import TUBE_STATUSES, SamplingSite, Shipment
from fangkong.types import MAX_ID
from fangkong.validation import invalid_from
from fangkong.web.guard import area_names, check_csrf, web_actor
from fangkong.web.pages import language, render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
TARGETS = ("everyone", "key_groups", "under_measures")
POOL_SIZES = (1, 5, 10, 20)
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">
Csrf = Annotated[str, Form(max_length=200)]


def _attempt(session: Session, action: Callable[[], T]) -> tuple[T | None, FangkongError | None]:
    """Run a service call in a savepoint: its answer, or the error it raised (nothing kept)."""
    try:
        with session.begin_nested():
            return action(), None
    except FangkongError as exc:
        return None, exc


def _status(error: FangkongError | None) -> int:
    return error.status if error is not None else 200


def _local_now() -> dt.datetime:
    from fangkong.config import get_settings

    return dt.datetime.now(get_settings().tz).replace(second=0, microsecond=0)


def _number(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 10:
        raise invalid(field, "a whole number", value)
    return int(value)


# ---------------------------------------------------------------- rounds


@router.get("/nat/rounds", response_class=HTMLResponse)
def round_list(request: Request, session: DbSession) -> Response:
    actor = web_actor(request, session)
    return _rounds_page(request, session, actor)


def _rounds_page(
    request: Request,
    session: Session,
    actor: Actor,
    error: FangkongError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    rows = queries.list_rounds(session, actor)
    now = _local_now()
    defaults = {
        "name": "",
        "area_code": actor.area_code or "",
        "target": "everyone",
        "start_at": now.strftime(LOCAL_INPUT),
        "deadline_at": (now + dt.timedelta(hours=24)).strftime(LOCAL_INPUT),
        "pool_size": "",
    }
    return render(
        request,
        "nat_rounds.html",
        actor,
        status=_status(error),
        rows=rows,
        error=error,
        form=defaults | (form or {}),
        targets=TARGETS,
        pool_sizes=_pool_sizes(session),
        can_manage=can(actor, "nat.manage"),
        area_names=area_names(session, {r.area_code for r in rows}),
    )


def _pool_sizes(session: Session) -> tuple[int, ...]:
    try:
        return tuple(rounds.pooling_rules(session, dt.datetime.now(dt.UTC)).allowed_sizes)
    except FangkongError:
        return POOL_SIZES


@router.post("/nat/rounds", response_class=HTMLResponse)
def round_create(
    request: Request,
    session: DbSession,
    csrf_token: Csrf = "",
    name: Annotated[str, Form(max_length=200)] = "",
    area_code: Annotated[str, Form(max_length=32)] = "",
    target: Annotated[str, Form(max_length=20)] = "everyone",
    start_at: Annotated[str, Form(max_length=40)] = "",
    deadline_at: Annotated[str, Form(max_length=40)] = "",
    pool_size: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    form = {
        "name": name,
        "area_code": area_code,
        "target": target,
        "start_at": start_at,
        "deadline_at": deadline_at,
        "pool_size": pool_size,
    }

    def create() -> int:
        try:
            data = rounds.RoundCreate.model_validate(
                {k: (v.strip() or None) for k, v in form.items()} | {"target": target or "everyone"}
            )
        except ValidationError as exc:
            raise invalid_from(exc, "the round is not valid") from None
        return rounds.create(session=session, actor=actor, data=data).id

    round_id, error = _attempt(session, create)
    if error is not None:
        return _rounds_page(request, session, actor, error, form)
    return RedirectResponse(f"/nat/rounds/{round_id}", status_code=303)


@router.get("/nat/rounds/{round_id}", response_class=HTMLResponse)
def round_page(request: Request, session: DbSession, round_id: int) -> Response:
    actor = web_actor(request, session)
    r = rounds.get(session, actor, round_id)
    p = progress.progress(session=session, actor=actor, round_id=r.id)
    return render(
        request,
        "nat_round.html",
        actor,
        rnd=r,
        p=p,
        pending=sum(c.pending for c in p.communities),
        positive=sum(c.positive for c in p.communities),
        tube_statuses=TUBE_STATUSES,
        can_manage=can(actor, "nat.manage", r),
        area_names=area_names(session, {r.area_code}),
    )


@router.post("/nat/rounds/{round_id}/close")
def round_close(request: Request, session: DbSession, round_id: int, csrf_token: Csrf = "") -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    rounds.close(session=session, actor=actor, round_id=round_id)
    return RedirectResponse(f"/nat/rounds/{round_id}", status_code=303)


@router.post("/nat/rounds/{round_id}/auto-repeat")
def round_auto_repeat(
    request: Request,
    session: DbSession,
    round_id: int,
    csrf_token: Csrf = "",
    auto_repeat: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Switch automatic repetition on or off for the round's series."""
    from fangkong.nat import series

    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    if auto_repeat not in ("on", "off"):
        raise invalid("auto_repeat", "on or off", auto_repeat)
    series.set_auto_repeat(session=session, actor=actor, round_id=round_id, auto_repeat=auto_repeat == "on")
    return RedirectResponse(f"/nat/rounds/{round_id}", status_code=303)


# ---------------------------------------------------------------- sampling (采样登记)


@router.get("/nat/sample", response_class=HTMLResponse)
def sample_page(
    request: Request,
    session: DbSession,
    site_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    tube: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    actor = web_actor(request, session)
    return _sample_page(request, session, actor, site_id, tube=tube)


def _sample_page(
    request: Request,
    session: Session,
    actor: Actor,
    site_id: int | None,
    *,
    tube: str = "",
    answer: dict[str, Any] | None = None,
    notice: str | None = None,
    error: FangkongError | None = None,
    ship: dict[str, Any] | None = None,
) -> Response:
    authorize(actor, "nat.sample")
    open_sites = [
        s
        for s in sites.list_sites(session=session, actor=actor, status="open")
        if can(actor, "nat.sample", s)
    ]
    site: SamplingSite | None = None
    if site_id is not None:
        site = next((s for s in open_sites if s.id == site_id), None)
    elif len(open_sites) == 1:
        site = open_sites[0]
    return render(
        request,
        "nat_sample.html",
        actor,
        status=_status(error),
        sites=open_sites,
        site=site,
        site_missing=site_id is not None and site is None,
        rounds=queries.list_rounds(session, actor, status="open", covering=True),
        pool_sizes=_pool_sizes(session),
        tubes=queries.open_tubes(session, actor, site) if site else [],
        tube=tube,
        ship_tubes=queries.tubes_to_ship(session, actor, site) if site else [],
        labs=queries.active_labs(session, actor) if site else [],
        ship={"code": "", "lab": "", "carrier": "", "scanned": "", "picked": None} | (ship or {}),
        answer=answer,
        notice=notice,
        error=error,
    )


@router.post("/nat/sample/tube", response_class=HTMLResponse)
def sample_open_tube(
    request: Request,
    session: DbSession,
    site_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf_token: Csrf = "",
    barcode: Annotated[str, Form(max_length=40)] = "",
    round_id: Annotated[str, Form(max_length=10)] = "",
    capacity: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    lang = language(request, actor)

    def open_() -> str:
        tube = tubes.open_tube(
            session=session,
            actor=actor,
            barcode=barcode,
            site_id=site_id,
            round_id=_number(round_id, "round_id"),
            capacity=_number(capacity, "capacity"),
        )
        return t("nat.sample.opened", lang, tube=tube.barcode, capacity=tube.capacity)

    notice, error = _attempt(session, open_)
    tube = barcode.strip() if error is None else ""
    return _sample_page(request, session, actor, site_id, tube=tube, notice=notice, error=error)


@router.post("/nat/sample/scan", response_class=HTMLResponse)
def sample_scan(
    request: Request,
    session: DbSession,
    site_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf_token: Csrf = "",
    tube: Annotated[str, Form(max_length=40)] = "",
    scan: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """One swab: the tube's barcode and one scan of the person; the answer on the same page."""
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    lang = language(request, actor)

    def register() -> dict[str, Any]:
        r = tubes.register(session=session, actor=actor, tube=tube, scan=scan, site_id=site_id)
        return {
            "tube": r.tube_barcode,
            "members": r.members,
            "capacity": r.capacity,
            "closed": r.closed,
            "person": _masked_name(session, r.person_id),
            "warnings": [_warning(w, lang) for w in r.warnings],
        }

    answer, error = _attempt(session, register)
    keep = tube.strip() if answer is None or not answer["closed"] else ""
    return _sample_page(request, session, actor, site_id, tube=keep, answer=answer, error=error)


@router.post("/nat/sample/close", response_class=HTMLResponse)
def sample_close_tube(
    request: Request,
    session: DbSession,
    site_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf_token: Csrf = "",
    tube: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    lang = language(request, actor)

    def close() -> str:
        closed = tubes.close_tube(session=session, actor=actor, barcode=tube)
        return t("nat.sample.closed_by_hand", lang, tube=closed.barcode, members=closed.members)

    notice, error = _attempt(session, close)
    return _sample_page(
        request, session, actor, site_id, tube="" if error is None else tube, notice=notice, error=error
    )


def _masked_name(session: Session, person_id: int) -> str:
    from fangkong.person.models import Person
    from fangkong.privacy import mask_name

    person = session.get(Person, person_id)
    return (mask_name(person.name) or "") if person is not None and person.name else ""


_WARNINGS = (
    (re.compile(r"^already sampled in this round \(tube (?P<tube>[^)]*)\)"), "nat.warn.sampled_twice"),
    (re.compile(r"^the profile wants this person in a single tube"), "nat.warn.single_tube"),
    (re.compile(r"^not expected in this round"), "nat.warn.not_expected"),
)


def _warning(text: str, lang: str) -> str:
    """The service's warning in the page's language (unknown ones as they are)."""
    for pattern, key in _WARNINGS:
        match = pattern.match(text)
        if match:
            return t(key, lang, **match.groupdict())
    return text


# ---------------------------------------------------------------- lab (接收与结果上传)


@router.get("/nat/lab", response_class=HTMLResponse)
def lab_page(
    request: Request, session: DbSession, lab: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    actor = web_actor(request, session)
    return _lab_page(request, session, actor, lab)


def _lab_page(
    request: Request,
    session: Session,
    actor: Actor,
    lab_code: str,
    *,
    notice: str | None = None,
    report: dict[str, Any] | None = None,
    error: FangkongError | None = None,
) -> Response:
    from sqlalchemy import select

    labs = queries.labs_of(session, actor)
    lab = next((x for x in labs if x.code == lab_code), labs[0] if labs else None)
    waiting = (
        list(
            session.scalars(
                select(Shipment)
                .where(Shipment.lab_id == lab.id, Shipment.received_at.is_(None))
                .order_by(Shipment.shipped_at)
                .limit(100)
            )
        )
        if lab
        else []
    )
    return render(
        request,
        "nat_lab.html",
        actor,
        status=_status(error),
        labs=labs,
        lab=lab,
        waiting=waiting,
        notice=notice,
        report=report,
        error=error,
    )


@router.post("/nat/lab/receive", response_class=HTMLResponse)
def lab_receive(
    request: Request,
    session: DbSession,
    csrf_token: Csrf = "",
    lab: Annotated[str, Form(max_length=32)] = "",
    shipment: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    lang = language(request, actor)

    def receive() -> str:
        n = tubes.receive(session=session, actor=actor, lab_code=lab, shipment=shipment)
        key = "nat.lab.received" if n else "nat.lab.received_before"
        return t(key, lang, shipment=shipment.strip(), tubes=n)

    notice, error = _attempt(session, receive)
    return _lab_page(request, session, actor, lab, notice=notice, error=error)


@router.post("/nat/lab/results", response_class=HTMLResponse)
def lab_results(
    request: Request,
    session: DbSession,
    csrf_token: Csrf = "",
    lab: Annotated[str, Form(max_length=32)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A result sheet (CSV or .xlsx), all or nothing, as the API's upload."""
    from fangkong.nat.router import upload_results

    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)

    def upload() -> dict[str, Any]:
        if file is None or not file.filename:
            raise invalid("file", "choose a CSV or .xlsx result sheet")
        return upload_results(lab_code=lab, session=session, actor=actor, file=file)

    report, error = _attempt(session, upload)
    return _lab_page(request, session, actor, lab, report=report, error=error)


# ---------------------------------------------------------------- sites and coverage


@router.get("/nat/sites", response_class=HTMLResponse)
def site_list(
    request: Request,
    session: DbSession,
    area_code: Annotated[str, Query(max_length=32)] = "",
    radius: Annotated[float, Query(gt=0, le=20_000)] = 1200.0,
    suggest: Annotated[int, Query(ge=0, le=20)] = 3,
) -> Response:
    actor = web_actor(request, session)
    rows = sites.list_sites(session=session, actor=actor)
    can_manage = can(actor, "nat.manage")
    cov, error = None, None
    if can_manage and area_code.strip():
        from fangkong.nat.site_coverage import coverage

        cov, error = _attempt(
            session,
            lambda: coverage(
                session=session, actor=actor, area_code=area_code.strip(), radius_m=radius, suggest=suggest
            ),
        )
    return render(
        request,
        "nat_sites.html",
        actor,
        status=_status(error),
        rows=rows,
        can_manage=can_manage,
        manageable={s.id for s in rows if can(actor, "nat.manage", s)},
        coverage=cov,
        error=error,
        f={"area_code": area_code or actor.area_code or "", "radius": radius, "suggest": suggest},
        area_names=area_names(session, {s.area_code for s in rows}),
    )


@router.post("/nat/sites/{site_id}/status")
def site_status(
    request: Request,
    session: DbSession,
    site_id: int,
    csrf_token: Csrf = "",
    status: Annotated[str, Form(max_length=8)] = "",
    area_code: Annotated[str, Form(max_length=32)] = "",
    radius: Annotated[str, Form(max_length=20)] = "",
    suggest: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Open or close a site; back to the list, with the coverage that was shown recomputed."""
    from urllib.parse import urlencode

    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    if status not in ("open", "closed"):
        raise invalid("status", "open or closed", status)
    sites.set_site_status(
        session=session, actor=actor, site_id=site_id, status="open" if status == "open" else "closed"
    )
    back = {k: v.strip() for k, v in (("area_code", area_code), ("radius", radius), ("suggest", suggest))}
    query = urlencode({k: v for k, v in back.items() if v}) if back["area_code"] else ""
    return RedirectResponse("/nat/sites" + (f"?{query}" if query else ""), status_code=303)


# ---------------------------------------------------------------- after a form post

# The sampler's and the lab's forms answer on the page itself, so the browser shows the form's
# address. A GET there (the language switch, a bookmark, the address opened again) comes back
# to the page instead of a "method not allowed".


@router.get("/nat/sample/tube")
@router.get("/nat/sample/scan")
@router.get("/nat/sample/close")
@router.get("/nat/sample/ship")
def sample_after_post() -> Response:
    return RedirectResponse("/nat/sample", status_code=303)


@router.get("/nat/lab/receive")
@router.get("/nat/lab/results")
def lab_after_post() -> Response:
    return RedirectResponse("/nat/lab", status_code=303)


# ---------------------------------------------------------------- residents


@router.get("/me/nat", response_class=HTMLResponse)
def my_records(request: Request, session: DbSession) -> Response:
    """我的核酸记录: a resident's own swabs, the tube's state and result."""
    actor = web_actor(request, session)
    records = progress.own_records(session=session, actor=actor)
    return render(request, "nat_me.html", actor, records=records)
