"""Units in profiles: every duration and distance says its unit; nothing negative."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fangkong.policy.schema import Investigation, Phase
from fangkong.policy.units import Distance, Duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * 86400),
        ("24h", 86400),
        ("10min", 600),
        ("30s", 30),
        ("1.5d", 36 * 3600),
        (" 7d ", 7 * 86400),
        ("7 d", 7 * 86400),
        ("0h", 0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    d = Duration.parse(text)
    assert d.seconds == seconds
    assert str(d) == text.strip()  # kept as written


def test_duration_views() -> None:
    d = Duration.parse("36h")
    assert (d.hours, d.minutes, d.days) == (36, 36 * 60, 1)
    assert Duration.parse("7d").days == 7
    assert str(Duration(90)) == "90s"  # no written form: seconds


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (7, "needs a unit"),
        (7.5, "needs a unit"),
        ("7", "not a duration"),
        ("-1d", "cannot be negative"),
        (" -7d", "cannot be negative"),
        ("7 days", "not a duration"),
        ("1e3h", "not a duration"),
        ("7D", "not a duration"),
        ("", "not a duration"),
        (True, "needs a unit"),
        (None, "needs a unit"),
    ],
)
def test_durations_refused(value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Duration.parse(value)


@pytest.mark.parametrize(("text", "metres"), [("800m", 800), ("1.2km", 1200), ("0m", 0), (" 5 km", 5000)])
def test_distances(text: str, metres: float) -> None:
    d = Distance.parse(text)
    assert d.metres == pytest.approx(metres)
    assert str(d) == text.strip()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (800, "needs a unit"),
        ("800", "not a distance"),
        ("-5m", "cannot be negative"),
        ("1 mile", "not a distance"),
        ("800M", "not a distance"),
        (False, "needs a unit"),
    ],
)
def test_distances_refused(value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Distance.parse(value)


def test_parse_is_idempotent() -> None:
    d = Duration.parse("7d")
    assert Duration.parse(d) is d
    m = Distance.parse("800m")
    assert Distance.parse(m) is m


def test_durations_order_by_length() -> None:
    assert Duration.parse("2h") < Duration.parse("4h") < Duration.parse("1d") < Duration.parse("2d")
    assert Duration.parse("90min") < Duration.parse("2h")


def test_equal_lengths_written_differently_are_in_order() -> None:
    assert Duration.parse("24h") <= Duration.parse("1d")
    assert Duration.parse("2h") <= Duration.parse("120min")


def test_models_serialise_units_as_written() -> None:
    phase = Phase.model_validate({"kind": "home_quarantine", "length": "48h", "test_days": [1, 2]})
    assert phase.length.days == 2
    assert phase.model_dump(mode="json")["length"] == "48h"


@pytest.mark.parametrize(
    ("length", "reason"),
    [
        ("36h", "whole number of days"),
        ("0d", "whole number of days"),
        ("-7d", "cannot be negative"),
        (7, "needs a unit"),
    ],
)
def test_measure_lengths_are_whole_positive_days(length: Any, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Phase.model_validate({"kind": "home_quarantine", "length": length})


def test_investigation_deadlines_compare_by_length() -> None:
    Investigation.model_validate({"on_site": "2h", "core_facts": "4h", "report": "1d"})
    Investigation.model_validate({"on_site": "90min", "core_facts": "2h", "report": "2h"})
    with pytest.raises(ValidationError, match="deadlines must be in order"):
        Investigation.model_validate({"on_site": "5h", "core_facts": "4h", "report": "1d"})
