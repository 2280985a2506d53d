"""The engine: day counting, overlapping categories, release by Ct, health-code colours,
modes, and decisions that name their rule and read well in both languages."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import Any

import pytest

from fangkong.policy import calendar
from fangkong.policy.engine import evaluate, measures_for
from fangkong.policy.facts import CategoryFact, Evaluation, Facts
from fangkong.policy.facts import TestFact as NatTest  # not "Test…": pytest would try to collect it
from fangkong.policy.loader import LoadedProfile, load_shipped, loads, shipped_ids
from fangkong.policy.schema import MEASURE_STRENGTH

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
D = dt.date


def at(day: dt.date, hour: int = 12, minute: int = 0, tz: dt.tzinfo = SH) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tz)


def plan(ev: Evaluation) -> list[tuple[str, dt.date, dt.date, list[dt.date]]]:
    return [(s.kind, s.start, s.end, list(s.test_dates)) for s in ev.plan]


def days(*pairs: tuple[int, int]) -> list[dt.date]:
    return [D(2022, m, d) for m, d in pairs]


def jul(d: int) -> dt.date:
    return D(2022, 7, d)


def city(body: str, name: str = "city") -> LoadedProfile:
    return loads(f"profile_id: {name}\nversion: 1\nextends: cn-9th\n" + body, name=f"{name}.yaml")


@pytest.fixture(scope="module")
def cn9() -> LoadedProfile:
    return load_shipped("cn-9th")


# ---------------------------------------------------------------- day counting


def test_the_issue_example(cn9: LoadedProfile) -> None:
    """measures_for(cn-9th, close_contact, 2022-07-01): day 1 is 07-02, 7 days end on 07-08."""
    ev = measures_for(cn9, "close_contact", D(2022, 7, 1))
    assert plan(ev) == [
        ("central_quarantine", jul(2), jul(8), [jul(2), jul(3), jul(4), jul(6), jul(8)]),
        ("home_monitoring", jul(9), jul(11), [jul(11)]),
    ]
    assert ev.color == "red"


def test_day_one_start_day() -> None:
    loaded = city("day_counting: {day_one: start_day}\n")
    ev = measures_for(loaded, "close_contact", D(2022, 7, 1))
    assert plan(ev) == [
        ("central_quarantine", jul(1), jul(7), [jul(1), jul(2), jul(3), jul(5), jul(7)]),
        ("home_monitoring", jul(8), jul(10), [jul(10)]),
    ]


def test_calendar_helpers() -> None:
    assert calendar.day_one(jul(1), "after_start") == jul(2)
    assert calendar.day_one(jul(1), "start_day") == jul(1)
    assert calendar.day_date(jul(2), 7) == jul(8)
    assert calendar.spread(2, 3) == [1, 3]
    assert calendar.spread(3, 7) == [1, 4, 7]
    assert calendar.spread(4, 7) == [1, 3, 5, 7]
    assert calendar.spread(1, 5) == [1]
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.local_date(dt.datetime(2022, 7, 1, 12))


@pytest.mark.parametrize(
    ("clock", "first_day"),
    [
        (dt.datetime(2022, 7, 1, 23, 30, tzinfo=SH), jul(2)),  # late evening, local: still 07-01
        (dt.datetime(2022, 7, 1, 16, 30, tzinfo=dt.UTC), jul(3)),  # = 07-02 00:30 in Shanghai
        (dt.datetime(2022, 7, 1, 15, 59, tzinfo=dt.UTC), jul(2)),  # = 07-01 23:59 in Shanghai
        (dt.datetime(2022, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), jul(3)),
        (D(2022, 7, 1), jul(2)),
    ],
)
def test_local_dates_from_aware_times(cn9: LoadedProfile, clock: dt.date, first_day: dt.date) -> None:
    ev = measures_for(cn9, "close_contact", clock)
    assert ev.plan[0].start == first_day
    assert ev.plan[0].end == first_day + dt.timedelta(days=6)
    assert ev.plan[1].end == first_day + dt.timedelta(days=9)


def test_the_time_zone_is_a_parameter(cn9: LoadedProfile) -> None:
    clock = dt.datetime(2022, 7, 1, 16, 30, tzinfo=dt.UTC)
    facts = Facts((CategoryFact("close_contact", clock),))
    assert evaluate(cn9, facts, at(jul(3)), tz=dt.UTC).plan[0].start == jul(2)
    assert evaluate(cn9, facts, at(jul(3))).plan[0].start == jul(3)


def test_aware_times_are_required(cn9: LoadedProfile) -> None:
    with pytest.raises(ValueError, match="as_of must be timezone-aware"):
        evaluate(cn9, Facts(), dt.datetime(2022, 7, 1, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(cn9, Facts((CategoryFact("close_contact", dt.datetime(2022, 7, 1, 12)),)), at(jul(1)))


def test_test_schedules_are_spread(cn9: LoadedProfile) -> None:
    """3天2检: days 1 and 3 of the schedule."""
    ev = measures_for(cn9, "arrival_low_risk", D(2022, 7, 1))
    assert plan(ev) == [("test_schedule", jul(2), jul(4), [jul(2), jul(4)])]
    assert "2次核酸检测" in ev.decisions[0].reason_zh
    assert "tested 2 times within 3 days" in ev.decisions[0].reason_en


# ---------------------------------------------------------------- the answer


def test_measures_for_json_shape(cn9: LoadedProfile) -> None:
    out = measures_for(cn9, "close_contact", D(2022, 7, 1)).as_dict()
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out  # plain JSON values only
    assert list(out) == ["profile", "version", "checksum", "as_of", "measures", "health_code", "decisions"]
    assert (out["profile"], out["version"], out["checksum"]) == ("cn-9th", 1, cn9.checksum)
    assert out["as_of"] == "2022-07-01T12:00:00+08:00"
    assert out["measures"][0] == {
        "kind": "central_quarantine",
        "start": "2022-07-02",
        "end": "2022-07-08",
        "test_dates": ["2022-07-02", "2022-07-03", "2022-07-04", "2022-07-06", "2022-07-08"],
        "category": "close_contact",
        "rule_id": "measures.close_contact.phases[0]",
    }
    first = out["decisions"][0]
    assert set(first) == {
        "rule_id",
        "profile_id",
        "version",
        "checksum",
        "mode",
        "kind",
        "category",
        "reason_zh",
        "reason_en",
        "data",
    }
    assert first["data"] == {k: out["measures"][0][k] for k in ("kind", "start", "end", "test_dates")}
    assert [d["rule_id"] for d in out["decisions"]] == [
        "measures.close_contact.phases[0]",
        "measures.close_contact.phases[1]",
        "health_code.red",
    ]


def test_reasons_name_the_date_the_place_and_the_profile(cn9: LoadedProfile) -> None:
    fact = CategoryFact("close_contact", at(jul(1), 19), setting="venue", place="春熙路商场", source="病例3")
    ev = evaluate(cn9, Facts((fact,)), at(jul(2)))
    measure, color = ev.decisions[0], ev.decisions[-1]
    for d in (measure, color):
        assert "2022-07-01" in d.reason_zh and "2022-07-01" in d.reason_en
        assert "春熙路商场" in d.reason_zh and "春熙路商场" in d.reason_en
        assert "《新型冠状病毒肺炎防控方案（第九版）》" in d.reason_zh
        assert '"COVID-19 prevention and control protocol, 9th edition"' in d.reason_en
    assert measure.reason_zh.startswith(
        "因您于2022-07-01与病例在同一场所停留（春熙路商场），被判定为密切接触者"
    )
    assert "集中隔离医学观察7天（2022-07-02至2022-07-08）" in measure.reason_zh
    assert measure.reason_en.startswith(
        "Because on 2022-07-01 you stayed in the same place as a case (春熙路商场), you are a close contact"
    )
    assert "2022-07-02 to 2022-07-08" in measure.reason_en
    assert "赋红码" in color.reason_zh and "2022-07-11" in color.reason_zh
    assert "your code is red until your measures end on 2022-07-11" in color.reason_en


@pytest.mark.parametrize("profile_id", shipped_ids())
def test_every_decision_names_rule_profile_version_and_checksum(profile_id: str) -> None:
    loaded = load_shipped(profile_id)
    start = loaded.profile.effective_from
    facts = Facts(
        tuple(CategoryFact(c, start, close_contact_positive=True) for c in loaded.profile.measures),
        (NatTest(at(start + dt.timedelta(days=3)), "negative"),),
    )
    ev = evaluate(loaded, facts, at(start + dt.timedelta(days=2)))
    assert ev.decisions
    for d in ev.decisions:
        assert (d.profile_id, d.version, d.checksum) == (loaded.id, loaded.version, loaded.checksum)
        assert d.rule_id and d.reason_zh.endswith("。") and d.reason_en.endswith(".")
        assert d.mode in ("enforce", "shadow")
        assert d.kind in ("measure", "health_code", "upgrade", "release")
        if d.kind == "measure":
            assert d.rule_id.startswith(f"measures.{d.category}.phases[")


# ---------------------------------------------------------------- overlapping categories


def test_the_stronger_measure_wins_each_day(cn9: LoadedProfile) -> None:
    """The example of docs/policy-profiles.md: a close contact (07-01) who also arrived from
    a medium-risk area (07-06). Home quarantine beats home monitoring on 07-09..07-11."""
    facts = Facts((CategoryFact("close_contact", jul(1)), CategoryFact("arrival_medium_risk", jul(6))))
    ev = evaluate(cn9, facts, at(jul(7)))
    assert [(s.kind, s.start, s.end, s.category) for s in ev.plan] == [
        ("central_quarantine", jul(2), jul(8), "close_contact"),
        ("home_quarantine", jul(9), jul(13), "arrival_medium_risk"),
    ]
    assert MEASURE_STRENGTH.index("home_quarantine") < MEASURE_STRENGTH.index("home_monitoring")


def test_test_days_of_a_weaker_measure_are_kept(cn9: LoadedProfile) -> None:
    facts = Facts((CategoryFact("close_contact", jul(1)), CategoryFact("arrival_medium_risk", jul(6))))
    ev = evaluate(cn9, facts, at(jul(7)))
    # the arrival's day-1 test (07-07) falls in the close contact's central quarantine, and the
    # close contact's home-monitoring test (07-11) in the arrival's home quarantine
    assert ev.plan[0].test_dates == (jul(2), jul(3), jul(4), jul(6), jul(7), jul(8))
    assert ev.plan[1].test_dates == (jul(10), jul(11), jul(13))


def test_the_order_of_the_facts_does_not_change_the_days(cn9: LoadedProfile) -> None:
    a, b = CategoryFact("arrival_high_risk", jul(1)), CategoryFact("close_contact", jul(3))
    one, two = evaluate(cn9, Facts((a, b)), at(jul(4))), evaluate(cn9, Facts((b, a)), at(jul(4)))
    assert plan(one) == plan(two)
    # the same kind on the same days: the one that ends later wins
    assert [s.category for s in one.plan] == ["arrival_high_risk", "close_contact", "close_contact"]


def test_a_case_overrides_an_arrivals_quarantine(cn9: LoadedProfile) -> None:
    facts = Facts((CategoryFact("inbound_traveller", jul(1)), CategoryFact("confirmed", at(jul(4), 8))))
    ev = evaluate(cn9, facts, at(jul(5)))
    assert [(s.kind, s.start, s.end) for s in ev.plan] == [
        ("central_quarantine", jul(2), jul(4)),
        ("hospital", jul(5), jul(18)),
        ("home_monitoring", jul(19), jul(25)),
    ]
    assert ev.plan[1].test_dates == (jul(6), jul(8), jul(11))  # the traveller's remaining tests


def test_a_secondary_contact_is_upgraded(cn9: LoadedProfile) -> None:
    fact = CategoryFact("secondary_contact", jul(1), "household", close_contact_positive=True)
    ev = evaluate(cn9, Facts((fact,)), at(jul(3)))
    assert ev.decisions[0].rule_id == "contacts.secondary_contact.upgrade_on_positive"
    assert ev.decisions[0].kind == "upgrade" and ev.decisions[0].category == "close_contact"
    assert "2022-07-01" in ev.decisions[0].reason_zh and "密切接触者" in ev.decisions[0].reason_zh
    assert plan(ev) == plan(measures_for(cn9, "close_contact", jul(1)))
    assert ev.color == "red"
    not_yet = evaluate(cn9, Facts((CategoryFact("secondary_contact", jul(1), "household"),)), at(jul(3)))
    assert [s.kind for s in not_yet.plan] == ["home_quarantine"] and not_yet.color == "yellow"


def test_upgrades_follow_the_mode_of_the_rule() -> None:
    fact = CategoryFact("secondary_contact", jul(1), "household", close_contact_positive=True)
    shadow = evaluate(city("contacts: {secondary_contact: {mode: shadow}}\n"), Facts((fact,)), at(jul(3)))
    assert shadow.decisions[0].mode == "shadow" and shadow.decisions[0].kind == "upgrade"
    assert [(s.kind, s.category) for s in shadow.plan] == [("home_quarantine", "secondary_contact")]
    no_upgrade = city("contacts: {secondary_contact: {upgrade_on_positive: false}}\n")
    ev = evaluate(no_upgrade, Facts((fact,)), at(jul(3)))
    assert [d.kind for d in ev.decisions] == ["measure", "health_code"]
    off = evaluate(load_shipped("cn-9th-20m"), Facts((fact,)), at(jul(3)))
    assert (off.plan, [d.rule_id for d in off.decisions]) == ((), ["health_code.green"])


# ---------------------------------------------------------------- release by Ct


def ct_test(day: int, hour: int, n: float | None, orf: float | None, result: str = "positive") -> NatTest:
    ct = {g: v for g, v in (("N", n), ("ORF", orf)) if v is not None}
    return NatTest(at(jul(day), hour), result, ct)  # type: ignore[arg-type]


CONFIRMED = CategoryFact("confirmed", at(jul(1), 9))


def test_ct_release_shortens_the_first_phase_and_shifts_the_next(cn9: LoadedProfile) -> None:
    tests = (ct_test(4, 9, 25, 26), ct_test(6, 9, 36, 37), ct_test(7, 10, 35, 35))
    ev = evaluate(cn9, Facts((CONFIRMED,), tests), at(jul(8)))
    assert plan(ev) == [
        ("hospital", jul(2), jul(7), []),
        ("home_monitoring", jul(8), jul(14), [jul(10), jul(14)]),  # days 3 and 7 of the new phase
    ]
    release = next(d for d in ev.decisions if d.kind == "release")
    assert release.rule_id == "measures.confirmed.release.ct"
    assert release.data == {"released_on": "2022-07-07"}
    assert "2022-07-07" in release.reason_zh and "Ct值≥35" in release.reason_zh
    assert "Ct ≥ 35 on N, ORF" in release.reason_en
    # the colour follows the shortened plan
    assert next(d for d in ev.decisions if d.kind == "health_code").data["until"] == "2022-07-14"


@pytest.mark.parametrize(
    "tests",
    [
        pytest.param((ct_test(6, 9, 36, 34), ct_test(7, 10, 36, 37)), id="one gene below"),
        pytest.param((ct_test(6, 9, 36, None), ct_test(7, 10, 36, 37)), id="one gene missing"),
        pytest.param((ct_test(6, 9, 36, 37),), id="only one"),
        pytest.param((ct_test(6, 9, 36, 37), ct_test(7, 8, 36, 37)), id="23 h apart"),
        pytest.param(
            (
                ct_test(5, 9, None, None, "negative"),
                ct_test(6, 10, 30, 31),
                ct_test(7, 11, None, None, "negative"),
            ),
            id="negative, positive, negative",
        ),
        pytest.param(
            (ct_test(1, 8, 36, 37), ct_test(2, 8, None, None, "negative")), id="first before the clock"
        ),
        pytest.param((ct_test(6, 9, None, None), ct_test(7, 10, 36, 37)), id="positive without Ct"),
    ],
)
def test_ct_release_not_met(cn9: LoadedProfile, tests: tuple[NatTest, ...]) -> None:
    ev = evaluate(cn9, Facts((CONFIRMED,), tests), at(jul(8)))
    assert plan(ev) == plan(evaluate(cn9, Facts((CONFIRMED,)), at(jul(8))))
    assert [s.end for s in ev.plan] == [jul(15), jul(22)]
    assert not [d for d in ev.decisions if d.kind == "release"]


def test_ct_release_counts_negatives_and_skips_invalid_and_too_close(cn9: LoadedProfile) -> None:
    tests = (
        ct_test(5, 9, None, None, "negative"),
        ct_test(5, 20, 36, 36),  # 11 h later: does not count, does not break the run
        ct_test(6, 8, None, None, "invalid"),  # ignored
        ct_test(6, 10, None, None, "negative"),  # 25 h after the first
    )
    ev = evaluate(cn9, Facts((CONFIRMED,), tests), at(jul(8)))
    assert ev.plan[0].end == jul(6)


def test_ct_release_never_ends_a_phase_before_its_first_day(cn9: LoadedProfile) -> None:
    tests = (ct_test(1, 10, None, None, "negative"), ct_test(2, 11, None, None, "negative"))
    ev = evaluate(cn9, Facts((CONFIRMED,), tests), at(jul(3)))
    assert (ev.plan[0].start, ev.plan[0].end) == (jul(2), jul(2))
    assert ev.plan[1].start == jul(3)


def test_ct_release_on_the_last_day_changes_nothing() -> None:
    """cn-new10: 7 days at home, tests on days 6 and 7; meeting the rule on day 7 releases on
    day 7: the plan is unchanged, and the release is a decision of its own."""
    loaded = load_shipped("cn-new10")
    fact = CategoryFact("confirmed", at(D(2022, 12, 10), 9))
    tests = (
        NatTest(at(D(2022, 12, 16), 9), "positive", {"N": 36, "ORF": 36}),
        NatTest(at(D(2022, 12, 17), 10), "negative"),
    )
    ev = evaluate(loaded, Facts((fact,), tests), at(D(2022, 12, 18)))
    assert plan(ev) == [
        ("home_quarantine", D(2022, 12, 11), D(2022, 12, 17), [D(2022, 12, 16), D(2022, 12, 17)])
    ]
    releases = [d for d in ev.decisions if d.kind == "release"]
    assert [r.data for r in releases] == [{"released_on": "2022-12-17"}]


# ---------------------------------------------------------------- health code


@pytest.mark.parametrize(
    ("as_of", "color"),
    [
        (at(jul(1), 20), "red"),  # the clock day itself
        (at(jul(11), 23, 59), "red"),  # the last day of the measures
        (at(jul(12), 0, 1), "green"),
        (at(jul(30)), "green"),
        (at(D(2022, 6, 30)), "green"),  # before the exposure
    ],
)
def test_red_while_the_measures_run(cn9: LoadedProfile, as_of: dt.datetime, color: str) -> None:
    ev = evaluate(cn9, Facts((CategoryFact("close_contact", jul(1)),)), as_of)
    assert ev.color == color
    code = [d for d in ev.decisions if d.kind == "health_code"]
    assert len(code) == 1 and code[0].rule_id == f"health_code.{color}"
    assert code[0].data["color"] == color


def test_no_colour_before_the_clock_with_start_day() -> None:
    loaded = city("day_counting: {day_one: start_day}\n")
    ev = evaluate(loaded, Facts((CategoryFact("close_contact", jul(1)),)), at(D(2022, 6, 30)))
    assert ev.color == "green"


def test_red_is_checked_before_yellow(cn9: LoadedProfile) -> None:
    facts = Facts((CategoryFact("companion", jul(1)), CategoryFact("close_contact", jul(2))))
    ev = evaluate(cn9, facts, at(jul(3)))
    assert ev.color == "red"
    assert [d.category for d in ev.decisions if d.kind == "health_code"] == ["close_contact"]
    assert evaluate(cn9, Facts(facts.categories[:1]), at(jul(3))).color == "yellow"


def test_health_code_modes() -> None:
    fact = Facts((CategoryFact("close_contact", jul(1)),))
    shadow = evaluate(city("health_code: {mode: shadow}\n"), fact, at(jul(3)))
    assert shadow.color == "green"  # reported green, the colour it would give is logged
    (code,) = [d for d in shadow.decisions if d.kind == "health_code"]
    assert (code.mode, code.rule_id, code.data["color"]) == ("shadow", "health_code.red", "red")
    off = evaluate(city("health_code: {mode: off}\n"), fact, at(jul(3)))
    assert off.color == "green" and not [d for d in off.decisions if d.kind == "health_code"]


NEGATIVE_TESTS = """\
health_code:
  yellow:
    categories: [companion]
    until: negative_tests
    return_to_green: {negative_tests: 2, within: 3d, min_interval: 24h}
