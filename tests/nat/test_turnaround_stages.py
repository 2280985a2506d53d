"""Turnaround per stage (采 → 送 → 检 → 报): the optional `testing.stage_limits` of a profile,
alerts for tubes over a stage's limit besides those past the end-to-end result deadline, and
the summary per stage of a round or a site (in the database, through the API and the CLI)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from fangkong.auth.actor import Actor
from fangkong.errors import PolicyError
from fangkong.nat import progress, sites, tubes, turnaround
from fangkong.nat.models import TestingRound, Tube
from fangkong.person import code as person_code
from fangkong.person import service as persons
from fangkong.person.schemas import PersonCreate
from fangkong.policy import loader
from fangkong.policy.diff import diff
from fangkong.policy.schema import Profile
from fangkong.policy_profile import service as profiles
from fangkong.task.models import Task
from tests.conftest import login, person_payload

HQ = Actor(user_id=None, username="hq", roles=frozenset({"commander", "admin"}), area_code="5101")
SAMPLER = Actor(user_id=None, username="sampler1", roles=frozenset({"sampler"}), area_code="510104")
T0 = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 09:00 in Chengdu

CITY = """profile_id: city-9th
version: 1
extends: cn-9th
title: {zh-CN: 某市防控方案（第九版，采送检报分段时限）, en: City protocol with stage limits}
effective_from: 2022-07-15
testing:
  stage_limits:
"""
LIMITS = "    collected: 2h\n    shipped: 4h\n    received: 6h\n"


def _city(limits: str = LIMITS) -> loader.LoadedProfile:
    return loader.loads(CITY + limits, name="city-9th.yaml")


# ---------------------------------------------------------------- the profile format


@pytest.mark.parametrize(
    ("limits", "field", "reason"),
    [
        ("    shipped: 4\n", "testing.stage_limits.shipped", "a duration needs a unit"),
        ("    shipped: -4h\n", "testing.stage_limits.shipped", "cannot be negative"),
        ("    received: 0min\n", "testing.stage_limits.received", "must be longer than zero"),
        ("    shiped: 4h\n", "testing.stage_limits.shiped", "unknown key"),
        ("    reported: 4h\n", "testing.stage_limits.reported", "unknown key"),
        ("    {}\n", "testing.stage_limits", "at least one stage"),
    ],
)
def test_stage_limit_errors_name_the_field(limits: str, field: str, reason: str) -> None:
    with pytest.raises(PolicyError) as caught:
        _city(limits)
    err = caught.value
    assert err.code == "invalid_profile"
    assert err.details[0].field == field and reason in err.details[0].reason
    assert err.message.startswith(f"city-9th.yaml:8: {field}: ") or err.message.startswith(
        f"city-9th.yaml:7: {field}: "
    )


def test_stage_limits_are_optional_and_absent_from_the_shipped_profiles() -> None:
    for pid in loader.shipped_ids():
        loaded = loader.load_shipped(pid)
        testing = loaded.profile.testing
        assert testing is not None and testing.stage_limits is None
        # left out of the canonical form: the checksums of profiles without it do not change
        assert "stage_limits" not in loaded.profile.model_dump(mode="json", by_alias=True)["testing"]
    city = _city()
    limits = city.profile.testing.stage_limits  # type: ignore[union-attr]
    assert limits is not None
    assert [(s, d.seconds) for s, d in limits.given()] == [
        ("collected", 7200),
        ("shipped", 14400),
        ("received", 21600),
    ]
    # a stored activation validates again to the same checksum
    again = Profile.model_validate(city.profile.model_dump(mode="json", by_alias=True))
    assert loader.checksum(again) == city.checksum
    # the profile diff shows the block key by key
    changed = {k: (a, b) for k, a, b in diff(loader.load_shipped("cn-9th"), city)}
    assert changed["testing.stage_limits.shipped"] == (None, "4h")
    assert changed["testing.stage_limits.collected"] == (None, "2h")


def test_stage_limits_merge_and_delete_with_extends(tmp_path: Path) -> None:
    (tmp_path / "city-9th.yaml").write_text(CITY + LIMITS, "utf-8")
    child = (
        "profile_id: district-9th\nversion: 1\nextends: city-9th\n"
        "title: {zh-CN: 某区, en: District}\neffective_from: 2022-08-01\n"
    )
    (tmp_path / "district-9th.yaml").write_text(
        child + "testing:\n  stage_limits: {shipped: null, received: 8h}\n", "utf-8"
    )
    limits = loader.load(tmp_path / "district-9th.yaml").profile.testing.stage_limits  # type: ignore[union-attr]
    assert limits is not None
    assert [(s, str(d)) for s, d in limits.given()] == [("collected", "2h"), ("received", "8h")]
    (tmp_path / "district-9th.yaml").write_text(child + "testing:\n  stage_limits: null\n", "utf-8")
    gone = loader.load(tmp_path / "district-9th.yaml")
    assert gone.profile.testing.stage_limits is None  # type: ignore[union-attr]
    assert gone.checksum != _city().checksum


@pytest.mark.parametrize("profile_id", ["city-9th-tat", "city-9th"])
def test_the_documented_city_profiles_load(profile_id: str) -> None:
    """The examples of docs/policy-profiles.md: a city's own stage limits with `extends`, and
    the city without medium-risk areas."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "policy-profiles.md").read_text("utf-8")
    (example,) = re.findall(rf"```yaml\n(profile_id: {profile_id}\n.*?)```", text, re.S)
    loaded = loader.loads(example, name=f"{profile_id}.yaml")
    assert loaded.chain[-1] == "cn-9th"
    if profile_id == "city-9th-tat":
        limits = loaded.profile.testing.stage_limits  # type: ignore[union-attr]
        assert limits is not None and [str(d) for _, d in limits.given()] == ["2h", "4h", "6h"]


