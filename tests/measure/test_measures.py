"""Persons under measures: assign a category, the profile in force decides; switching the
profile re-plans everyone (with a preview first); explain says why."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from fangkong.audit.models import AuditEntry
from fangkong.auth.actor import Actor
from fangkong.errors import Forbidden, Invalid, PolicyError
from fangkong.measure import service as measures
from fangkong.measure.models import Measure, PolicyDecision
from fangkong.measure.schemas import CategoryAssign
from fangkong.person import service as persons
from fangkong.person.schemas import PersonCreate
from fangkong.policy import loader
from fangkong.policy_profile import service as profiles
from tests.conftest import login, person_payload

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2022, 7, 3, 9, 0, tzinfo=TZ)
EPI = Actor(user_id=None, username="epi", roles=frozenset({"epidemiologist", "commander"}), area_code="5101")


def _activate(session: Any, pid: str, start: str) -> Any:
    loaded = loader.load_shipped(pid)
    return profiles.activate(
        session=session,
        actor=EPI,
        loaded=loaded,
        source_text="",
        as_of=NOW,
        effective_from=dt.date.fromisoformat(start),
    )


def _person(session: Any, seq: int) -> int:
    return persons.create(
        session=session,
        actor=EPI.__class__(None, "r", frozenset({"community_worker"}), "5101"),
        data=PersonCreate(**person_payload(seq=seq)),
    ).id


def test_no_profile_in_force_is_a_clear_error(session: Any, areas: Any) -> None:
    pid = _person(session, 1)
    with pytest.raises(PolicyError, match="no policy profile is in force"):
        measures.assign(
            session=session,
            actor=EPI,
            person_id=pid,
            as_of=NOW,
            data=CategoryAssign(category="close_contact", clock_at=dt.date(2022, 7, 1)),
        )


def test_assign_plans_measures_and_logs_decisions(session: Any, areas: Any) -> None:
    _activate(session, "cn-9th", "2022-06-28")
    pid = _person(session, 1)
    row, ev = measures.assign(
        session=session,
        actor=EPI,
        person_id=pid,
        as_of=NOW,
        data=CategoryAssign(
            category="close_contact", clock_at=dt.date(2022, 7, 1), setting="venue", place="春熙路商场"
        ),
    )
    session.commit()
    stored = session.scalars(select(Measure).where(Measure.person_id == pid).order_by(Measure.start)).all()
    assert [(m.kind, m.start.isoformat(), m.end.isoformat()) for m in stored] == [
        ("central_quarantine", "2022-07-02", "2022-07-08"),
        ("home_monitoring", "2022-07-09", "2022-07-11"),
    ]
    assert stored[0].test_dates == ["2022-07-02", "2022-07-03", "2022-07-04", "2022-07-06", "2022-07-08"]
    assert stored[0].profile_id == "cn-9th" and stored[0].checksum == loader.load_shipped("cn-9th").checksum
    assert "春熙路商场" in stored[0].reason_zh and "2022-07-01" in stored[0].reason_zh
    assert ev.color == "red"
    kinds = session.scalars(select(PolicyDecision.kind).where(PolicyDecision.person_id == pid)).all()
    assert sorted(kinds) == ["health_code", "measure", "measure"]
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "measure.assign"))


def test_future_clock_and_unknown_category_are_refused(session: Any, areas: Any) -> None:
    _activate(session, "cn-9th", "2022-06-28")
    pid = _person(session, 1)
    with pytest.raises(Invalid, match="future"):
        measures.assign(
            session=session,
            actor=EPI,
            person_id=pid,
            as_of=NOW,
            data=CategoryAssign(category="close_contact", clock_at=dt.date(2022, 7, 30)),
        )
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CategoryAssign(category="vampire", clock_at=dt.date(2022, 7, 1))  # type: ignore[arg-type]


def test_permissions_and_jurisdiction(session: Any, areas: Any) -> None:
    _activate(session, "cn-9th", "2022-06-28")
    pid = _person(session, 1)
    sampler = Actor(user_id=None, username="s", roles=frozenset({"sampler"}), area_code="5101")
    with pytest.raises(Forbidden):
        measures.assign(
            session=session,
            actor=sampler,
            person_id=pid,
            as_of=NOW,
            data=CategoryAssign(category="close_contact", clock_at=dt.date(2022, 7, 1)),
        )
    outsider = Actor(user_id=None, username="o", roles=frozenset({"tracer"}), area_code="510105")
    with pytest.raises(Forbidden, match="jurisdiction"):
        measures.explain(session=session, actor=outsider, person_id=pid, as_of=NOW)


def test_switch_preview_then_apply(session: Any, areas: Any) -> None:
    _activate(session, "cn-9th", "2022-06-28")
    ids = [_person(session, i) for i in range(1, 4)]
    for pid in ids:
        measures.assign(
            session=session,
            actor=EPI,
            person_id=pid,
            as_of=NOW,
            data=CategoryAssign(category="close_contact", clock_at=dt.date(2022, 7, 1)),
        )
    measures.assign(
        session=session,
        actor=EPI,
        person_id=ids[0],
        as_of=NOW,
        data=CategoryAssign(category="companion", clock_at=dt.date(2022, 7, 2)),
    )
    # A shorter protocol: close contacts 5 days central instead of 7.
    text = """
