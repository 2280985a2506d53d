"""Loading profiles from real files: refusals name the file, the line and the reason;
`extends` merges (with `key: null` deleting); the checksum follows the resolved profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from fangkong.errors import ErrorDetail, PolicyError
from fangkong.policy.loader import LoadedProfile, load, load_shipped, loads, shipped_ids

HEAD = """\
profile_id: city
version: 1
title: {zh-CN: 测试方案, en: Test profile}
effective_from: 2022-06-28
"""  # lines 1-4; the lines given in the tests below count from here

CLOSE_CONTACT = """\
measures:
  close_contact:
    clock: last_exposure
    phases:
      - {kind: central_quarantine, length: 7d, test_days: [1, 2, 3, 5, 7]}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, search: tuple[Path, ...] = ()) -> tuple[PolicyError, ErrorDetail]:
    with pytest.raises(PolicyError) as caught:
        load(path, search=search)
    err = caught.value
    assert err.code == "invalid_profile"
    assert err.details, "a refusal has at least one detail"
    return err, err.details[0]


def assert_at(err: PolicyError, detail: ErrorDetail, path: Path, line: int, field: str, reason: str) -> None:
    assert (detail.value, detail.row, detail.field) == (str(path), line, field), detail
    assert reason in detail.reason, detail.reason
    assert err.message.startswith(f"{path}:{line}: {field}: "), err.message


# ---------------------------------------------------------------- the refusals the issue names


def test_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, "city.yaml", HEAD + "colour: red\n")
    err, d = refused(path)
    assert_at(err, d, path, 5, "colour", "unknown key")


def test_unknown_nested_key(tmp_path: Path) -> None:
    text = HEAD + CLOSE_CONTACT + "    lenght: 7d\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 10, "measures.close_contact.lenght", "unknown key")


def test_missing_unit(tmp_path: Path) -> None:
    text = HEAD + "investigation:\n  on_site: 2\n  core_facts: 4h\n  report: 24h\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 6, "investigation.on_site", "a duration needs a unit")


def test_missing_unit_in_a_quoted_number(tmp_path: Path) -> None:
    text = (
        HEAD
        + "contacts:\n  companion: {cell_size: '800', min_co_presence: 10min, window: 14d, min_dwell: 30h}\n"
    )
    text += "  close_contact: {lookback: 4d, settings: [household], venue_min_overlap: 10min,\n"
    text += "                  venue_default_dwell: 1h, vehicle: {aircraft_rows: 3}}\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 6, "contacts.companion.cell_size", "not a distance")


def test_negative_duration(tmp_path: Path) -> None:
    text = HEAD + "measures:\n  close_contact:\n    clock: last_exposure\n    phases:\n"
    text += "      - kind: central_quarantine\n        length: -7d\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 10, "measures.close_contact.phases.0.length", "cannot be negative")


def test_cycle_in_extends(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "profile_id: a\nversion: 1\nextends: b\n")
    b = write(tmp_path, "b.yaml", "# b\nprofile_id: b\nversion: 1\n\nextends: a\n")
    err, d = refused(a)
    assert_at(err, d, b, 5, "extends", "cycle in extends: a → b → a")


def test_longer_cycle_and_self_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "profile_id: a\nextends: b\n")
    write(tmp_path, "b.yaml", "profile_id: b\nextends: c\n")
    c = write(tmp_path, "c.yaml", "profile_id: c\nextends: a\n")
    err, d = refused(tmp_path / "a.yaml")
    assert_at(err, d, c, 2, "extends", "cycle in extends: a → b → c → a")
    me = write(tmp_path / "self", "me.yaml", "profile_id: me\nversion: 1\nextends: me\n")
    err, d = refused(me)
    assert_at(err, d, me, 3, "extends", "cycle in extends: me → me")


def test_unknown_category_in_measures(tmp_path: Path) -> None:
    text = HEAD + "measures:\n  close_contacts:\n    clock: last_exposure\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 6, "measures.close_contacts", "unknown category")
    assert "close_contact" in d.reason  # the known ones are listed


