"""Properties of the engine's plans, for random profiles, categories, clocks and test histories:
measures never overlap, end after they start, keep their test days inside them, and account
for every enforced decision; the answer is deterministic."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fangkong.policy import calendar
from fangkong.policy.engine import evaluate
from fangkong.policy.facts import CategoryFact, Evaluation, Facts
from fangkong.policy.facts import TestFact as NatTest  # not "Test…": pytest would try to collect it
from fangkong.policy.loader import LoadedProfile, load, load_shipped, shipped_ids
from fangkong.policy.schema import CATEGORIES, MEASURE_STRENGTH
from tests.policy.refresh_golden import GOLDEN

STRENGTH = {kind: i for i, kind in enumerate(MEASURE_STRENGTH)}
ZONES: tuple[dt.tzinfo, ...] = (
    zoneinfo.ZoneInfo("Asia/Shanghai"),
    dt.UTC,
    zoneinfo.ZoneInfo("America/New_York"),
    dt.timezone(dt.timedelta(hours=14)),
)
SHANGHAI = ZONES[0]
PROFILES = (*shipped_ids(), "city-shadow")  # the golden test-local profile: shadow and off modes
SHADOW_TEXT = "(shadow rule: recorded, not acted on)."


@cache
def profile(pid: str) -> LoadedProfile:
    if pid == "city-shadow":
        return load(GOLDEN / "profiles" / "city-shadow.yaml")
    return load_shipped(pid)


def base(loaded: LoadedProfile) -> dt.date:
    return loaded.profile.effective_from + dt.timedelta(days=10)


@st.composite
def moments(draw: st.DrawFn, around: dt.date, before: int, after: int) -> dt.datetime:
    day = around + dt.timedelta(days=draw(st.integers(-before, after)))
    minute = draw(st.integers(0, 24 * 60 - 1))
    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    return local.replace(tzinfo=draw(st.sampled_from(ZONES)))


@st.composite
def clocks(draw: st.DrawFn, around: dt.date) -> dt.date | dt.datetime:
    if draw(st.booleans()):
        return around + dt.timedelta(days=draw(st.integers(-30, 30)))
    return draw(moments(around, 30, 30))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, Facts, dt.datetime]:
    pid = draw(st.sampled_from(PROFILES))
    start = base(profile(pid))
    cats = draw(st.lists(st.sampled_from(CATEGORIES), unique=True, max_size=5))
    categories = tuple(
        CategoryFact(
            c,
            draw(clocks(start)),
            setting=draw(st.sampled_from([None, "household", "venue", "workplace"])),
            place=draw(st.sampled_from([None, "春熙路商场"])),
            close_contact_positive=draw(st.booleans()),
        )
        for c in cats
    )
    ct = st.floats(min_value=10, max_value=45, allow_nan=False)
    tests = tuple(
        NatTest(
            draw(moments(start, 32, 60)),
            draw(st.sampled_from(["positive", "negative", "invalid"])),
            draw(st.dictionaries(st.sampled_from(["N", "ORF"]), ct)),
        )
        for _ in range(draw(st.integers(0, 6)))
    )
    if draw(st.booleans()):  # a run of daily tests, often enough to meet a release rule
        first = draw(moments(start, 3, 12))
        tests += tuple(
            NatTest(
                first + dt.timedelta(hours=24 * i + draw(st.integers(-3, 3))),
                draw(st.sampled_from(["negative", "negative", "positive", "invalid"])),
                draw(st.fixed_dictionaries({"N": st.floats(30, 40), "ORF": st.floats(30, 40)})),
            )
            for i in range(draw(st.integers(1, 5)))
        )
    as_of = draw(moments(start, 10, 40))
    return pid, Facts(categories, tests), as_of


def days_of(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def day_kinds(ev: Evaluation) -> dict[dt.date, str]:
    return {day: s.kind for s in ev.plan for day in days_of(s.start, s.end)}


def measure_decisions(ev: Evaluation, mode: str) -> list[dict[str, Any]]:
    return [d.data for d in ev.decisions if d.kind == "measure" and d.mode == mode]


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_segments_never_overlap_and_hold_their_tests(case: tuple[str, Facts, dt.datetime]) -> None:
    pid, facts, as_of = case
    ev = evaluate(profile(pid), facts, as_of)
    for s in ev.plan:
        assert s.start <= s.end
        assert list(s.test_dates) == sorted(set(s.test_dates))
        assert all(s.start <= d <= s.end for d in s.test_dates), s
        assert s.rule_id.startswith(f"measures.{s.category}.phases[")
    for a, b in zip(ev.plan, ev.plan[1:], strict=False):
        assert a.end < b.start, (a, b)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_the_plan_accounts_for_every_enforced_measure(case: tuple[str, Facts, dt.datetime]) -> None:
    """Every day of an enforced measure is in the plan, under a measure at least as strong, and
    keeps its test days; the plan has no day and no test no enforced measure asked for.
    Shadow measures are decisions only (their reason says so), never in the plan."""
    pid, facts, as_of = case
    ev = evaluate(profile(pid), facts, as_of)
    kinds = day_kinds(ev)
    plan_tests = {d for s in ev.plan for d in s.test_dates}
    asked_days: set[dt.date] = set()
    asked_tests: set[dt.date] = set()
    for data in measure_decisions(ev, "enforce"):
        start, end = dt.date.fromisoformat(data["start"]), dt.date.fromisoformat(data["end"])
        assert start <= end
        for day in days_of(start, end):
            assert day in kinds, (day, data)
            assert STRENGTH[kinds[day]] <= STRENGTH[data["kind"]], (day, kinds[day], data)
        tests = {dt.date.fromisoformat(t) for t in data["test_dates"]}
        assert all(start <= t <= end for t in tests)
        assert tests <= plan_tests, (tests - plan_tests, data)
        asked_days |= set(days_of(start, end))
        asked_tests |= tests
    assert set(kinds) == asked_days
    assert plan_tests == asked_tests
    for d in ev.decisions:
        if d.mode == "shadow" and d.kind == "measure":
            assert d.reason_en.endswith(SHADOW_TEXT)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_decisions_follow_the_modes(case: tuple[str, Facts, dt.datetime]) -> None:
    pid, facts, as_of = case
    loaded = profile(pid)
    p = loaded.profile
    ev = evaluate(loaded, facts, as_of)
    for d in ev.decisions:
        assert (d.profile_id, d.version, d.checksum) == (loaded.id, loaded.version, loaded.checksum)
        if d.kind in ("measure", "release"):
            rule = p.measures[d.category]  # type: ignore[index]
            assert rule.mode != "off" and d.mode == rule.mode
    code = [d for d in ev.decisions if d.kind == "health_code"]
    if p.health_code is None or p.health_code.mode == "off":
        assert code == [] and ev.color == "green"
    else:
        assert len(code) == 1 and code[0].mode == p.health_code.mode
        shown = code[0].data["color"] if p.health_code.mode == "enforce" else "green"
        assert ev.color == shown
        assert code[0].rule_id == f"health_code.{code[0].data['color']}"


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_answer_is_deterministic(case: tuple[str, Facts, dt.datetime], rnd: Any) -> None:
    pid, facts, as_of = case
    first = evaluate(profile(pid), facts, as_of).as_dict()
    assert evaluate(profile(pid), facts, as_of).as_dict() == first
    # the order in which facts are given changes neither the days, nor the tests, nor the colour
    # (which category a segment is attributed to may differ between equal measures)
    shuffled = list(facts.categories)
    rnd.shuffle(shuffled)
    tests = list(facts.tests)
    rnd.shuffle(tests)
    other = evaluate(profile(pid), Facts(tuple(shuffled), tuple(tests)), as_of)
    again = evaluate(profile(pid), facts, as_of)
    assert day_kinds(other) == day_kinds(again)
    assert {d for s in other.plan for d in s.test_dates} == {d for s in again.plan for d in s.test_dates}
    assert other.color == again.color


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PROFILES), st.sampled_from(CATEGORIES), st.data())
def test_one_category_alone(pid: str, category: str, data: st.DataObject) -> None:
    """One category from one clock: its phases laid end to end from day 1, as the profile says."""
    loaded = profile(pid)
    clock = data.draw(clocks(base(loaded)))
    ev = evaluate(
        loaded,
        Facts((CategoryFact(category, clock),)),
        dt.datetime.combine(base(loaded), dt.time(12), SHANGHAI),
    )
    rule = loaded.profile.measures.get(category)  # type: ignore[call-overload]
    if rule is None or rule.mode != "enforce":
        assert ev.plan == ()
        return
    first = calendar.day_one(calendar.local_date(clock), loaded.profile.day_counting.day_one)
    assert ev.plan[0].start == first
    total = sum(ph.length.days for ph in rule.phases)
    assert ev.plan[-1].end == first + dt.timedelta(days=total - 1)
    assert [s.kind for s in ev.plan] == [ph.kind for ph in rule.phases]
    for s, ph in zip(ev.plan, rule.phases, strict=True):
        assert (s.end - s.start).days + 1 == ph.length.days
        expected = ph.test_days or (calendar.spread(ph.tests, ph.length.days) if ph.tests else [])
        assert [(d - s.start).days + 1 for d in s.test_dates] == expected


@given(st.integers(1, 30), st.integers(1, 30))
def test_spread_places_every_test_on_its_own_day(tests: int, length: int) -> None:
    if tests > length:
        return  # refused by the schema: no more than one test a day
    spread = calendar.spread(tests, length)
    assert len(spread) == tests
    assert spread == sorted(set(spread))
    assert spread[0] == 1 and (tests == 1 or spread[-1] == length)
    assert all(1 <= d <= length for d in spread)


def _with_ct() -> list[tuple[str, str]]:
    return [
        (pid, c)
        for pid in PROFILES
        for c, rule in profile(pid).profile.measures.items()
        if rule.release.ct is not None and rule.mode == "enforce"
    ]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_with_ct()), st.data())
def test_ct_release_shortens_only_the_first_phase(case: tuple[str, str], data: st.DataObject) -> None:
    """With or without a release, the phases keep their order, lengths after the first, and
    test days; a release ends the first phase on its date (never before day 1) and shifts the rest."""
    pid, category = case
    loaded = profile(pid)
    clock = data.draw(moments(base(loaded), 0, 0))
    first = data.draw(moments(base(loaded), 1, 12))
    tests = tuple(
        NatTest(
            first + dt.timedelta(hours=data.draw(st.integers(0, 40)) * i),
            data.draw(st.sampled_from(["negative", "positive", "invalid"])),
            data.draw(st.fixed_dictionaries({"N": st.floats(30, 40), "ORF": st.floats(30, 40)})),
        )
        for i in range(data.draw(st.integers(0, 5)))
    )
    as_of = clock + dt.timedelta(days=3)
    fact = CategoryFact(category, clock)
    baseline = evaluate(loaded, Facts((fact,)), as_of).plan
    ev = evaluate(loaded, Facts((fact,), tests), as_of)
    releases = [d for d in ev.decisions if d.kind == "release"]
    if not releases:
        assert ev.plan == baseline
        return
    released = dt.date.fromisoformat(releases[0].data["released_on"])
    assert released <= baseline[0].end  # met on the last day: a release, nothing shortened
    assert ev.plan[0].start == baseline[0].start
    assert ev.plan[0].end == max(released, baseline[0].start)
    assert ev.plan[0].test_dates == tuple(d for d in baseline[0].test_dates if d <= ev.plan[0].end)
    shift = baseline[0].end - ev.plan[0].end
    assert len(ev.plan) == len(baseline)
    for new, old in zip(ev.plan[1:], baseline[1:], strict=True):
        assert (new.kind, new.start + shift, new.end + shift) == (old.kind, old.start, old.end)
        assert tuple(d + shift for d in new.test_dates) == old.test_dates
