"""Assistance requests (协查函) to other cities, one .docx per destination city.

The receiving city needs to find the people, so the letters carry their names, ID numbers
and phones: exporting them needs `person.read_pii`, a reason, and leaves an audit row."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from itertools import groupby

from sqlalchemy.orm import Session

from fangkong.area import service as areas
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.case.models import Case
from fangkong.config import get_settings
from fangkong.contact import service as contacts
from fangkong.documents import docx
from fangkong.errors import NotFound, invalid
from fangkong.i18n import t
from fangkong.person.models import Person


def export(*, session: Session, actor: Actor, reason: str, case_id: int | None = None) -> tuple[bytes, int]:
    """A zip of letters (one per destination city) for the draft requests; marks them sent.
    Returns (zip bytes, number of requests)."""
    authorize(actor, "assistance.export")
    authorize(actor, "person.read_pii")
    if not reason or len(reason.strip()) < 4:
        raise invalid("reason", "state why (at least 4 characters): the letters carry personal data")
    requests = contacts.assistance(session=session, actor=actor, case_id=case_id, status="draft")
    if not requests:
        raise NotFound("no draft assistance requests to export")
    settings = get_settings()
    city = areas.full_name(session=session, code=settings.city_code)
    now = dt.datetime.now(dt.UTC)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for dest_city, group in groupby(requests, key=lambda r: r.destination_code[:4]):
            items = list(group)
            dest = areas.full_name(session=session, code=dest_city) if len(dest_city) >= 2 else dest_city
            doc = docx.new_document("新冠肺炎疫情防控协查函")
            doc.add_paragraph(f"{dest}疫情防控指挥部：")
            doc.add_paragraph(
                f"经{city}流行病学调查，以下{len(items)}名人员现居贵辖区，与我市病例存在流行病学关联，"
                "请协助落实管控措施并反馈结果。"
            )
            rows = []
            for r in items:
                p = session.get(Person, r.person_id)
                case = session.get(Case, r.case_id)
                if p is None or case is None:
                    continue
                ident = p.primary_identifier
                rows.append(
                    (
                        p.name,
                        ident.value if ident else "",
                        p.phone or "",
                        areas.full_name(session=session, code=p.area_code) + (p.address or ""),
                        t(f"category.{r.list}"),
                        r.reason_zh,
                        case.case_no,
                    )
                )
                r.status, r.exported_at = "sent", now
            docx.table(doc, ["姓名", "证件号码", "手机号", "现住址", "类别", "关联情况", "关联病例"], rows)
            doc.add_paragraph(f"{city}新冠肺炎疫情防控指挥部")
            doc.add_paragraph(now.astimezone(settings.tz).strftime("%Y年%m月%d日"))
            zf.writestr(f"协查函-{dest_city}-{dest}.docx", docx.to_bytes(doc))
    audit.record(
        session,
        actor,
        "assistance.export",
        "assistance_request",
        None,
        reason=reason.strip(),
        after={"requests": [r.id for r in requests], "case_id": case_id},
    )
    return buf.getvalue(), len(requests)