profile_id: city-short
version: 1
title: {zh-CN: 某市方案, en: City profile}
effective_from: 2022-07-03
extends: cn-9th
measures:
  close_contact:
    clock: last_exposure
    phases:
      - {kind: central_quarantine, length: 5d, test_days: [1, 3, 5]}
      - {kind: home_quarantine, length: 3d, test_days: [1, 3]}
"""
    city = loader.loads(text, name="city-short.yaml")
    before = session.scalar(select(func.count()).select_from(Measure).where(Measure.status == "current"))
    preview = profiles.preview(session=session, actor=EPI, loaded=city, as_of=NOW)
    assert preview.people == 3 and preview.released_early == 3 and preview.unchanged == 0
    assert (
        "3 people would be released early" in preview.summary_en() and "3人将提前解除" in preview.summary_zh()
    )
    assert (
        session.scalar(select(func.count()).select_from(Measure).where(Measure.status == "current")) == before
    )
    later = NOW + dt.timedelta(days=4)  # 07-07: day 6 → old plan central quarantine, new plan home quarantine
    preview = profiles.preview(session=session, actor=EPI, loaded=city, as_of=later)
    assert preview.kind_changes == {"central_quarantine→home_quarantine": 3}
    row, changes = profiles.activate(
        session=session,
        actor=EPI,
        loaded=city,
        source_text=text,
        effective_from=dt.date(2022, 7, 3),
        as_of=later,
    )
    assert changes is not None and changes.released_early == 3
    current = session.scalars(
        select(Measure)
        .where(Measure.person_id == ids[1], Measure.status == "current")
        .order_by(Measure.start)
    ).all()
    assert [(m.kind, m.end.isoformat(), m.profile_id) for m in current] == [
        ("central_quarantine", "2022-07-06", "city-short"),
        ("home_quarantine", "2022-07-09", "city-short"),
    ]
    assert session.scalar(select(func.count()).select_from(Measure).where(Measure.status == "superseded")) > 0
    assert profiles.active(session, dt.date(2022, 7, 3)).id == "city-short"
    assert profiles.active(session, dt.date(2022, 7, 2)).id == "cn-9th"


def test_future_activation_applies_when_due(session: Any, areas: Any) -> None:
    _activate(session, "cn-9th", "2022-06-28")
    pid = _person(session, 1)
    measures.assign(
        session=session,
        actor=EPI,
        person_id=pid,
        as_of=NOW,
        data=CategoryAssign(category="close_contact", clock_at=dt.date(2022, 7, 1)),
    )
    row, changes = profiles.activate(
        session=session,
        actor=EPI,
        loaded=loader.load_shipped("cn-9th-20m"),
        source_text="",
        effective_from=dt.date(2022, 7, 5),
        as_of=NOW,
    )
    assert changes is None  # not in force yet: nobody re-planned
    assert measures.apply_due(session, EPI, NOW) == 0
    assert measures.apply_due(session, EPI, NOW + dt.timedelta(days=3)) == 1
    assert measures.apply_due(session, EPI, NOW + dt.timedelta(days=3)) == 0
    kinds = session.scalars(
        select(Measure.profile_id).where(Measure.person_id == pid, Measure.status == "current")
    )
    assert set(kinds) == {"cn-9th-20m"}


def test_withdraw_replans(session: Any, areas: Any) -> None:
    _activate(session, "cn-9th", "2022-06-28")
    pid = _person(session, 1)
    row, _ = measures.assign(
        session=session,
        actor=EPI,
        person_id=pid,
        as_of=NOW,
        data=CategoryAssign(category="close_contact", clock_at=dt.date(2022, 7, 1)),
    )
    ev = measures.withdraw(
        session=session, actor=EPI, person_id=pid, category_id=row.id, reason="判定有误", as_of=NOW
    )
    assert ev.plan == () and ev.color == "green"
    assert measures.measures_of(session=session, actor=EPI, person_id=pid) == []


def test_api_assign_explain_and_measures(client: Any, areas: Any, users: Any, factory: Any) -> None:
    users.create("cmd", "commander", area="5101")
    users.create("epi", "epidemiologist", area="5101")
    h_cmd, h_epi = login(client, "cmd"), login(client, "epi")
    r = client.post(
        "/api/v1/policy/activations",
        headers=h_cmd,
        json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
    )
    assert r.status_code == 200, r.text
    pid = client.post("/api/v1/persons", headers=h_epi, json=person_payload()).json()["person"]["id"]
    r = client.post(
        f"/api/v1/persons/{pid}/categories",
        headers=h_epi,
        json={"category": "arrival_medium_risk", "clock_at": "2026-11-21"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["health_code"] == "yellow" and body["measures"][0]["kind"] == "home_quarantine"
    assert (
        body["measures"][0]["start"] == "2026-11-22"
        and body["categories"][0]["category"] == "arrival_medium_risk"
    )
    assert client.get(f"/api/v1/persons/{pid}/measures", headers=h_epi).json()[0]["end"] == "2026-11-28"
    assert client.get(f"/api/v1/persons/{pid}/explain", headers=h_epi).json()["profile"] == "cn-9th"
    r = client.get(
        "/api/v1/policy/measures?category=close_contact&clock=2022-07-01&profile=cn-9th", headers=h_epi
    )
    assert [m["end"] for m in r.json()["measures"]] == ["2022-07-08", "2022-07-11"]
    assert (
        client.post(
            "/api/v1/policy/activations",
            headers=h_epi,
            json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
        ).status_code
        == 403
    )
    r = client.post(
        "/api/v1/policy/validate",
        headers={**h_epi, "Content-Type": "text/plain"},
        content="profile_id: x\nversion: 1\nbogus: 1\n",
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_profile"


def test_periodic_job_applies_due_profiles(factory: Any, areas: Any) -> None:
    from fangkong.jobs import PeriodicRunner

    runner = PeriodicRunner()
    five_minutes = ["tasks.supervise_overdue", "nat.turnaround", "nat.series"]
    assert runner.run_due(factory, now=0) == ["policy.apply_due", *five_minutes]  # no profile: no-ops
    assert runner.run_due(factory, now=10) == []  # not due again yet
    assert runner.run_due(factory, now=400) == five_minutes  # every 5 min
    assert runner.run_due(factory, now=700) == ["policy.apply_due", *five_minutes]


def test_an_invalid_profile_never_replaces_the_active_one(
    client: Any, areas: Any, users: Any, tmp_path: Any
) -> None:
    users.create("cmd", "commander", area="5101")
    h = login(client, "cmd")
    assert (
        client.post(
            "/api/v1/policy/activations",
            headers=h,
            json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
        ).status_code
        == 200
    )
    bad = (
        "profile_id: city\nversion: 1\nextends: cn-9th\ntitle: {zh-CN: 市, en: City}\n"
        "effective_from: 2022-07-01\n"
        "contacts:\n  close_contact:\n    lookback: 4\n"
    )
    r = client.post(
        "/api/v1/policy/activations", headers=h, json={"text": bad, "effective_from": "2022-07-01"}
    )
    assert r.status_code == 422
    detail = r.json()["error"]["details"][0]
    assert (
        detail["field"] == "contacts.close_contact.lookback"
        and detail["row"] == 8
        and "unit" in detail["reason"]
    )
    assert client.get("/api/v1/policy/active?on=2022-07-02", headers=h).json()["profile_id"] == "cn-9th"
    assert len(client.get("/api/v1/policy/activations", headers=h).json()) == 1
    # the same through the CLI: exit 2, nothing recorded
    from typer.testing import CliRunner

    from fangkong.cli import main

    main._register()
    path = tmp_path / "city.yaml"
    path.write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(main.app, ["policy", "activate", str(path), "--from", "2022-07-01"])
    assert result.exit_code == 2 and "city.yaml:8" in result.output
    result = CliRunner().invoke(main.app, ["policy", "validate", str(path)])
    assert result.exit_code == 2 and "city.yaml:8: contacts.close_contact.lookback" in result.output
    assert len(client.get("/api/v1/policy/activations", headers=h).json()) == 1
