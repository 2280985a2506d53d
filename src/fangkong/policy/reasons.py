"""Reasons a resident can read, in zh-CN and en, for every decision (pure)."""

from __future__ import annotations

import datetime as dt

from fangkong.i18n import t
from fangkong.policy.calendar import DEFAULT_TZ, local_date
from fangkong.policy.facts import CategoryFact
from fangkong.policy.loader import LoadedProfile
from fangkong.policy.schema import CategoryMeasures, CtRelease


def _title(loaded: LoadedProfile, lang: str) -> str:
    title = loaded.profile.title
    return title.zh_CN if lang == "zh-CN" else title.en


def _why(fact: CategoryFact, lang: str, tz: dt.tzinfo = DEFAULT_TZ) -> str:
    """Why the person is in the category: "因您于2022-07-01与病例在同一场所停留（春熙路商场）…"."""
    day = local_date(fact.at, tz).isoformat()
    cat = t(f"category.{fact.category}", lang)
    if lang == "zh-CN":
        if fact.setting:
            where = f"（{fact.place}）" if fact.place else ""
            return f"因您于{day}{t(f'contact_setting.{fact.setting}', lang)}{where}，被判定为{cat}"
        return f"因您于{day}被判定为{cat}"
    if fact.setting:
        where = f" ({fact.place})" if fact.place else ""
        return f"Because on {day} you {t(f'contact_setting.{fact.setting}', lang)}{where}, you are {_a(cat)}"
    return f"Since {day} you are {_a(cat)}"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _dates(dates: tuple[dt.date, ...], lang: str) -> str:
    sep = "、" if lang == "zh-CN" else ", "
    return sep.join(d.isoformat() for d in dates)


def measure(
    loaded: LoadedProfile,
    fact: CategoryFact,
    rule: CategoryMeasures,
    kind: str,
    start: dt.date,
    end: dt.date,
    tests: tuple[dt.date, ...],
    tz: dt.tzinfo = DEFAULT_TZ,
) -> tuple[str, str]:
    days = (end - start).days + 1
    span_zh, span_en = f"{start.isoformat()}至{end.isoformat()}", f"{start.isoformat()} to {end.isoformat()}"
    title_zh, title_en = _title(loaded, "zh-CN"), _title(loaded, "en")
    if kind == "test_schedule":
        zh = f"{_why(fact, 'zh-CN', tz)}。按《{title_zh}》，须在{days}天内（{span_zh}）"
        zh += f"完成{len(tests)}次核酸检测"
        en = (
            f'{_why(fact, "en", tz)}. Under "{title_en}" you are to be tested {len(tests)} time'
            f"{'s' if len(tests) != 1 else ''} within {days} days ({span_en})"
        )
    else:
        zh_kind, en_kind = t(f"measure_kind.{kind}", "zh-CN"), t(f"measure_kind.{kind}", "en")
        zh = f"{_why(fact, 'zh-CN', tz)}。按《{title_zh}》，须{zh_kind}{days}天（{span_zh}）"
        en = (
            f'{_why(fact, "en", tz)}. Under "{title_en}" you are to follow {en_kind} for {days} '
            f"day{'s' if days != 1 else ''} ({span_en})"
        )
    if tests:
        zh += f"，于{_dates(tests, 'zh-CN')}进行核酸检测"
        en += f", with a test on {_dates(tests, 'en')}"
    if rule.mode == "shadow":
        zh += "（试运行规则，仅记录，不执行）"
        en += " (shadow rule: recorded, not acted on)"
    return zh + "。", en + "."


def upgrade(loaded: LoadedProfile, fact: CategoryFact, tz: dt.tzinfo = DEFAULT_TZ) -> tuple[str, str]:
    day = local_date(fact.at, tz).isoformat()
    return (
        f"您于{day}接触的密切接触者已核酸阳性，"
        f"按《{_title(loaded, 'zh-CN')}》，您由密接的密接转为密切接触者。",
        f'The close contact you met on {day} has tested positive; under "{_title(loaded, "en")}" you are '
        "now a close contact.",
    )


def ct_release(loaded: LoadedProfile, category: str, day: dt.date, rule: CtRelease) -> tuple[str, str]:
    genes = "、".join(rule.genes)
    return (
        f"您已连续{rule.consecutive}次核酸检测{genes}基因Ct值≥{rule.ct_at_least:g}（间隔≥{rule.min_interval}），"
        f"于{day.isoformat()}达到解除隔离标准。",
        f"{rule.consecutive} consecutive tests with Ct ≥ {rule.ct_at_least:g} on {', '.join(rule.genes)} "
        f"(≥ {rule.min_interval} apart): release criteria met on {day.isoformat()}.",
    )


def color(
    loaded: LoadedProfile,
    color_: str,
    category: str,
    fact: CategoryFact,
    until: dt.date | None,
    tz: dt.tzinfo = DEFAULT_TZ,
) -> tuple[str, str]:
    zh = f"{_why(fact, 'zh-CN', tz)}，按《{_title(loaded, 'zh-CN')}》赋{t(f'health_code.{color_}', 'zh-CN')}"
    en = f'{_why(fact, "en", tz)}; under "{_title(loaded, "en")}" your code is {color_}'
    if until is not None:
        zh += f"，管控措施于{until.isoformat()}结束后转为绿码"
        en += f" until your measures end on {until.isoformat()}"
    else:
        zh += "，按要求完成核酸检测且结果阴性后转为绿码"
        en += " until the required negative tests are done"
    return zh + "。", en + "."


def green(loaded: LoadedProfile) -> tuple[str, str]:
    return (
        f"按《{_title(loaded, 'zh-CN')}》，您目前没有管控措施，健康码为绿码。",
        f'Under "{_title(loaded, "en")}" you have no measures; your code is green.',
    )
