"""Why a person is on a case's list, in words (zh-CN and en)."""

from __future__ import annotations

import datetime as dt

from fangkong.case.models import Case
from fangkong.contact.finding import Candidate


def _t(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    from fangkong.config import get_settings

    return value.astimezone(get_settings().tz).strftime("%Y-%m-%d %H:%M")


def text(case: Case, c: Candidate, via_name: str | None = None) -> tuple[str, str]:
    no = case.case_no
    minutes = f"{c.minutes:.0f}" if c.minutes is not None else ""
    if c.setting == "household":
        return f"与病例{no}共同居住", f"lives with case {no}"
    if c.setting == "workplace" and c.list == "close_contact":
        return f"与病例{no}在同一单位工作", f"works in the same unit as case {no}"
    if c.setting == "named":
        return (
            f"病例{no}在流调中告知的接触者（{c.place or ''}）",
            f"named by case {no} in the interview ({c.place or ''})",
        )
    if c.setting == "venue":
        return (
            f"{_t(c.start)}至{_t(c.end)}在{c.place}与病例{no}同时停留{minutes}分钟",
            f"in {c.place} at the same time as case {no}, {minutes} min ({_t(c.start)} to {_t(c.end)})",
        )
    if c.setting == "vehicle":
        return f"与病例{no}同乘交通工具：{c.place}", f"travelled with case {no}: {c.place}"
    if c.setting == "cell":
        return (
            f"时空伴随：与病例{no}在同一网格共同停留{minutes}分钟（{c.place}，{_t(c.start)}至{_t(c.end)}）",
            f"spatiotemporal companion of case {no}: {minutes} min together in the same grid cell "
            f"({c.place}, {_t(c.start)} to {_t(c.end)})",
        )
    setting_zh = {"household": "同住", "workplace": "同事"}.get(c.setting, c.setting)
    setting_en = {"household": "lives with", "workplace": "works with"}.get(c.setting, c.setting)
    who = via_name or f"#{c.via_person_id}"
    return (
        f"密接的密接：{setting_zh}密切接触者（病例{no}的密接）",
        f"secondary contact: {setting_en} a close contact of case {no} ({who[:1]}*)",
    )
