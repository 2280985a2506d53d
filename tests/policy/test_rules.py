"""The other rule types: risk-area lifting, pool sizes, result deadlines, mass-testing rounds,
investigation deadlines — each a decision with its rule and reason."""

from __future__ import annotations

import datetime as dt

import pytest

from fangkong.errors import PolicyError
from fangkong.policy import rules
from fangkong.policy.loader import load_shipped

CST = dt.timezone(dt.timedelta(hours=8))
D = dt.date


@pytest.mark.parametrize(
    "today,rounds,level,next_level,next_on",
    [
        (D(2022, 7, 5), [], "high", "medium", D(2022, 7, 9)),
        (D(2022, 7, 8), [D(2022, 7, 8)], "high", "medium", D(2022, 7, 9)),
        (D(2022, 7, 9), [D(2022, 7, 8)], "medium", "low", D(2022, 7, 12)),
        (D(2022, 7, 9), [], "high", "medium", D(2022, 7, 9)),  # no day-7 round: stays high
        (D(2022, 7, 12), [D(2022, 7, 8)], "low", None, None),
    ],
)
def test_cn9th_high_area_lifting(
    today: dt.date, rounds: list[dt.date], level: str, next_level: str | None, next_on: dt.date | None
) -> None:
    status = rules.area_level(load_shipped("cn-9th"), "high", D(2022, 7, 1), rounds, today)
    assert (status.level, status.next_level, status.next_on) == (level, next_level, next_on)
    assert status.decision.profile_id == "cn-9th" and status.decision.rule_id.startswith(
        "risk_areas.levels.high"
    )
    if level == "high" and not rounds and today >= D(2022, 7, 8):
        assert (
            status.waiting_for_round_on == D(2022, 7, 8) and "2022-07-08全员核酸" in status.decision.reason_zh
        )


def test_twenty_measures_lift_high_after_five_days() -> None:
    p = load_shipped("cn-9th-20m")
    assert rules.area_level(p, "high", D(2022, 11, 20), [], D(2022, 11, 25)).level == "high"
    assert rules.area_level(p, "high", D(2022, 11, 20), [], D(2022, 11, 26)).level == "low"
    with pytest.raises(PolicyError, match="unknown risk level"):
        rules.area_level(p, "medium", D(2022, 11, 20), [], D(2022, 11, 26))


def test_pool_sizes() -> None:
    p = load_shipped("cn-9th")
    assert rules.pool_size(p, group="quarantine_site").data == {"pool_size": 1}
    assert rules.pool_size(p, area_level="medium").data == {"pool_size": 5}
    assert rules.pool_size(p).data == {"pool_size": 10}
    assert "10合1" in rules.pool_size(p).reason_zh
    assert 20 not in load_shipped("cn-8th").profile.testing.pooling.allowed_sizes  # type: ignore[union-attr]


def test_result_deadline() -> None:
    d = rules.result_deadline(load_shipped("cn-9th"), "fever_clinic", dt.datetime(2022, 7, 1, 8, tzinfo=CST))
    assert (
        d.data == {"due": "2022-07-01T14:00:00+08:00"}
        and d.rule_id == "testing.result_deadlines.fever_clinic"
    )
    with pytest.raises(PolicyError):
        rules.result_deadline(load_shipped("cn-9th"), "astrology", dt.datetime(2022, 7, 1, tzinfo=CST))


def test_mass_testing_stop_rule() -> None:
    p = load_shipped("cn-9th")
    rounds = [(D(2022, 7, 1), 4), (D(2022, 7, 2), 0), (D(2022, 7, 3), 0)]
    assert rules.mass_testing(p, rounds, D(2022, 7, 3)).data["action"] == "continue"
    rounds.append((D(2022, 7, 4), 0))
    final = rules.mass_testing(p, rounds, D(2022, 7, 4))
    assert final.data == {"action": "final_round", "next_round": "2022-07-07", "clear_rounds": 3}
    rounds.append((D(2022, 7, 7), 0))
    assert rules.mass_testing(p, rounds, D(2022, 7, 7)).data["action"] == "stop"
    rounds.append((D(2022, 7, 8), 2))  # a new positive starts the count again
    assert rules.mass_testing(p, rounds, D(2022, 7, 8)).data["action"] == "continue"
    assert rules.mass_testing(load_shipped("cn-new10"), rounds, D(2022, 12, 8)).data["action"] == "stop"


def test_investigation_clock() -> None:
    d = rules.investigation_deadlines(load_shipped("cn-9th"), dt.datetime(2022, 7, 1, 2, 10, tzinfo=CST))
    assert d.data == {
        "on_site": "2022-07-01T04:10+08:00",
        "core_facts": "2022-07-01T06:10+08:00",
        "report": "2022-07-02T02:10+08:00",
    }
    assert "24h内完成报告" in d.reason_zh