# ---------------------------------------------------------------- in the database


@pytest.fixture
def place(factory: sessionmaker[Session], areas: Any, users: Any) -> dict[str, Any]:
    """A site in 和平社区 and one in 青羊区, a lab with one staff account, 6 residents."""
    out: dict[str, Any] = {}
    with factory.begin() as s:
        out["persons"] = [
            persons.create(session=s, actor=HQ, data=PersonCreate(**person_payload(seq=n))).id
            for n in range(1, 7)
        ]
        out["site"] = sites.create_site(
            session=s,
            actor=HQ,
            data=sites.SiteCreate(code="S-HP-01", name="和平社区广场采样点", area_code="510104020001"),
        ).id
        out["other_site"] = sites.create_site(
            session=s,
            actor=HQ,
            data=sites.SiteCreate(code="S-QY-01", name="宽巷子采样点", area_code="510105001001"),
        ).id
        sites.create_lab(session=s, actor=HQ, data=sites.LabCreate(code="LAB-A", name="A", area_code="5101"))
    out["lab"] = users.create("lab_a", "lab_staff", area="5101")
    with factory.begin() as s:
        sites.add_lab_member(session=s, actor=HQ, lab_code="LAB-A", username="lab_a")
    return out


def _activate(factory: sessionmaker[Session], loaded: loader.LoadedProfile) -> None:
    with factory.begin() as s:
        profiles.activate(
            session=s,
            actor=HQ,
            loaded=loaded,
            source_text="",
            effective_from=loaded.profile.effective_from,
            as_of=T0,
        )


def _collect(factory: sessionmaker[Session], place: dict[str, Any], barcode: str, person: int) -> None:
    """Open a tube at T0, swab one person, close it at T0."""
    with factory.begin() as s:
        tubes.open_tube(session=s, actor=SAMPLER, barcode=barcode, site_id=place["site"], capacity=10, now=T0)
        tubes.register(
            session=s,
            actor=SAMPLER,
            tube=barcode,
            scan=person_code.make(person),
            site_id=place["site"],
            now=T0,
        )
        tubes.close_tube(session=s, actor=SAMPLER, barcode=barcode, now=T0)


def _ship(
    factory: sessionmaker[Session], place: dict[str, Any], box: str, barcodes: list[str], at: dt.datetime
) -> None:
    with factory.begin() as s:
        tubes.ship(
            session=s,
            actor=SAMPLER,
            code=box,
            site_id=place["site"],
            lab_code="LAB-A",
            barcodes=barcodes,
            now=at,
        )


def _alerts(factory: sessionmaker[Session]) -> list[Task]:
    with factory() as s:
        return list(s.scalars(select(Task).where(Task.kind == "supervision").order_by(Task.id)))