def test_unknown_category_in_a_health_code_rule(tmp_path: Path) -> None:
    text = HEAD + CLOSE_CONTACT + "health_code:\n  red:\n    categories: [close_contacts]\n  yellow: {}\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 12, "health_code.red.categories.0", "Input should be 'confirmed'")


def test_health_code_rule_on_a_category_without_measures(tmp_path: Path) -> None:
    """A known category, but the profile has no measures for it. The check spans the whole
    profile, so it is located at the profile's first line."""
    text = (
        HEAD + CLOSE_CONTACT + "health_code:\n  red: {categories: [close_contact, confirmed]}\n  yellow: {}\n"
    )
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 1, "profile", "health_code.red refers to categories without measures: confirmed")


def test_risk_level_resident_category_unknown(tmp_path: Path) -> None:
    text = HEAD + CLOSE_CONTACT + "risk_areas:\n  order: [high]\n  levels:\n    high:\n"
    text += "      label: {zh-CN: 高, en: High}\n      designation: {zh-CN: 高, en: High}\n"
    text += "      measures: {zh-CN: 高, en: High}\n      resident_category: arrivals_high\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 17, "risk_areas.levels.high.resident_category", "Input should be")


def test_dates_out_of_order(tmp_path: Path) -> None:
    """A whole-profile check: located at the profile's first key (as documented)."""
    text = "# a city\n" + HEAD + "effective_until: 2022-06-01\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 2, "profile", "effective_until must come after effective_from")
    same = write(tmp_path / "same", "city.yaml", HEAD + "effective_until: 2022-06-28\n")
    err, d = refused(same)
    assert "effective_until must come after effective_from" in d.reason


# ---------------------------------------------------------------- more refusals


def test_duplicate_key(tmp_path: Path) -> None:
    text = HEAD + "investigation:\n  on_site: 2h\n  core_facts: 4h\n  on_site: 3h\n  report: 24h\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 8, "investigation.on_site", "key given twice")


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "city.yaml", HEAD + "version: 2\n")
    err, d = refused(path)
    assert_at(err, d, path, 5, "version", "key given twice")


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("measures: [close_contact\n", 5),  # unclosed: noticed at the end of the file
        ("investigation:\n  on_site: 2h\n core_facts: 4h\n", 6),  # bad indentation
        ("title: {zh-CN: a, en: b\n", 5),
        ("version: 1: 2\n", 4),
    ],
)
def test_yaml_syntax_errors(tmp_path: Path, body: str, line: int) -> None:
    text = HEAD.replace("version: 1\n", "") + body  # lines 1-3, then the body
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert (d.value, d.row, d.field) == (str(path), line, "profile"), d
    assert d.reason.startswith("not valid YAML")


def test_not_a_mapping_not_utf8_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- profile_id: city\n")
    _, d = refused(path)
    assert (d.row, d.reason) == (1, "a profile is a YAML mapping (key: value lines)")
    empty = write(tmp_path, "empty.yaml", "# nothing\n")
    _, d = refused(empty)
    assert d.reason.startswith("a profile is a YAML mapping")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"profile_id: city\ntitle: caf\xe9\n")
    _, d = refused(latin)
    assert (d.value, d.row) == (str(latin), None) and d.reason.startswith("not UTF-8")
    _, d = refused(tmp_path / "absent.yaml")
    assert d.reason == "file not found"


def test_mode_off_stays_a_string(tmp_path: Path) -> None:
    text = (
        HEAD
        + CLOSE_CONTACT
        + "    mode: off\n"
        + "investigation: {mode: off, on_site: 2h, core_facts: 4h, report: 1d}\n"
    )
    loaded = load(write(tmp_path, "city.yaml", text))
    assert loaded.profile.measures["close_contact"].mode == "off"
    assert loaded.profile.investigation is not None and loaded.profile.investigation.mode == "off"


@pytest.mark.parametrize("value", ["no", "false", "yes", "On"])
def test_other_mode_words_are_refused(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "city.yaml", HEAD + CLOSE_CONTACT + f"    mode: {value}\n")
    err, d = refused(path)
    assert_at(err, d, path, 10, "measures.close_contact.mode", "Input should be 'enforce', 'shadow' or 'off'")


