"""evaluate(profile, facts, as_of) -> Evaluation: the pure, deterministic policy engine.

For each category the person belongs to, the profile's measures give phases laid end to end
from the category's clock (see calendar.py). Categories that overlap in time are combined
day by day: the strongest measure applies (hospital > central quarantine > home quarantine >
stay in place > home monitoring > testing > self monitoring), so the plan never overlaps
itself. The health-code colour follows the profile's triggers. Every decision names its
rule, the profile, its version and checksum, and a reason a resident can read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fangkong.policy import calendar, reasons
from fangkong.policy.facts import CategoryFact, Decision, Evaluation, Facts, Segment, TestFact
from fangkong.policy.loader import LoadedProfile
from fangkong.policy.schema import MEASURE_STRENGTH, CategoryMeasures, ColorTrigger, CtRelease

_STRENGTH = {kind: i for i, kind in enumerate(MEASURE_STRENGTH)}


@dataclass(frozen=True)
class _Phase:
    kind: str
    start: dt.date
    end: dt.date
    test_dates: tuple[dt.date, ...]
    category: str
    rule_id: str


def evaluate(
    loaded: LoadedProfile, facts: Facts, as_of: dt.datetime, *, tz: dt.tzinfo = calendar.DEFAULT_TZ
) -> Evaluation:
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    profile = loaded.profile
    decisions: list[Decision] = []
    enforced: list[_Phase] = []
    spans: dict[str, tuple[dt.date, dt.date]] = {}  # category -> first and last day (enforced)
    for fact in _upgraded(loaded, facts, decisions, tz):
        rule = profile.measures.get(fact.category)  # type: ignore[call-overload]
        if rule is None or rule.mode == "off":
            continue
        phases = _phases(loaded, fact, rule, facts.tests, tz, decisions)
        for ph in phases:
            decisions.append(_measure_decision(loaded, fact, rule, ph, tz))
        if rule.mode == "enforce" and phases:
            enforced.extend(phases)
            first, last = phases[0].start, phases[-1].end
            old = spans.get(fact.category)
            spans[fact.category] = (min(first, old[0]), max(last, old[1])) if old else (first, last)
    plan = _combine(enforced)
    color, color_decision = _health_code(loaded, facts, spans, as_of, tz)
    if color_decision is not None:
        decisions.append(color_decision)
    return Evaluation(
        profile.profile_id, profile.version, loaded.checksum, as_of, plan, color, tuple(decisions)
    )


def measures_for(loaded: LoadedProfile, category: str, clock_date: dt.date | dt.datetime) -> Evaluation:
    """The plan for one category from one clock event (e.g. a close contact's last exposure)."""
    at = (
        clock_date
        if isinstance(clock_date, dt.datetime)
        else dt.datetime.combine(clock_date, dt.time(12), calendar.DEFAULT_TZ)
    )
    return evaluate(loaded, Facts(categories=(CategoryFact(category, clock_date),)), at)


# ---------------------------------------------------------------- categories and phases


def _upgraded(
    loaded: LoadedProfile, facts: Facts, decisions: list[Decision], tz: dt.tzinfo
) -> list[CategoryFact]:
    """Secondary contacts whose close contact turned positive become close contacts."""
    contacts = loaded.profile.contacts
    rule = contacts.secondary_contact if contacts else None
    out = []
    for fact in facts.categories:
        if (
            fact.category == "secondary_contact"
            and fact.close_contact_positive
            and rule is not None
            and rule.mode != "off"
            and rule.upgrade_on_positive
        ):
            upgraded = CategoryFact("close_contact", fact.at, fact.setting, fact.place, fact.source)
            decisions.append(
                _decision(
                    loaded,
                    "contacts.secondary_contact.upgrade_on_positive",
                    rule.mode,
                    "upgrade",
                    "close_contact",
                    *reasons.upgrade(loaded, fact, tz),
                )
            )
            if rule.mode == "enforce":
                out.append(upgraded)
                continue
        out.append(fact)
    return out


def _phases(
    loaded: LoadedProfile,
    fact: CategoryFact,
    rule: CategoryMeasures,
    tests: tuple[TestFact, ...],
    tz: dt.tzinfo,
    decisions: list[Decision],
) -> list[_Phase]:
    start = calendar.local_date(fact.at, tz)
    first = calendar.day_one(start, loaded.profile.day_counting.day_one)
    out: list[_Phase] = []
    released = _ct_release(rule.release.ct, tests, fact, tz) if rule.release.ct else None
    for i, phase in enumerate(rule.phases):
        days = phase.length.days
        end = calendar.day_date(first, days)
        if i == 0 and released is not None and released <= end:
            end = max(released, first)
            decisions.append(
                _decision(
                    loaded,
                    f"measures.{fact.category}.release.ct",
                    rule.mode,
                    "release",
                    fact.category,
                    *reasons.ct_release(loaded, fact.category, released, rule.release.ct),  # type: ignore[arg-type]
                    data={"released_on": released.isoformat()},
                )
            )
        numbers = phase.test_days or (calendar.spread(phase.tests, days) if phase.tests else [])
        test_dates = tuple(d for n in numbers if (d := calendar.day_date(first, n)) <= end)
        out.append(
            _Phase(phase.kind, first, end, test_dates, fact.category, f"measures.{fact.category}.phases[{i}]")
        )
        first = end + dt.timedelta(days=1)
    return out


def _ct_release(
    rule: CtRelease, tests: tuple[TestFact, ...], fact: CategoryFact, tz: dt.tzinfo
) -> dt.date | None:
    """The local date on which the release rule was met: `consecutive` tests in a row, each at
    least `min_interval` after the previous one, negative or with Ct ≥ `ct_at_least` on every
    gene. A test that does not qualify breaks the run; invalid results are ignored."""
    clock = fact.at if isinstance(fact.at, dt.datetime) else dt.datetime.combine(fact.at, dt.time(0), tz)
    gap = dt.timedelta(seconds=rule.min_interval.seconds)
    chain: list[dt.datetime] = []
    for test in sorted((t for t in tests if t.sampled_at >= clock), key=lambda t: t.sampled_at):
        if test.result == "invalid":
            continue
        qualifies = test.result == "negative" or all(
            test.ct.get(g) is not None and test.ct[g] >= rule.ct_at_least for g in rule.genes
        )
        if not qualifies:
            chain = []
            continue
        if chain and test.sampled_at - chain[-1] < gap:
            continue  # too soon after the previous qualifying test: it does not count
        chain.append(test.sampled_at)
        if len(chain) >= rule.consecutive:
            return test.sampled_at.astimezone(tz).date()
    return None


def _combine(phases: list[_Phase]) -> tuple[Segment, ...]:
    """Lay the phases of all categories on one calendar; the strongest measure wins each day,
    and every category's test days are kept."""
    if not phases:
        return ()
    winner: dict[dt.date, _Phase] = {}
    for ph in phases:
        day = ph.start
        while day <= ph.end:
            current = winner.get(day)
            if (
                current is None
                or _STRENGTH[ph.kind] < _STRENGTH[current.kind]
                or (_STRENGTH[ph.kind] == _STRENGTH[current.kind] and ph.end > current.end)
            ):
                winner[day] = ph
            day += dt.timedelta(days=1)
    segments: list[Segment] = []
    days = sorted(winner)
    runs: list[list[dt.date]] = []
    for day in days:
        if runs and winner[day] is winner[runs[-1][-1]] and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    all_tests = {d for ph in phases for d in ph.test_dates}
    for run in runs:
        ph = winner[run[0]]
        # Every test any category asks for on these days is kept (more tests never hurt; a
        # stronger measure must not swallow the weaker one's test days).
        tests = tuple(sorted(d for d in all_tests if run[0] <= d <= run[-1]))
        segments.append(Segment(ph.kind, run[0], run[-1], tests, ph.category, ph.rule_id))
    return tuple(segments)


# ---------------------------------------------------------------- health code


def _health_code(
    loaded: LoadedProfile,
    facts: Facts,
    spans: dict[str, tuple[dt.date, dt.date]],
    as_of: dt.datetime,
    tz: dt.tzinfo,
) -> tuple[str, Decision | None]:
    code = loaded.profile.health_code
    if code is None or code.mode == "off":
        return "green", None
    today = as_of.astimezone(tz).date()
    for color, trigger in (("red", code.red), ("yellow", code.yellow)):
        for category in trigger.categories:
            rule = loaded.profile.measures.get(category)
            if rule is not None and rule.mode != "enforce":
                continue  # a shadow or switched-off category does not colour the code
            held = _holds(trigger, category, facts, spans, as_of, today, tz)
            if held is not None:
                until, fact = held
                return (color if code.mode == "enforce" else "green"), _decision(
                    loaded,
                    f"health_code.{color}",
                    code.mode,
                    "health_code",
                    category,
                    *reasons.color(loaded, color, category, fact, until, tz),
                    data={"color": color, "until": until.isoformat() if until else None},
                )
    return "green", _decision(
        loaded,
        "health_code.green",
        code.mode,
        "health_code",
        None,
        *reasons.green(loaded),
        data={"color": "green", "until": None},
    )


def _holds(
    trigger: ColorTrigger,
    category: str,
    facts: Facts,
    spans: dict[str, tuple[dt.date, dt.date]],
    as_of: dt.datetime,
    today: dt.date,
    tz: dt.tzinfo,
) -> tuple[dt.date | None, CategoryFact] | None:
    fact = next((f for f in facts.categories if f.category == category), None)
    if fact is None and category == "close_contact":
        fact = next(
            (f for f in facts.categories if f.category == "secondary_contact" and f.close_contact_positive),
            None,
        )
    if fact is None:
        return None
    if trigger.until == "measures_end":
        span = spans.get(category)
        # The colour holds from the clock's own day (the day the person was put in the
        # category) to the end of the category's measures.
        if span is not None and calendar.local_date(fact.at, tz) <= today <= span[1]:
            return span[1], fact
        return None
    rule = trigger.return_to_green
    assert rule is not None
    clock = fact.at if isinstance(fact.at, dt.datetime) else dt.datetime.combine(fact.at, dt.time(0), tz)
    if as_of < clock:
        return None
    negatives = sorted(t.sampled_at for t in facts.tests if t.result == "negative" and t.sampled_at >= clock)
    window = dt.timedelta(seconds=rule.within.seconds)
    gap = dt.timedelta(seconds=rule.min_interval.seconds) if rule.min_interval else dt.timedelta(0)
    chain: list[dt.datetime] = []
    for at in negatives:
        if at > as_of or at - clock > window:
            break
        if chain and at - chain[-1] < gap:
            continue
        chain.append(at)
        if len(chain) >= rule.negative_tests:
            return None
    return None, fact


# ---------------------------------------------------------------- decisions


def _measure_decision(
    loaded: LoadedProfile, fact: CategoryFact, rule: CategoryMeasures, ph: _Phase, tz: dt.tzinfo
) -> Decision:
    zh, en = reasons.measure(loaded, fact, rule, ph.kind, ph.start, ph.end, ph.test_dates, tz)
    return _decision(
        loaded,
        ph.rule_id,
        rule.mode,
        "measure",
        fact.category,
        zh,
        en,
        data={
            "kind": ph.kind,
            "start": ph.start.isoformat(),
            "end": ph.end.isoformat(),
            "test_dates": [d.isoformat() for d in ph.test_dates],
        },
    )


def _decision(
    loaded: LoadedProfile,
    rule_id: str,
    mode: str,
    kind: str,
    category: str | None,
    zh: str,
    en: str,
    data: dict[str, object] | None = None,
) -> Decision:
    return Decision(
        rule_id,
        loaded.profile.profile_id,
        loaded.profile.version,
        loaded.checksum,
        mode,
        kind,
        category,
        zh,
        en,
        dict(data or {}),
    )
