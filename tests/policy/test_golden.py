"""Golden scenarios: for every profile, facts in and decisions out, compared with what the
engine answered when the file was last refreshed (see tests/policy/refresh_golden.py).

A profile change shows up as one failure (the checksum); a change of the engine's answers
shows up per scenario, with a diff. Neither is ever fixed by pytest: run the refresh command
and review the diff.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fangkong.policy.loader import LoadedProfile, shipped_ids
from tests.policy.refresh_golden import (
    REFRESH,
    dump,
    facts_from,
    golden_files,
    load_profile,
    outcome,
    parse_aware,
    read,
)

FILES = golden_files()
CHANGED = f"run {REFRESH} and review the diff"


@cache
def _doc(path: Path) -> dict[str, Any]:
    return read(path)


@cache
def _loaded(path: Path) -> LoadedProfile:
    return load_profile(_doc(path))


def _scenarios() -> list[Any]:
    return [
        pytest.param(path, i, id=f"{path.stem}: {s['name']}")
        for path in FILES
        for i, s in enumerate(_doc(path)["scenarios"])
    ]


def test_every_shipped_profile_has_golden_scenarios() -> None:
    have = {str(_doc(p).get("profile")) for p in FILES if _doc(p).get("profile")}
    assert have == set(shipped_ids())
    assert any(_doc(p).get("profile_file") for p in FILES), "the shadow-mode profile has no scenarios"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_profile_unchanged_since_refresh(path: Path) -> None:
    loaded = _loaded(path)
    if _doc(path)["checksum"] != loaded.checksum:
        pytest.fail(
            f"profile changed: {path.name} was made with checksum {_doc(path)['checksum']}, "
            f"{loaded.id} now has {loaded.checksum}; {CHANGED}",
            pytrace=False,
        )


@pytest.mark.parametrize(("path", "index"), _scenarios())
def test_scenario(path: Path, index: int) -> None:
    scenario = _doc(path)["scenarios"][index]
    assert "expected" in scenario, f"{path.name}: {scenario['name']!r} has no expected output; {CHANGED}"
    loaded = _loaded(path)
    actual = outcome(loaded, scenario)
    if actual != scenario["expected"]:
        diff = "".join(
            difflib.unified_diff(
                dump(scenario["expected"]).splitlines(keepends=True),
                dump(actual).splitlines(keepends=True),
                fromfile=f"{path.name}: expected",
                tofile="engine now",
            )
        )
        pytest.fail(f"{path.name}: {scenario['name']!r} changed; {CHANGED}\n{diff}", pytrace=False)


@pytest.mark.parametrize(("path", "index"), _scenarios())
def test_every_decision_names_the_profile(path: Path, index: int) -> None:
    """The golden files leave the checksum out of the decisions; check it here instead."""
    from fangkong.policy.engine import evaluate

    scenario = _doc(path)["scenarios"][index]
    loaded = _loaded(path)
    ev = evaluate(loaded, facts_from(scenario["facts"]), parse_aware(scenario["as_of"], "as_of"))
    assert ev.checksum == loaded.checksum
    for d in ev.decisions:
        assert (d.profile_id, d.version, d.checksum) == (loaded.id, loaded.version, loaded.checksum)
        assert d.rule_id and d.reason_zh and d.reason_en


def test_files_are_well_formed() -> None:
    for path in FILES:
        names = [s["name"] for s in _doc(path)["scenarios"]]
        assert len(names) == len(set(names)), f"{path.name}: scenario names repeat"
        for s in _doc(path)["scenarios"]:
            assert set(s) == {"name", "as_of", "facts", "expected"}, f"{path.name}: {s['name']}"


# ---------------------------------------------------------------- coverage


def _required_rules(loaded: LoadedProfile) -> set[str]:
    """Every rule of the profile that can make a decision."""
    p = loaded.profile
    rules: set[str] = set()
    for category, m in p.measures.items():
        if m.mode == "off":
            continue
        rules |= {f"measures.{category}.phases[{i}]" for i in range(len(m.phases))}
        if m.release.ct is not None:
            rules.add(f"measures.{category}.release.ct")
    secondary = p.contacts.secondary_contact if p.contacts else None
    if secondary is not None and secondary.mode != "off" and secondary.upgrade_on_positive:
        rules.add("contacts.secondary_contact.upgrade_on_positive")
    code = p.health_code
    if code is not None and code.mode != "off":
        rules.add("health_code.green")
        rules |= {f"health_code.{c}" for c, t in (("red", code.red), ("yellow", code.yellow)) if t.categories}
    return rules


SHIPPED_FILES = [p for p in FILES if _doc(p).get("profile")]
LOCAL_FILES = [p for p in FILES if _doc(p).get("profile_file")]


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=[p.stem for p in SHIPPED_FILES])
def test_scenarios_cover_every_category_and_rule(path: Path) -> None:
    loaded = _loaded(path)
    scenarios = _doc(path)["scenarios"]
    alone = {s["facts"]["categories"][0]["category"] for s in scenarios if len(s["facts"]["categories"]) == 1}
    missing = [c for c in loaded.profile.measures if c not in alone]
    assert missing == [], f"{path.name}: no scenario with only these categories: {missing}"

    seen = {d["rule_id"] for s in scenarios for d in s["expected"]["decisions"]}
    assert _required_rules(loaded) - seen == set(), f"{path.name}: rules no scenario exercises"

    assert any(len(s["facts"]["categories"]) > 1 for s in scenarios), "no overlapping categories"

    # Ct release: met in one scenario and not met in another, for every category that has it.
    for category, m in loaded.profile.measures.items():
        if m.release.ct is None or m.mode == "off":
            continue
        with_tests = [
            s
            for s in scenarios
            if s["facts"].get("tests") and any(c["category"] == category for c in s["facts"]["categories"])
        ]
        released = [
            any(d["rule_id"] == f"measures.{category}.release.ct" for d in s["expected"]["decisions"])
            for s in with_tests
        ]
        assert True in released and False in released, f"{path.name}: {category} Ct release met and not met"


@pytest.mark.parametrize("path", LOCAL_FILES, ids=[p.stem for p in LOCAL_FILES])
def test_local_profile_scenarios_cover_shadow_off_and_negative_tests(path: Path) -> None:
    """The test-local profile exists for what no shipped profile uses: shadow and off modes
    next to enforced ones, and a colour that returns to green on negative tests."""
    loaded = _loaded(path)
    p = loaded.profile
    scenarios = _doc(path)["scenarios"]
    modes = {m.mode for m in p.measures.values()}
    assert {"shadow", "off", "enforce"} <= modes
    decisions = [d for s in scenarios for d in s["expected"]["decisions"]]
    assert {d["kind"] for d in decisions if d["mode"] == "shadow"} >= {"measure", "upgrade"}
    for s in scenarios:
        only = [c["category"] for c in s["facts"]["categories"]]
        if len(only) == 1 and p.measures[only[0]].mode == "off":  # type: ignore[index]
            assert [d["kind"] for d in s["expected"]["decisions"]] == ["health_code"]
    assert p.health_code is not None
    triggers = {"red": p.health_code.red, "yellow": p.health_code.yellow}
    negative_tests = [colour for colour, t in triggers.items() if t.until == "negative_tests"]
    assert negative_tests, "no trigger with until: negative_tests"
    colours = {s["expected"]["health_code"] for s in scenarios}
    assert set(negative_tests) | {"green"} <= colours