def test_only_true_and_false_are_booleans(tmp_path: Path) -> None:
    text = HEAD + CLOSE_CONTACT + "    release: {dual_sampling: true}\n"
    loaded = load(write(tmp_path, "city.yaml", text))
    assert loaded.profile.measures["close_contact"].release.dual_sampling is True


def test_wrong_file_name_in_a_profiles_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "profiles", "town.yaml", HEAD)
    err, d = refused(path)
    assert_at(err, d, path, 1, "profile_id", "the file of profile city must be named city.yaml")
    # elsewhere the file name is free (an upload, a draft)
    assert load(write(tmp_path / "drafts", "town.yaml", HEAD)).id == "city"
    assert load(write(tmp_path / "profiles", "city.yaml", HEAD)).id == "city"


def test_unknown_extends(tmp_path: Path) -> None:
    path = write(tmp_path, "city.yaml", HEAD + "extends: cn-10th\n")
    err, d = refused(path)
    assert_at(
        err, d, path, 5, "extends", "no profile 'cn-10th' next to this file or among the shipped profiles"
    )


def test_extends_must_be_an_id(tmp_path: Path) -> None:
    path = write(tmp_path, "city.yaml", HEAD + "extends: [cn-9th]\n")
    err, d = refused(path)
    assert_at(err, d, path, 5, "extends", "must be a profile id")


def test_unconfirmed_must_name_a_key(tmp_path: Path) -> None:
    text = (
        HEAD
        + "unconfirmed:\n  - measures.close_contact.phases\n  - measures.close_contacts\n"
        + CLOSE_CONTACT
    )
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 7, "unconfirmed.1", "'measures.close_contacts' is not a key of this profile")


def test_inherited_unconfirmed_naming_a_deleted_key(tmp_path: Path) -> None:
    """cn-9th lists measures.arrival_medium_risk.phases; a child that deletes the category
    must restate its own list. The error points at the parent's file, which wrote the entry."""
    text = CITY_9TH.replace(CITY_9TH[CITY_9TH.index("unconfirmed:") : CITY_9TH.index("risk_areas:")], "")
    child = write(tmp_path, "city-9th.yaml", text)
    err, d = refused(child)
    parent = load_shipped("cn-9th").path
    assert (d.value, d.field) == (parent, "unconfirmed.2")
    lines = Path(parent).read_text("utf-8").splitlines()
    assert "measures.arrival_medium_risk.phases" in lines[d.row - 1]  # type: ignore[operator]
    assert "is not a key of this profile" in d.reason


@pytest.mark.parametrize(
    ("test_days", "reason"),
    [
        ("[1, 8]", "test day 8 lies outside the phase (days 1..7)"),
        ("[0, 3]", "test day 0 lies outside the phase (days 1..7)"),
        ("[3, 1]", "test_days must be increasing, without repeats"),
        ("[2, 2]", "test_days must be increasing, without repeats"),
    ],
)
def test_test_days_outside_a_phase(tmp_path: Path, test_days: str, reason: str) -> None:
    text = HEAD + "measures:\n  close_contact:\n    clock: last_exposure\n    phases:\n"
    text += "      - {kind: central_quarantine, length: 7d, test_days: [1, 7]}\n"
    text += f"      - kind: home_monitoring\n        length: 7d\n        test_days: {test_days}\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 10, "measures.close_contact.phases.1", reason)


def test_test_schedule_needs_tests_that_fit(tmp_path: Path) -> None:
    text = HEAD + "measures:\n  companion:\n    clock: last_exposure\n    phases:\n"
    text += "      - {kind: test_schedule, length: 3d, tests: 4}\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 9, "measures.companion.phases.0", "4 tests do not fit in 3 days")


RISK = """\
risk_areas:
  order: [high, medium, low]
  levels:
    high:
      label: {zh-CN: 高, en: High}
      designation: {zh-CN: 高, en: High}
      measures: {zh-CN: 高, en: High}
      lift:
        - {to: medium, days_without_infection: 7, negative_round_on_day: 7}
        - {to: low, days_without_infection: %s}
    medium:
      label: {zh-CN: 中, en: Medium}
      designation: {zh-CN: 中, en: Medium}
      measures: {zh-CN: 中, en: Medium}
    low:
      label: {zh-CN: 低, en: Low}
      designation: {zh-CN: 低, en: Low}
      measures: {zh-CN: 低, en: Low}
"""