def test_stage_limit_alert_for_a_tube_shipped_but_not_received(
    factory: sessionmaker[Session], place: dict[str, Any]
) -> None:
    _activate(factory, _city())
    p = place["persons"]
    for n, barcode in enumerate(("T-0001", "T-0002", "T-0003")):
        _collect(factory, place, barcode, p[n])
    _ship(factory, place, "BOX-0001", ["T-0001"], T0 + dt.timedelta(minutes=30))  # in transit 4.5 h
    _ship(factory, place, "BOX-0002", ["T-0002"], T0 + dt.timedelta(hours=3))  # 3 h at the site; 2 h transit
    with factory.begin() as s:  # T-0003 received: in the lab's hands for 1 h
        tubes.ship(
            session=s,
            actor=SAMPLER,
            code="BOX-0003",
            site_id=place["site"],
            lab_code="LAB-A",
            barcodes=["T-0003"],
            now=T0 + dt.timedelta(minutes=10),
        )
        tubes.receive(
            session=s,
            actor=place["lab"],
            lab_code="LAB-A",
            shipment="BOX-0003",
            now=T0 + dt.timedelta(hours=4),
        )
    check = T0 + dt.timedelta(hours=5)
    with factory.begin() as s:
        assert turnaround.late(s, T0 + dt.timedelta(minutes=20)) == {}
        found = turnaround.late(s, check)
        # T-0002 spent 3 h (over 2 h) collected but is now in transit for 2 h (within 4 h): the
        # stage it is in decides; the end-to-end 24 h of screening is far away for every tube.
        assert found == {(place["site"], "shipped"): turnaround.Late(end_to_end=[], stage_limit=["T-0001"])}
        assert progress.late_tubes(s, None, check) == 1
        assert turnaround.alert_late(s, HQ, check) == 1
    (alert,) = _alerts(factory)
    assert alert.area_code == "510104020001" and alert.priority == "urgent"
    assert alert.title == "采送检超时：已送未收 1 管（和平社区广场采样点）"
    assert alert.data == {
        "site_id": place["site"],
        "stage": "shipped",
        "count": 1,
        "tubes": ["T-0001"],
        "late_by": {"end_to_end": 0, "stage_limit": 1},
        "stage_limit": "4h",
        "stage_limit_tubes": ["T-0001"],
    }
    # a day later every unreported tube is also past the end-to-end deadline, which wins
    with factory() as s:
        day_later = turnaround.late(s, T0 + dt.timedelta(hours=25))
    assert day_later == {
        (place["site"], "shipped"): turnaround.Late(end_to_end=["T-0001", "T-0002"], stage_limit=[]),
        (place["site"], "received"): turnaround.Late(end_to_end=["T-0003"], stage_limit=[]),
    }


def test_no_stage_alert_without_stage_limits(factory: sessionmaker[Session], place: dict[str, Any]) -> None:
    _activate(factory, loader.load_shipped("cn-9th"))
    _collect(factory, place, "T-0001", place["persons"][0])
    _ship(factory, place, "BOX-0001", ["T-0001"], T0 + dt.timedelta(minutes=30))
    with factory.begin() as s:
        assert turnaround.late(s, T0 + dt.timedelta(hours=23)) == {}
        assert turnaround.alert_late(s, HQ, T0 + dt.timedelta(hours=23)) == 0
        assert progress.late_tubes(s, None, T0 + dt.timedelta(hours=23)) == 0
    assert _alerts(factory) == []
    with factory.begin() as s:  # past the 24 h of screening: the end-to-end rule, as before
        assert turnaround.alert_late(s, HQ, T0 + dt.timedelta(hours=24, minutes=1)) == 1
    (alert,) = _alerts(factory)
    assert alert.data["late_by"] == {"end_to_end": 1, "stage_limit": 0}
    assert "stage_limit" not in alert.data and "stage_limit_tubes" not in alert.data


def test_the_alert_job_is_idempotent_and_refreshes_its_list(
    factory: sessionmaker[Session], place: dict[str, Any]
) -> None:
    _activate(factory, _city())
    for n, barcode in enumerate(("T-0001", "T-0002")):
        _collect(factory, place, barcode, place["persons"][n])
    _ship(factory, place, "BOX-0001", ["T-0001"], T0 + dt.timedelta(minutes=30))
    _ship(factory, place, "BOX-0002", ["T-0002"], T0 + dt.timedelta(hours=2))
    first, later = T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=6, minutes=30)
    with factory.begin() as s:
        assert turnaround.alert_late(s, HQ, first) == 1
    with factory.begin() as s:
        assert turnaround.alert_late(s, HQ, first) == 0  # the same again: nothing new
    (alert,) = _alerts(factory)
    assert alert.data["tubes"] == ["T-0001"]
    with factory.begin() as s:  # T-0002 is now 4.5 h in transit too: the same alert, refreshed
        assert turnaround.alert_late(s, HQ, later) == 0
    (alert,) = _alerts(factory)
    assert alert.data["tubes"] == ["T-0001", "T-0002"] and alert.data["count"] == 2
    assert alert.title == "采送检超时：已送未收 2 管（和平社区广场采样点）"
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 1


# ---------------------------------------------------------------- the summary per stage

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _ago(minutes: float | None) -> dt.datetime | None:
    return None if minutes is None else NOW - dt.timedelta(minutes=minutes)


