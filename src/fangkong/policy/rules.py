"""The other rule types as pure functions: risk-area lifting, pool sizes, result deadlines,
mass-testing rounds and investigation deadlines. Each answers with a Decision that names its
rule, the profile, version and checksum, and a reason in zh-CN and en."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from fangkong.errors import ErrorDetail, PolicyError
from fangkong.policy.facts import Decision
from fangkong.policy.loader import LoadedProfile
from fangkong.policy.units import Duration


def _decision(
    loaded: LoadedProfile, rule_id: str, mode: str, kind: str, zh: str, en: str, data: dict[str, object]
) -> Decision:
    p = loaded.profile
    return Decision(rule_id, p.profile_id, p.version, loaded.checksum, mode, kind, None, zh, en, data)


def _missing(loaded: LoadedProfile, block: str) -> PolicyError:
    return PolicyError(
        f"profile {loaded.id} has no {block} rules",
        [ErrorDetail(block, "not defined in this profile", loaded.id)],
    )


# ---------------------------------------------------------------- risk areas


@dataclass(frozen=True)
class AreaStatus:
    level: str  # the level in force on as_of
    next_level: str | None
    next_on: dt.date | None  # the first day at the next level, if its conditions hold
    waiting_for_round_on: dt.date | None  # a negative round still needed on this day
    decision: Decision


def area_level(
    loaded: LoadedProfile,
    designated: str,
    last_infection: dt.date,
    negative_rounds: Sequence[dt.date],
    today: dt.date,
) -> AreaStatus:
    """The level of an area designated `designated` whose last new infection was on
    `last_infection`, given the days of all-negative rounds, on `today`. Days without infection
    are counted from the day after the last infection (day 1)."""
    areas = loaded.profile.risk_areas
    if areas is None:
        raise _missing(loaded, "risk_areas")
    if designated not in areas.levels:
        raise PolicyError(
            f"unknown risk level {designated!r} in {loaded.id}",
            [ErrorDetail("level", f"expected one of {', '.join(areas.order)}", designated)],
        )
    rounds = set(negative_rounds)
    level, rule_id = designated, f"risk_areas.levels.{designated}"
    day_of = (today - last_infection).days  # today is day N without infection
    next_level = next_on = waiting = None
    for i, step in enumerate(areas.levels[designated].lift):
        round_day = (
            last_infection + dt.timedelta(days=step.negative_round_on_day)
            if step.negative_round_on_day
            else None
        )
        due = last_infection + dt.timedelta(days=step.days_without_infection + 1)
        round_ok = round_day is None or round_day in rounds
        if day_of > step.days_without_infection and round_ok:
            level, rule_id = step.to, f"risk_areas.levels.{designated}.lift[{i}]"
            continue
        next_level, next_on = step.to, due
        waiting = round_day if not round_ok else None
        break
    labels = areas.levels[level].label
    zh = f"该区域最后一例新增感染于{last_infection.isoformat()}，现为{labels.zh_CN}"
    en = f"Last new infection on {last_infection.isoformat()}: now a {labels.en.lower()}"
    if next_level is not None and next_on is not None:
        nxt = areas.levels[next_level].label
        zh += f"；如无新增感染，{next_on.isoformat()}起调整为{nxt.zh_CN}"
        en += f"; without new infections it becomes a {nxt.en.lower()} on {next_on.isoformat()}"
        if waiting is not None:
            zh += f"（须{waiting.isoformat()}全员核酸检测均为阴性）"
            en += f" (after an all-negative round on {waiting.isoformat()})"
    measures = areas.levels[level].measures
    zh += f"。区内措施：{measures.zh_CN}。"
    en += f". Measures inside: {measures.en}."
    decision = _decision(
        loaded,
        rule_id,
        areas.mode,
        "risk_area",
        zh,
        en,
        {
            "level": level,
            "next_level": next_level,
            "next_on": next_on.isoformat() if next_on else None,
            "round_needed_on": waiting.isoformat() if waiting else None,
        },
    )
    return AreaStatus(level, next_level, next_on, waiting, decision)


# ---------------------------------------------------------------- testing


def pool_size(loaded: LoadedProfile, *, group: str | None = None, area_level: str | None = None) -> Decision:
    """How many swabs go in one tube for this group (e.g. quarantine_site) or area level."""
    testing = loaded.profile.testing
    if testing is None:
        raise _missing(loaded, "testing")
    pooling = testing.pooling
    if group is not None and group in pooling.single_tube_for:
        size, rule_id = 1, "testing.pooling.single_tube_for"
    elif area_level is not None and area_level in pooling.by_area_level:
        size, rule_id = pooling.by_area_level[area_level], f"testing.pooling.by_area_level.{area_level}"
    else:
        size, rule_id = pooling.default_size, "testing.pooling.default_size"
    zh = "单人单管" if size == 1 else f"{size}合1混采"
    en = "one person per tube" if size == 1 else f"{size}-in-1 pooled tubes"
    return _decision(
        loaded,
        rule_id,
        testing.mode,
        "pool_size",
        f"按《{loaded.profile.title.zh_CN}》采用{zh}。",
        f'Under "{loaded.profile.title.en}": {en}.',
        {"pool_size": size},
    )


def result_deadline(loaded: LoadedProfile, setting: str, sampled_at: dt.datetime) -> Decision:
    """By when a result is due (fever_clinic, outpatient, screening, positive_onward …)."""
    testing = loaded.profile.testing
    if testing is None:
        raise _missing(loaded, "testing")
    if setting not in testing.result_deadlines:
        raise PolicyError(
            f"no result deadline for {setting!r} in {loaded.id}",
            [
                ErrorDetail(
                    "setting", f"expected one of {', '.join(sorted(testing.result_deadlines))}", setting
                )
            ],
        )
    limit = testing.result_deadlines[setting]
    due = sampled_at + dt.timedelta(seconds=limit.seconds)
    return _decision(
        loaded,
        f"testing.result_deadlines.{setting}",
        testing.mode,
        "result_deadline",
        f"结果须在采样后{limit}内（{due.isoformat(timespec='minutes')}前）报告。",
        f"The result is due within {limit} of sampling (by {due.isoformat(timespec='minutes')}).",
        {"due": due.isoformat()},
    )


def mass_testing(loaded: LoadedProfile, rounds: Sequence[tuple[dt.date, int]], today: dt.date) -> Decision:
    """Whether a mass-testing campaign goes on: `rounds` are (day, community positives found).
    Stops after `clear_rounds` clear rounds in a row, then (if the rule says so) a final round
    `then_wait` later."""
    testing = loaded.profile.testing
    mt = testing.mass_testing if testing else None
    if mt is None:
        raise _missing(loaded, "testing.mass_testing")
    stop = mt.stop_rule
    clear = 0
    for _day, positives in sorted(rounds):
        clear = clear + 1 if positives == 0 else 0
    last = max((d for d, _ in rounds), default=None)
    cadence = dt.timedelta(seconds=mt.cadence.seconds)
    if mt.mode == "off":
        action, when = "stop", None
    elif clear < stop.clear_rounds:
        action, when = "continue", (last + cadence) if last else today
    elif stop.final_round and stop.then_wait is not None and clear == stop.clear_rounds:
        action, when = "final_round", last + dt.timedelta(seconds=stop.then_wait.seconds) if last else today
    else:
        action, when = "stop", None
    texts = {
        "continue": (
            f"已连续{clear}轮无社会面感染，继续每{mt.cadence}一轮",
            f"{clear} clear round(s) in a row: go on, one round every {mt.cadence}",
        ),
        "final_round": (
            f"已连续{clear}轮无社会面感染，间隔{stop.then_wait}后再开展一轮",
            f"{clear} clear rounds: one more round after {stop.then_wait}",
        ),
        "stop": ("达到停止条件，结束区域核酸检测", "The stop rule is met: end the campaign"),
    }
    zh, en = texts[action]
    if when is not None:
        zh += f"（下一轮：{when.isoformat()}）"
        en += f" (next round: {when.isoformat()})"
    return _decision(
        loaded,
        "testing.mass_testing.stop_rule",
        mt.mode,
        "mass_testing",
        zh + "。",
        en + ".",
        {"action": action, "next_round": when.isoformat() if when else None, "clear_rounds": clear},
    )


# ---------------------------------------------------------------- investigation


def investigation_deadlines(loaded: LoadedProfile, notified_at: dt.datetime) -> Decision:
    """The "2+4+24" clock: on site, core facts and report deadlines from the notification."""
    inv = loaded.profile.investigation
    if inv is None:
        raise _missing(loaded, "investigation")

    def at(limit: Duration) -> str:
        return (notified_at + dt.timedelta(seconds=limit.seconds)).isoformat(timespec="minutes")

    data: dict[str, object] = {
        "on_site": at(inv.on_site),
        "core_facts": at(inv.core_facts),
        "report": at(inv.report),
    }
    return _decision(
        loaded,
        "investigation",
        inv.mode,
        "investigation",
        f"流调时限：{inv.on_site}内到达现场（{data['on_site']}前），{inv.core_facts}内查清核心信息"
        f"（{data['core_facts']}前），{inv.report}内完成报告（{data['report']}前）。",
        f"Investigation clock: on site within {inv.on_site} (by {data['on_site']}), core facts within "
        f"{inv.core_facts} (by {data['core_facts']}), report within {inv.report} (by {data['report']}).",
        data,
    )