def test_lift_steps_in_order(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, "city.yaml", HEAD + RISK % "10"))
    assert loaded.profile.risk_areas is not None
    assert [s.to for s in loaded.profile.risk_areas.levels["high"].lift] == ["medium", "low"]


@pytest.mark.parametrize("days", ["7", "5"])
def test_lift_steps_out_of_order(tmp_path: Path, days: str) -> None:
    path = write(tmp_path, "city.yaml", HEAD + RISK % days)
    err, d = refused(path)
    assert_at(err, d, path, 5, "risk_areas", "lift steps of high must come in increasing order of days")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("{to: low, days", "{to: lowest, days", "level high lifts to unknown level 'lowest'"),
        (
            "order: [high, medium, low]",
            "order: [low, medium, high]",
            "level high can only lift to a milder level",
        ),
        ("order: [high, medium, low]", "order: [high, low]", "order must list each level exactly once"),
        ("negative_round_on_day: 7}", "negative_round_on_day: 8}", "the negative round must fall within"),
    ],
)
def test_risk_area_refusals(tmp_path: Path, old: str, new: str, reason: str) -> None:
    text = HEAD + (RISK % "10").replace(old, new)
    path = write(tmp_path, "city.yaml", text)
    _, d = refused(path)
    assert (d.value, d.field[:10]) == (str(path), "risk_areas")
    assert reason in d.reason
    assert d.row in (5, 13)


TESTING = """\
testing:
  pooling:
    default_size: %s
    allowed_sizes: [1, 5, 10]
    by_area_level: {high: %s}
  result_deadlines: {screening: 24h}
  interpretation: {positive_ct_below: 40, genes: [N, ORF]}
"""


@pytest.mark.parametrize(("default", "high", "size"), [("20", "1", 20), ("10", "3", 3)])
def test_pool_sizes_not_allowed(tmp_path: Path, default: str, high: str, size: int) -> None:
    path = write(tmp_path, "city.yaml", HEAD + TESTING % (default, high))
    err, d = refused(path)
    assert_at(err, d, path, 6, "testing.pooling", f"pool size {size} is not among allowed_sizes [1, 5, 10]")


def test_pool_sizes_beyond_twenty(tmp_path: Path) -> None:
    text = HEAD + (TESTING % ("10", "1")).replace("[1, 5, 10]", "[1, 5, 10, 30]")
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 6, "testing.pooling", "pool sizes are 1..20")


@pytest.mark.parametrize(
    ("on_site", "core_facts", "report"), [("5h", "4h", "24h"), ("2h", "25h", "24h"), ("2d", "4h", "1d")]
)
def test_investigation_deadlines_out_of_order(
    tmp_path: Path, on_site: str, core_facts: str, report: str
) -> None:
    text = HEAD + f"investigation:\n  on_site: {on_site}\n  core_facts: {core_facts}\n  report: {report}\n"
    path = write(tmp_path, "city.yaml", text)
    err, d = refused(path)
    assert_at(err, d, path, 5, "investigation", "deadlines must be in order: on_site ≤ core_facts ≤ report")


def test_equal_deadlines_written_differently_are_in_order(tmp_path: Path) -> None:
    text = HEAD + "investigation:\n  on_site: 24h\n  core_facts: 1d\n  report: 1d\n"
    load(write(tmp_path, "city.yaml", text))


def test_unknown_key_with_a_null_value_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "city.yaml", HEAD + "colour: null\n")
    err, d = refused(path)
    assert_at(err, d, path, 5, "colour", "unknown key")


def test_loads_errors_name_the_upload() -> None:
    with pytest.raises(PolicyError) as caught:
        loads(HEAD + "colour: red\n", name="city.yaml")
    d = caught.value.details[0]
    assert (d.value, d.row) == ("city.yaml", 5)