"""


@pytest.mark.parametrize(
    ("tests", "as_of", "color"),
    [
        ((), at(jul(2)), "yellow"),
        (((2, 9),), at(jul(3)), "yellow"),
        (((2, 9), (3, 10)), at(jul(3)), "green"),
        (((2, 9), (3, 10)), at(jul(3), 9), "yellow"),  # the second one is not sampled yet
        (((2, 9), (2, 20)), at(jul(3)), "yellow"),  # 11 h apart
        (((2, 9), (2, 20), (3, 10)), at(jul(3)), "green"),
        (((2, 9), (4, 10)), at(jul(5)), "yellow"),  # 04 10:00 is beyond 3 days of 07-01 00:00
        (((6, 9), (7, 10)), at(D(2022, 6, 30)), "green"),  # before the clock
    ],
)
def test_yellow_until_negative_tests(
    tests: tuple[tuple[int, int], ...], as_of: dt.datetime, color: str
) -> None:
    loaded = city(NEGATIVE_TESTS)
    facts = Facts(
        (CategoryFact("companion", jul(1)),),
        tuple(NatTest(at(jul(d), h), "negative") for d, h in tests),
    )
    ev = evaluate(loaded, facts, as_of)
    assert ev.color == color
    (code,) = [d for d in ev.decisions if d.kind == "health_code"]
    if color == "yellow":
        assert code.data == {"color": "yellow", "until": None}
        assert "按要求完成核酸检测且结果阴性后转为绿码" in code.reason_zh
        assert "until the required negative tests are done" in code.reason_en


# ---------------------------------------------------------------- modes


def test_shadow_measures_are_decided_but_not_planned() -> None:
    loaded = city("measures: {high_risk_post: {mode: shadow}}\n")
    facts = Facts((CategoryFact("high_risk_post", jul(1)), CategoryFact("companion", jul(2))))
    ev = evaluate(loaded, facts, at(jul(2)))
    shadow = [d for d in ev.decisions if d.mode == "shadow"]
    assert [d.rule_id for d in shadow] == ["measures.high_risk_post.phases[0]"]
    assert shadow[0].reason_zh.endswith("（试运行规则，仅记录，不执行）。")
    assert shadow[0].reason_en.endswith("(shadow rule: recorded, not acted on).")
    assert {s.category for s in ev.plan} == {"companion"}
    assert ev.color == "yellow"  # from the companion, not the shadow high-risk post


def test_off_measures_make_no_decisions() -> None:
    loaded = city("measures: {high_risk_post: {mode: off}}\n")
    ev = evaluate(loaded, Facts((CategoryFact("high_risk_post", jul(1)),)), at(jul(2)))
    assert (ev.plan, ev.color, [d.rule_id for d in ev.decisions]) == ((), "green", ["health_code.green"])


def test_categories_without_measures_make_no_decisions() -> None:
    ev = evaluate(
        load_shipped("cn-8th"), Facts((CategoryFact("companion", D(2021, 6, 1)),)), at(D(2021, 6, 2))
    )
    assert (ev.plan, ev.color) == ((), "green")


def test_shadow_measures_do_not_colour_the_code_until_negative_tests() -> None:
    loaded = city(NEGATIVE_TESTS + "measures: {companion: {mode: shadow}}\n")
    ev = evaluate(loaded, Facts((CategoryFact("companion", jul(1)),)), at(jul(2)))
    assert ev.color == "green"


def test_evaluation_is_pure(cn9: LoadedProfile) -> None:
    facts = Facts((CONFIRMED, CategoryFact("close_contact", jul(3))), (ct_test(6, 9, 36, 37),))
    first: dict[str, Any] = evaluate(cn9, facts, at(jul(8))).as_dict()
    assert evaluate(cn9, facts, at(jul(8))).as_dict() == first
    assert evaluate(load_shipped("cn-9th"), facts, at(jul(8))).as_dict() == first