def _hand_built(factory: sessionmaker[Session], place: dict[str, Any]) -> int:
    """Tubes with known times (minutes before NOW): collected (closed), shipped, received,
    reported. Returns the round's id."""
    with factory.begin() as s:
        r = TestingRound(
            name="第1轮",
            area_code="510104",
            target="everyone",
            start_at=_ago(2000),
            deadline_at=NOW,
            default_pool_size=10,
            created_by="hq",
        )
        other = TestingRound(
            name="第2轮",
            area_code="510104",
            target="everyone",
            start_at=_ago(2000),
            deadline_at=NOW,
            default_pool_size=10,
            created_by="hq",
        )
        s.add_all([r, other])
        s.flush()
        rows: list[tuple[str, float | None, float | None, float | None, float | None, dict[str, Any]]] = [
            # collected 30 / shipped 60 / received 10 min; total 100
            ("T-01", 1100, 1070, 1010, 1000, {}),
            # 60 / 120 / 20; total 200
            ("T-02", 300, 240, 120, 100, {}),
            # 90 / 180 / 400 (over 6 h); total 670: over the fever clinic's 6 h
            ("T-03", 700, 610, 430, 30, {"setting": "fever_clinic"}),
            # 120 (not over 2 h) / 300 (over 4 h) / received 7 h ago, waiting (over 6 h)
            ("T-04", 840, 720, 420, None, {}),
            # 240 (over 2 h) / shipped 1 h ago, waiting
            ("T-05", 300, 60, None, None, {}),
            # closed 3 h ago, not shipped (over 2 h)
            ("T-06", 180, None, None, None, {}),
            # still open, opened 26 h ago: collected (over 2 h) and past the 24 h of screening
            ("T-07", None, None, None, None, {"status": "open", "opened_at": _ago(1560), "members": 3}),
            # empty open tube: not counted
            ("T-08", None, None, None, None, {"status": "open", "opened_at": _ago(50), "members": 0}),
            # another round: not counted
            ("T-09", 5000, 4000, 3000, 2000, {"round_id": other.id}),
            # another site of the same round, closed 1 h ago
            ("T-10", 60, None, None, None, {"site_id": place["other_site"]}),
        ]
        for barcode, closed, shipped, received, reported, extra in rows:
            status = "reported" if reported is not None else "received" if received is not None else "shipped"
            status = status if shipped is not None else "closed"
            values: dict[str, Any] = {
                "barcode": barcode,
                "round_id": r.id,
                "site_id": place["site"],
                "capacity": 10,
                "members": 1,
                "status": status,
                "setting": "screening",
                "opened_at": _ago((closed or 0) + 5),
                "opened_by": "sampler1",
                "closed_at": _ago(closed),
                "shipped_at": _ago(shipped),
                "received_at": _ago(received),
                "reported_at": _ago(reported),
                "result": "negative" if reported is not None else None,
            }
            s.add(Tube(**(values | extra)))
        return r.id


def _stages(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row.pop("stage"): row for row in summary["stages"]}


def test_summary_per_stage_on_hand_built_tubes(factory: sessionmaker[Session], place: dict[str, Any]) -> None:
    _activate(factory, _city())
    round_id = _hand_built(factory, place)
    with factory() as s:
        got = turnaround.summary(session=s, actor=HQ, round_id=round_id, now=NOW).as_dict()
    assert got["tubes"] == 8  # T-01 … T-07 and T-10
    assert got["stage_limits"] == {"collected": "2h", "shipped": "4h", "received": "6h"}
    assert got["result_deadlines"]["fever_clinic"] == "6h"
    totals = [100, 200, 670]
    assert _stages(got) == {
        # [30, 60, 90, 120, 240]: median 90; p90 at rank 1 + 3.6: 120 + 0.6 × 120
        "collected": {
            "done": 5,
            "waiting": 3,
            "median_min": 90.0,
            "p90_min": 192.0,
            "limit": "2h",
            "over_limit": 3,  # T-05 (done in 240), T-06 and T-07 (waiting); 120 is not over
        },
        # [60, 120, 180, 300]: median 150; p90 at rank 1 + 2.7: 180 + 0.7 × 120
        "shipped": {
            "done": 4,
            "waiting": 1,
            "median_min": 150.0,
            "p90_min": 264.0,
            "limit": "4h",
            "over_limit": 1,
        },
        # [10, 20, 400]: median 20; p90 at rank 1 + 1.8: 20 + 0.8 × 380
        "received": {
            "done": 3,
            "waiting": 1,
            "median_min": 20.0,
            "p90_min": 324.0,
            "limit": "6h",
            "over_limit": 2,
        },
        "total": {
            "done": 3,
            "waiting": 5,
            "median_min": float(np.percentile(totals, 50)),
            "p90_min": round(float(np.percentile(totals, 90)), 1),
            "limit": None,
            "over_limit": 2,  # T-03 reported after 670 min of a 6 h deadline; T-07 open for 26 h
        },
    }
    # one site of the round; a site's tubes collected since a time
    with factory() as s:
        one_site = turnaround.summary(session=s, actor=HQ, round_id=round_id, site_id=place["site"], now=NOW)
        recent = turnaround.summary(session=s, actor=HQ, site_id=place["site"], since=_ago(400), now=NOW)
    assert one_site.tubes == 7 and one_site.stages[0].waiting == 2
    assert recent.tubes == 3  # T-02, T-05, T-06
    assert [(r.stage, r.done, r.waiting) for r in recent.stages] == [
        ("collected", 2, 1),
        ("shipped", 1, 1),
        ("received", 1, 0),
        ("total", 1, 2),
    ]