def test_loads_accepts_text() -> None:
    loaded = loads(HEAD + CLOSE_CONTACT, name="uploads/city.yaml")
    assert (loaded.id, loaded.path, loaded.chain) == ("city", "uploads/city.yaml", ("city",))


def test_all_problems_are_details(tmp_path: Path) -> None:
    text = HEAD + "colour: red\ninvestigation:\n  on_site: 2\n  core_facts: 4h\n  report: 24h\n"
    path = write(tmp_path, "city.yaml", text)
    err, _ = refused(path)
    assert {(d.field, d.row) for d in err.details} == {("colour", 5), ("investigation.on_site", 7)}
    assert "(+1 more)" in err.message


# ---------------------------------------------------------------- extends


CITY_9TH = """\
profile_id: city-9th
version: 1
extends: cn-9th
title: {zh-CN: 某市防控方案（第九版，无中风险区）, en: "City protocol, 9th edition, no medium-risk areas"}
effective_from: 2022-07-15
unconfirmed:                          # replaces cn-9th's list, which names arrival_medium_risk
  - contacts.close_contact.lookback
  - health_code
risk_areas:
  order: [high, low]
  levels:
    medium: null                      # the level is removed
    high:
      lift:                           # replaces cn-9th's list, which stepped down to medium
        - {to: low, days_without_infection: 7, negative_round_on_day: 7}
measures:
  arrival_medium_risk: null           # nobody is in this category any more
health_code:
  yellow:
    categories: [secondary_contact, high_risk_post, positive_pool_member, companion]
testing:
  pooling:
    by_area_level: {medium: null}
"""


def test_extends_with_null_deleting_a_risk_level(tmp_path: Path) -> None:
    """The example of docs/policy-profiles.md: a city drops medium-risk areas."""
    loaded = load(write(tmp_path, "city-9th.yaml", CITY_9TH))
    parent = load_shipped("cn-9th").profile
    p = loaded.profile
    assert loaded.chain == ("city-9th", "cn-9th")
    assert p.extends == "cn-9th"
    assert p.risk_areas is not None and parent.risk_areas is not None
    assert p.risk_areas.order == ["high", "low"]
    assert list(p.risk_areas.levels) == ["high", "low"]
    assert [(s.to, s.days_without_infection) for s in p.risk_areas.levels["high"].lift] == [("low", 7)]
    # the rest of the level is inherited
    assert p.risk_areas.levels["high"].label == parent.risk_areas.levels["high"].label
    assert p.risk_areas.levels["low"] == parent.risk_areas.levels["low"]
    assert "arrival_medium_risk" not in p.measures
    assert [c for c in parent.measures if c != "arrival_medium_risk"] == list(p.measures)
    assert p.testing is not None and p.testing.pooling.by_area_level == {"high": 1, "low": 10}
    assert p.unconfirmed == ["contacts.close_contact.lookback", "health_code"]
    assert p.effective_until == parent.effective_until  # inherited
    assert (p.contacts, p.investigation) == (parent.contacts, parent.investigation)


@pytest.mark.parametrize(
    ("old", "reason"),
    [
        ("  order: [high, low]\n", "order must list each level exactly once"),
        (
            CITY_9TH[CITY_9TH.index("    high:") : CITY_9TH.index("measures:")],
            "level high lifts to unknown level 'medium'",
        ),
    ],
)
def test_a_dropped_level_must_be_dropped_everywhere(tmp_path: Path, old: str, reason: str) -> None:
    """Deleting a level does not cascade: `order` and the lift steps must follow."""
    assert old in CITY_9TH
    path = write(tmp_path, "city-9th.yaml", CITY_9TH.replace(old, ""))
    err, d = refused(path)
    assert_at(err, d, path, 9, "risk_areas", reason)


def test_a_category_still_coloured_must_keep_its_measures(tmp_path: Path) -> None:
    text = CITY_9TH.replace(
        "[secondary_contact, high_risk_post", "[secondary_contact, arrival_medium_risk, high_risk_post"
    )
    err, d = refused(write(tmp_path, "city-9th.yaml", text))
    assert "health_code.yellow refers to categories without measures: arrival_medium_risk" in d.reason


