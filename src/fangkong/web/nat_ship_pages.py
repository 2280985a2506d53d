"""The sampler's 装箱送检 (box and ship) step on `/nat/sample`: the site's closed tubes, ticked
or scanned, into a transport box for a lab (`fangkong.nat.tubes.ship`)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from fangkong.api.deps import DbSession
from fangkong.errors import ErrorDetail, FangkongError, invalid
from fangkong.i18n import t
from fangkong.nat import tubes
from fangkong.nat.models import Lab
from fangkong.types import MAX_ID
from fangkong.web.guard import check_csrf, web_actor
from fangkong.web.nat_pages import Csrf, _attempt, _sample_page
from fangkong.web.pages import language

router = APIRouter(include_in_schema=False)
MAX_BOX = 5000  # tubes in one transport box, as the API


@router.post("/nat/sample/ship", response_class=HTMLResponse)
def sample_ship(
    request: Request,
    session: DbSession,
    site_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf_token: Csrf = "",
    code: Annotated[str, Form(max_length=40)] = "",
    lab: Annotated[str, Form(max_length=32)] = "",
    carrier: Annotated[str, Form(max_length=100)] = "",
    barcodes: Annotated[list[str] | None, Form()] = None,
    scanned: Annotated[str, Form(max_length=250_000)] = "",
) -> Response:
    """装箱送检: the ticked tubes, or the scanned ones (one barcode a line) when there are any,
    into a transport box for a lab. A refused box names its barcodes; nothing ships."""
    actor = web_actor(request, session)
    check_csrf(actor, csrf_token)
    lang = language(request, actor)
    lines = [b.strip() for b in scanned.splitlines() if b.strip()]
    chosen = list(dict.fromkeys(lines or [b.strip() for b in barcodes or [] if b.strip()]))

    def ship() -> str:
        if len(chosen) > MAX_BOX:
            raise invalid("barcodes", f"at most {MAX_BOX} tubes in one box", len(chosen))
        box = tubes.ship(
            session=session,
            actor=actor,
            code=code,
            site_id=site_id,
            lab_code=lab.strip(),
            barcodes=chosen,
            carrier=carrier.strip() or None,
        )
        to = session.get(Lab, box.lab_id)
        return t("nat.ship.shipped", lang, box=box.code, tubes=len(chosen), lab=to.name if to else lab)

    notice, error = _attempt(session, ship)
    form: dict[str, Any] = {"lab": lab, "carrier": carrier}
    if error is not None:  # the form as it was sent, the problems named by barcode
        error = _per_barcode(error, chosen)
        form |= {"code": code, "scanned": scanned, "picked": set(barcodes or [])}
    return _sample_page(request, session, actor, site_id, notice=notice, error=error, ship=form)


def _per_barcode(error: FangkongError, chosen: list[str]) -> FangkongError:
    """The service names a refused tube by its place in the list (barcodes[3]): name it by its
    barcode, as the sampler knows it."""
    details = []
    for d in error.details:
        match = re.fullmatch(r"barcodes\[(\d+)\]", d.field)
        n = int(match.group(1)) if match else len(chosen)
        details.append(ErrorDetail(chosen[n], d.reason) if n < len(chosen) else d)
    return replace(error, details=details)