def test_summary_without_stage_limits_or_tubes(factory: sessionmaker[Session], place: dict[str, Any]) -> None:
    _activate(factory, loader.load_shipped("cn-9th"))
    round_id = _hand_built(factory, place)
    with factory() as s:
        got = turnaround.summary(session=s, actor=HQ, round_id=round_id, now=NOW)
        empty = turnaround.summary(session=s, actor=HQ, site_id=place["other_site"], since=NOW, now=NOW)
    assert got.stage_limits == {}
    assert [(r.stage, r.limit, r.over_limit) for r in got.stages] == [
        ("collected", None, None),
        ("shipped", None, None),
        ("received", None, None),
        ("total", None, 2),
    ]
    assert got.stages[1].median_min == 150.0  # the figures do not depend on the limits
    assert empty.tubes == 0
    assert all((r.done, r.waiting, r.median_min, r.p90_min) == (0, 0, None, None) for r in empty.stages)


def test_summary_over_http_and_the_cli(
    client: Any, factory: sessionmaker[Session], place: dict[str, Any], users: Any, settings: Any
) -> None:
    from fangkong.cli import main

    _activate(factory, _city())
    round_id = _hand_built(factory, place)
    users.create("cmd", "commander", area="5101")
    users.create("qy", "commander", area="510105")
    h = login(client, "cmd")
    got = client.get(f"/api/v1/nat/rounds/{round_id}/turnaround", headers=h)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["round_id"] == round_id and body["tubes"] == 8
    assert [r["stage"] for r in body["stages"]] == ["collected", "shipped", "received", "total"]
    assert body["stages"][0]["done"] == 5 and body["stages"][0]["limit"] == "2h"
    by_site = client.get(
        f"/api/v1/nat/rounds/{round_id}/turnaround", params={"site_id": place["site"]}, headers=h
    ).json()
    assert by_site["tubes"] == 7
    site = client.get(
        f"/api/v1/nat/sites/{place['site']}/turnaround", params={"since": "2020-01-01T00:00:00"}, headers=h
    )
    assert site.status_code == 200 and site.json()["site_id"] == place["site"]
    far = client.get(
        f"/api/v1/nat/sites/{place['site']}/turnaround", params={"since": "0001-01-01T00:00:00"}, headers=h
    )
    assert far.status_code == 422 and far.json()["error"]["details"][0]["field"] == "since"
    assert (
        client.get("/api/v1/nat/rounds/999999/turnaround", headers=h).json()["error"]["code"] == "not_found"
    )
    missing = client.get("/api/v1/nat/sites/999999/turnaround", headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["details"][0]["field"] == "site_id"
    assert client.get(f"/api/v1/nat/rounds/{round_id}/turnaround").status_code == 401
    # a commander of another district: neither the round nor the site
    qy = login(client, "qy")
    assert client.get(f"/api/v1/nat/rounds/{round_id}/turnaround", headers=qy).status_code == 403
    assert client.get(f"/api/v1/nat/sites/{place['site']}/turnaround", headers=qy).status_code == 403

    main._register()
    ran = CliRunner().invoke(main.app, ["testing", "turnaround", str(round_id), "--format", "json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output)["tubes"] == 8
    table = CliRunner().invoke(main.app, ["testing", "turnaround", "--site", str(place["site"])])
    assert table.exit_code == 0 and "median_min" in table.output and "collected" in table.output
    refused = CliRunner().invoke(main.app, ["testing", "turnaround"])
    assert refused.exit_code != 0