def test_extends_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    text = """\
profile_id: city
version: 2
extends: cn-9th
measures:
  close_contact:
    phases:
      - {kind: central_quarantine, length: 7d, test_days: [1, 7]}
  companion:
    mode: shadow
source: [某市通知]
"""
    p = load(write(tmp_path, "city.yaml", text)).profile
    parent = load_shipped("cn-9th").profile
    cc, pcc = p.measures["close_contact"], parent.measures["close_contact"]
    assert [ph.test_days for ph in cc.phases] == [[1, 7]]  # the list is replaced whole
    assert (cc.clock, cc.release) == (pcc.clock, pcc.release)  # the rest of the mapping is kept
    assert p.measures["companion"].phases == parent.measures["companion"].phases
    assert p.measures["companion"].mode == "shadow"
    assert p.source == ["某市通知"]
    assert (p.version, p.title) == (2, parent.title)


def test_null_removes_optional_blocks_and_restores_defaults(tmp_path: Path) -> None:
    text = """\
profile_id: city
version: 1
extends: cn-9th
unconfirmed: null
investigation: null
contacts:
  companion: null
measures:
  secondary_contact:
    phases: null
    mode: off
"""
    p = load(write(tmp_path, "city.yaml", text)).profile
    assert p.investigation is None
    assert p.contacts is not None and p.contacts.companion is None
    assert p.contacts.close_contact == load_shipped("cn-9th").profile.contacts.close_contact  # type: ignore[union-attr]
    assert p.measures["secondary_contact"].phases == []
    assert p.unconfirmed == []


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ("title: null\n", 4, "title"),
        ("measures:\n  close_contact:\n    clock: null\n", 6, "measures.close_contact.clock"),
    ],
)
def test_null_on_a_required_key_is_refused(tmp_path: Path, body: str, line: int, field: str) -> None:
    path = write(tmp_path, "city.yaml", "profile_id: city\nversion: 1\nextends: cn-9th\n" + body)
    err, d = refused(path)
    assert_at(err, d, path, line, field, "Field required")


def test_an_error_in_an_inherited_value_points_at_the_parent(tmp_path: Path) -> None:
    parent = write(tmp_path, "base.yaml", HEAD.replace("city", "base") + "investigation:\n  on_site: 2\n")
    child = write(tmp_path, "child.yaml", "profile_id: child\nversion: 1\nextends: base\n")
    err, d = refused(child)
    assert_at(err, d, parent, 6, "investigation.on_site", "a duration needs a unit")


def test_parents_are_found_next_to_the_file_then_in_search_then_shipped(tmp_path: Path) -> None:
    def base(day: str) -> str:
        return HEAD.replace("city", "base").replace("2022-06-28", day)

    child = write(tmp_path / "city", "child.yaml", "profile_id: child\nversion: 1\nextends: base\n")
    write(tmp_path / "shared", "base.yaml", base("2022-06-01"))
    refused(child)  # the shared folder is searched only when given
    assert load(child, search=(tmp_path / "shared",)).profile.effective_from.isoformat() == "2022-06-01"
    write(tmp_path / "city", "base.yaml", base("2022-06-02"))
    # next to the file wins
    assert load(child, search=(tmp_path / "shared",)).profile.effective_from.isoformat() == "2022-06-02"
    # a local file may shadow a shipped profile
    write(tmp_path / "city", "cn-9th.yaml", HEAD.replace("city", "cn-9th"))
    other = write(tmp_path / "city", "other.yaml", "profile_id: other\nversion: 1\nextends: cn-9th\n")
    assert load(other).profile.measures == {}


