"""The investigation report (流行病学调查报告) as a .docx for the HQ, zh-CN by default.

Personal data is masked unless the reader may unmask it and gives a reason (audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.area import service as areas
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.contact.models import ContactListing
from fangkong.documents import docx
from fangkong.i18n import t
from fangkong.investigation import service as investigations
from fangkong.person import service as persons
from fangkong.place.models import Place


def _fmt(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    from fangkong.config import get_settings

    return value.astimezone(get_settings().tz).strftime("%Y-%m-%d %H:%M")


def build(
    *, session: Session, actor: Actor, case_id: int, lang: str = "zh-CN", unmask_reason: str | None = None
) -> bytes:
    case, inv = investigations.get(session=session, actor=actor, case_id=case_id)
    masked = not unmask_reason
    if unmask_reason:
        authorize(actor, "person.read_pii")
        person = persons.unmask(session=session, actor=actor, person_id=case.person_id, reason=unmask_reason)
    else:
        person = persons.read(session=session, actor=actor, person_id=case.person_id)
    zh = lang == "zh-CN"

    def L(zh_text: str, en_text: str) -> str:
        return zh_text if zh else en_text

    doc = docx.new_document(
        L(f"流行病学调查报告（{case.case_no}）", f"Epidemiological investigation report ({case.case_no})")
    )
    doc.add_heading(L("一、病例基本情况", "1. The case"), level=1)
    docx.fields(
        doc,
        [
            (L("病例编号", "Case number"), case.case_no),
            (L("姓名", "Name"), person.name),
            (L("证件号码", "ID number"), person.id_number or ""),
            (L("性别", "Sex"), t(f"sex.{person.sex}", lang)),
            (L("出生年份", "Birth year"), person.birth_year or ""),
            (L("手机号", "Phone"), person.phone or ""),
            (
                L("现住址", "Residence"),
                f"{areas.full_name(session=session, code=person.area_code)} {person.address or ''}",
            ),
            (L("分类", "Classification"), t(f"case_class.{case.classification}", lang)),
            (L("来源", "Origin"), t(f"case_origin.{case.origin}", lang)),
            (L("发病日期", "Onset"), case.onset_date.isoformat() if case.onset_date else "—"),
            (L("首次阳性采样时间", "First positive sample"), _fmt(case.first_positive_at)),
            (L("发现途径", "Found by"), t(f"found_by.{case.found_by}", lang)),
            (
                L("救治/隔离情况", "Care"),
                f"{t(f'care_status.{case.care_status}', lang)} {case.care_place or ''}",
            ),
        ],
    )
    doc.add_heading(L("二、流调时限（2+4+24）", "2. The investigation clock (2+4+24)"), level=1)
    docx.table(
        doc,
        [L("环节", "Step"), L("时限", "Due"), L("完成", "Done"), L("是否超时", "Late")],
        [
            (
                L(zh_step, en_step),
                _fmt(due),
                _fmt(done),
                L("是", "yes")
                if done and done > due
                else (L("未完成", "not yet") if done is None else L("否", "no")),
            )
            for zh_step, en_step, due, done in (
                ("到达现场", "On site", inv.on_site_due, inv.on_site_at),
                ("查清核心信息", "Core facts", inv.core_facts_due, inv.core_facts_at),
                ("完成报告", "Report", inv.report_due, inv.report_at),
            )
        ],
    )
    doc.add_paragraph(
        L(
            f"通知时间：{_fmt(inv.notified_at)}；依据：{inv.profile_id}",
            f"Notified: {_fmt(inv.notified_at)}; profile: {inv.profile_id}",
        )
    )
    doc.add_heading(L("三、活动轨迹（流调）", "3. Timeline from the interview"), level=1)
    entries = investigations.entries(session=session, actor=actor, case_id=case.id)
    places = (
        dict(
            session.execute(
                select(Place.id, Place.name).where(Place.id.in_({e.place_id for e in entries if e.place_id}))
            ).all()
        )
        if entries
        else {}
    )
    docx.table(
        doc,
        [L("开始", "From"), L("结束", "To"), L("类型", "Kind"), L("内容", "What")],
        [
            (_fmt(e.start), _fmt(e.end), t(f"entry_kind.{e.kind}", lang), _entry_text(e, places, masked))
            for e in entries
        ]
        or [("—", "—", "—", L("无记录", "nothing recorded"))],
    )
    doc.add_heading(L("四、密切接触者等排查情况", "4. Contacts found"), level=1)
    counts = session.execute(
        select(ContactListing.list, ContactListing.setting, ContactListing.status, func.count())
        .where(ContactListing.case_id == case.id)
        .group_by(ContactListing.list, ContactListing.setting, ContactListing.status)
    ).all()
    docx.table(
        doc,
        [L("类别", "List"), L("方式", "Setting"), L("状态", "Status"), L("人数", "People")],
        [
            (
                t(f"category.{lst}", lang),
                t(f"contact_setting_short.{st}", lang),
                t(f"listing_status.{s}", lang),
                n,
            )
            for lst, st, s, n in counts
        ]
        or [("—", "—", "—", 0)],
    )
    doc.add_heading(L("五、感染来源", "5. Source of infection"), level=1)
    doc.add_paragraph(inv.source_of_infection or L("待查", "under investigation"))
    doc.add_heading(L("六、调查结论", "6. Conclusions"), level=1)
    doc.add_paragraph(inv.summary or L("（未填写）", "(not written yet)"))
    doc.add_paragraph(
        L(
            f"生成时间：{_fmt(dt.datetime.now(dt.UTC))}；"
            f"个人信息{'已脱敏' if masked else '未脱敏（已留痕）'}",
            f"Generated {_fmt(dt.datetime.now(dt.UTC))}; personal data "
            f"{'masked' if masked else 'unmasked (audited)'}",
        )
    )
    audit.record(
        session,
        actor,
        "investigation.report_export",
        "case",
        case.id,
        reason=unmask_reason,
        after={"masked": masked, "lang": lang},
        area_code=case.area_code,
    )
    return docx.to_bytes(doc)


def _entry_text(e: Any, places: dict[int, str], masked: bool) -> str:
    from fangkong.privacy import mask_name

    if e.kind == "place":
        return places.get(e.place_id, "") or e.place_text or ""
    if e.kind == "person":
        name = e.person_text or (f"#{e.person_id}" if e.person_id else "")
        return f"{mask_name(name) if masked else name} {e.relation or ''}".strip()
    if e.kind == "trip":
        return f"{e.mode} {e.number} {e.carriage or ''} {e.seat or ''}".strip()
    return e.notes or ""