def test_shipped_profiles_extend_each_other() -> None:
    assert shipped_ids() == ["cn-8th", "cn-9th", "cn-9th-20m", "cn-new10"]
    chains = {pid: load_shipped(pid).chain for pid in shipped_ids()}
    assert chains == {
        "cn-8th": ("cn-8th",),
        "cn-9th": ("cn-9th",),
        "cn-9th-20m": ("cn-9th-20m", "cn-9th"),
        "cn-new10": ("cn-new10", "cn-9th-20m", "cn-9th"),
    }
    m20, new10 = load_shipped("cn-9th-20m").profile, load_shipped("cn-new10").profile
    assert m20.risk_areas is not None and new10.risk_areas is not None
    assert (m20.risk_areas.order, list(m20.risk_areas.levels)) == (["high", "low"], ["high", "low"])
    assert (new10.risk_areas.order, list(new10.risk_areas.levels)) == (["high"], ["high"])
    assert "arrival_medium_risk" not in m20.measures and "arrival_medium_risk" not in new10.measures
    assert new10.testing is not None and new10.testing.pooling.by_area_level == {"high": 1}
    # each keeps its own dates and title
    assert [p.effective_from.isoformat() for p in (m20, new10)] == ["2022-11-11", "2022-12-07"]


def test_unknown_shipped_profile() -> None:
    with pytest.raises(PolicyError) as caught:
        load_shipped("cn-10th")
    assert caught.value.code == "not_found"


# ---------------------------------------------------------------- checksum


def _checksum(folder: Path, text: str, name: str = "city.yaml") -> LoadedProfile:
    return load(write(folder, name, text))


def test_checksum_is_stable(tmp_path: Path) -> None:
    text = HEAD + CLOSE_CONTACT
    first = _checksum(tmp_path / "a", text)
    assert len(first.checksum) == 64
    assert _checksum(tmp_path / "a", text).checksum == first.checksum  # reload
    assert _checksum(tmp_path / "b", text).checksum == first.checksum  # another copy
    assert loads(text).checksum == first.checksum
    # comments, key order, quoting and flow style are not part of the profile
    restyled = (
        "# a comment\nversion: 1\nprofile_id: 'city'\neffective_from: 2022-06-28\n"
        "title:\n  en: Test profile\n  zh-CN: 测试方案\n"
        "measures:\n  close_contact:\n    phases:\n      - kind: central_quarantine\n"
        '        test_days: [1, 2, 3, 5, 7]\n        length: "7d"\n    clock: last_exposure  # why\n'
    )
    assert _checksum(tmp_path / "c", restyled).checksum == first.checksum


def test_shipped_checksums_are_stable() -> None:
    for pid in shipped_ids():
        assert load_shipped(pid).checksum == load_shipped(pid).checksum


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("version: 1", "version: 2"),
        ("test_days: [1, 2, 3, 5, 7]", "test_days: [1, 2, 3, 5, 6]"),
        ("length: 7d", "length: 168h"),  # the written form counts
        ("en: Test profile", "en: Test Profile"),
        ("effective_from: 2022-06-28", "effective_from: 2022-06-29"),
        ("clock: last_exposure", "clock: last_exposure\n    mode: shadow"),
    ],
)
def test_checksum_changes_with_any_change(tmp_path: Path, old: str, new: str) -> None:
    text = HEAD + CLOSE_CONTACT
    assert old in text
    before = _checksum(tmp_path / "a", text).checksum
    assert _checksum(tmp_path / "b", text.replace(old, new)).checksum != before


def test_checksum_changes_with_the_parent(tmp_path: Path) -> None:
    parent = write(tmp_path, "base.yaml", HEAD.replace("city", "base") + CLOSE_CONTACT)
    child = write(tmp_path, "child.yaml", "profile_id: child\nversion: 1\nextends: base\n")
    before = load(child).checksum
    parent.write_text(parent.read_text().replace("[1, 2, 3, 5, 7]", "[1, 7]"), encoding="utf-8")
    assert load(child).checksum != before


def test_checksum_covers_extends(tmp_path: Path) -> None:
    """Two files that resolve to the same values but name different parents differ."""
    body = HEAD.replace("city", "base") + CLOSE_CONTACT
    write(tmp_path, "base-a.yaml", body)
    write(tmp_path, "base-b.yaml", body)
    a = load(write(tmp_path, "a.yaml", "profile_id: city\nextends: base-a\n"))
    b = load(write(tmp_path, "b.yaml", "profile_id: city\nextends: base-b\n"))
    assert a.profile.model_copy(update={"extends": None}) == b.profile.model_copy(update={"extends": None})
    assert a.checksum != b.checksum
