"""Rounds that repeat by themselves (连续多轮): the worker's `nat.series` job closes an
auto-repeating round once its deadline is past and every result is in, plans the series' next
round on the profile's cadence (cn-9th: daily; 3 clear rounds, wait 3 days, one final round)
and stops the series once; switching the flag off leaves the series to people. Through the
service, the worker's runner, the API, the CLI and the round page."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fangkong.auth.actor import system_actor
from fangkong.errors import Conflict
from fangkong.events.models import DomainEvent
from fangkong.nat import results, rounds, series, tubes
from fangkong.nat.models import TestingRound
from fangkong.person import code as person_code
from tests.conftest import is_postgres
from tests.nat import test_api_cli
from tests.nat.conftest import HQ, NOW, SAMPLER
from tests.web.test_pages import _csrf, web_login

# The fixtures of the other testing tests (the world of cn-9th with 12 residents, a site and two
# labs is in tests/nat/conftest.py); for HTTP and the CLI, accounts of each role and the CLI runner.
setup = test_api_cli.setup
cli = test_api_cli.cli

WORKER = system_actor("worker")
DAY = dt.timedelta(days=1)
START = NOW - dt.timedelta(hours=2)  # the first round: started two hours ago, 12 hours long


def _first_round(factory: Any, **kw: Any) -> int:
    with factory.begin() as s:
        return rounds.create(
            session=s,
            actor=HQ,
            data=rounds.RoundCreate(
                name="锦江区全员核酸",
                area_code="510104",
                start_at=START,
                deadline_at=START + dt.timedelta(hours=12),
                **kw,
            ),
        ).id


def _get(factory: Any, round_id: int) -> TestingRound:
    with factory() as s:
        r: TestingRound | None = s.get(TestingRound, round_id)
        assert r is not None
        return r


def _series(factory: Any) -> list[TestingRound]:
    with factory() as s:
        return list(s.scalars(select(TestingRound).order_by(TestingRound.seq, TestingRound.id)))


def _advance(factory: Any, now: dt.datetime) -> series.Advanced:
    with factory.begin() as s:
        return series.advance_all(session=s, actor=WORKER, now=now)


def _events(factory: Any, type_: str) -> list[DomainEvent]:
    with factory() as s:
        return list(s.scalars(select(DomainEvent).where(DomainEvent.type == type_).order_by(DomainEvent.id)))


def _sample(factory: Any, world: dict[str, Any], round_id: int, barcode: str, members: list[int]) -> None:
    with factory.begin() as s:
        tubes.open_tube(session=s, actor=SAMPLER, barcode=barcode, site_id=world["site"], round_id=round_id)
        for pid in members:
            tubes.register(
                session=s, actor=SAMPLER, tube=barcode, scan=person_code.make(pid), site_id=world["site"]
            )
    with factory.begin() as s:
        tubes.ship(
            session=s,
            actor=SAMPLER,
            code=f"BOX-{barcode}",
            site_id=world["site"],
            lab_code="LAB-A",
            barcodes=[barcode],
        )
    with factory.begin() as s:
        assert (
            tubes.receive(session=s, actor=world["lab_a"], lab_code="LAB-A", shipment=f"BOX-{barcode}") == 1
        )


def _report(factory: Any, world: dict[str, Any], barcode: str, positive: bool = False) -> None:
    row = (
        results.ResultIn(barcode=barcode, ct_n=28.0, ct_orf=29.0, tested_at=dt.datetime.now(dt.UTC))
        if positive
        else results.ResultIn(barcode=barcode, result="阴性", tested_at=dt.datetime.now(dt.UTC))
    )
    with factory.begin() as s:
        results.record(session=s, actor=world["lab_a"], lab_code="LAB-A", source="api", rows=[row])


def _run_round(
    factory: Any, world: dict[str, Any], r: TestingRound, positive: bool = False
) -> series.Advanced:
    """Sample three residents in one pooled tube, report it, let the worker run after the
    deadline."""
    barcode = f"T-{r.seq:02d}{r.id:04d}"
    _sample(factory, world, r.id, barcode, world["persons"][:3])
    _report(factory, world, barcode, positive)
    return _advance(factory, r.deadline_at + dt.timedelta(hours=1))


def test_a_round_closes_only_once_every_result_is_in(factory: Any, world: dict[str, Any]) -> None:
    first = _first_round(factory)
    assert _get(factory, first).auto_repeat  # a round of everyone repeats by default
    after_deadline = START + dt.timedelta(hours=13)
    # nobody sampled yet: past the deadline it stays open (an empty round would count as clear)
    assert _advance(factory, after_deadline) == series.Advanced()
    _sample(factory, world, first, "T-0001", world["persons"][:3])
    with factory.begin() as s:  # an unused tube does not hold the round
        tubes.open_tube(session=s, actor=SAMPLER, barcode="T-0002", site_id=world["site"], round_id=first)
    assert _advance(factory, START + dt.timedelta(hours=11)).closed == []  # before the deadline
    assert _advance(factory, after_deadline).closed == []  # the tube is at the lab, no result yet
    assert _get(factory, first).status == "open"
    _report(factory, world, "T-0001")
    assert _advance(factory, START + dt.timedelta(hours=11)).closed == []  # results in, deadline ahead
    done = _advance(factory, after_deadline)
    assert done.closed == [first] and len(done.planned) == 1 and done.stopped == []
    r1 = _get(factory, first)
    assert r1.status == "closed" and r1.closed_at == after_deadline
    # the next round, on the cadence: same area, target, pool size and length, one day later
    r2 = _get(factory, done.planned[0])
    assert (r2.series_id, r2.seq, r2.final, r2.auto_repeat) == (first, 2, False, True)
    assert r2.start_at == START + DAY and r2.deadline_at - r2.start_at == dt.timedelta(hours=12)
    assert (r2.area_code, r2.target, r2.default_pool_size, r2.expected) == ("510104", "everyone", 10, 12)
    assert r2.name == "锦江区全员核酸（第2轮）" and r2.status == "open"
    assert [e.aggregate_id for e in _events(factory, "nat.round_closed")] == [str(first)]
    [repeated] = _events(factory, "nat.series_repeated")
    assert repeated.aggregate_id == str(first) and repeated.payload["round_id"] == r2.id
    assert (repeated.payload["action"], repeated.payload["clear_rounds"]) == ("repeat", 1)


def test_running_the_job_again_plans_nothing_twice(factory: Any, world: dict[str, Any]) -> None:
    from fangkong.jobs import JOBS, PeriodicRunner

    first = _first_round(factory)
    done = _run_round(factory, world, _get(factory, first))
    assert len(done.planned) == 1
    closed_at = _get(factory, first).closed_at
    assert closed_at is not None
    later = closed_at + dt.timedelta(hours=1)
    assert _advance(factory, later) == series.Advanced()  # the new round is still open
    assert _advance(factory, later) == series.Advanced()
    # the worker's runner: the job is registered and runs cleanly (nothing is due in real time)
    assert "nat.series" in {job.name for job in JOBS}
    assert "nat.series" in PeriodicRunner().run_due(factory)
    assert [(r.seq, r.series_id) for r in _series(factory)] == [(1, None), (2, first)]
    assert len(_events(factory, "nat.series_repeated")) == 1
    # planning by hand meanwhile is refused: the series' last round is open
    with factory.begin() as s, pytest.raises(Conflict, match="still open"):
        series.repeat(session=s, actor=HQ, round_id=first)
    # and the database never holds two rounds of one number in a series, whoever writes them
    with factory() as s, pytest.raises(IntegrityError):
        r2 = s.scalars(select(TestingRound).where(TestingRound.seq == 2)).one()
        s.add(
            TestingRound(
                name="copy",
                area_code="510104",
                target="everyone",
                start_at=r2.start_at,
                deadline_at=r2.deadline_at,
                default_pool_size=10,
                series_id=first,
                seq=2,
                created_by="test",
            )
        )
        s.flush()


@pytest.mark.skipif(not is_postgres(), reason="row locks: SQLite runs one writer at a time anyway")
def test_two_workers_and_two_people_at_once_plan_one_round(factory: Any, world: dict[str, Any]) -> None:
    import threading

    first = _first_round(factory)
    _sample(factory, world, first, "T-0001", world["persons"][:3])
    _report(factory, world, "T-0001")
    after = START + dt.timedelta(hours=13)
    with factory() as a:
        done = series.advance_all(session=a, actor=WORKER, now=after)
        assert done.closed == [first] and len(done.planned) == 1
        with factory.begin() as b:  # a second worker meanwhile: the rows are taken, it passes
            assert series.advance_all(session=b, actor=WORKER, now=after) == series.Advanced()
        a.rollback()  # (as if that worker died: nothing of it is kept)
    with factory.begin() as s:
        rounds.close(session=s, actor=HQ, round_id=first)
        series.set_auto_repeat(session=s, actor=HQ, round_id=first, auto_repeat=False)
    # two commanders ask for the next round at the same moment: one gets it, the other a 409
    outcome: dict[str, Any] = {}

    def other() -> None:
        with factory() as b:
            try:
                outcome["made"] = series.repeat(session=b, actor=HQ, round_id=first).seq
                b.commit()
            except Conflict as exc:
                outcome["refused"] = str(exc)

    with factory() as a:
        assert series.repeat(session=a, actor=HQ, round_id=first).seq == 2
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(1.0)  # it waits on round 2, not yet committed
        a.commit()
        thread.join(30)
    assert not thread.is_alive() and "made" not in outcome
    assert "planned meanwhile" in outcome["refused"] or "still open" in outcome["refused"]
    assert [r.seq for r in _series(factory)] == [1, 2]


def test_the_series_stops_after_three_clear_rounds_and_a_final_round(
    factory: Any, world: dict[str, Any]
) -> None:
    first = _first_round(factory)
    seen = []
    current = _get(factory, first)
    for _ in range(6):
        done = _run_round(factory, world, current)
        assert done.closed == [current.id]
        if done.stopped:
            assert done.planned == [] and done.stopped == [first]
            break
        [planned] = done.planned
        seen.append(_events(factory, "nat.series_repeated")[-1].payload["action"])
        current = _get(factory, planned)
    # cn-9th: one round a day; 3 clear rounds → wait 3 days → one final round → stop
    assert seen == ["repeat", "repeat", "final"]
    all_rounds = _series(factory)
    assert [(r.seq, r.final, r.status) for r in all_rounds] == [
        (1, False, "closed"),
        (2, False, "closed"),
        (3, False, "closed"),
        (4, True, "closed"),
    ]
    assert [r.start_at - START for r in all_rounds] == [dt.timedelta(0), DAY, 2 * DAY, 5 * DAY]
    assert "收尾轮" in all_rounds[3].name
    # the stop is recorded once, and the series no longer repeats by itself
    assert all(not r.auto_repeat for r in all_rounds)
    [stopped] = _events(factory, "nat.series_stopped")
    assert stopped.aggregate_id == str(first)
    assert stopped.payload["last_round_id"] == all_rounds[3].id and stopped.payload["clear_rounds"] == 4
    later = all_rounds[3].deadline_at + 2 * DAY
    assert _advance(factory, later) == series.Advanced()
    assert len(_events(factory, "nat.series_stopped")) == 1 and len(_series(factory)) == 4


def test_a_positive_round_resets_the_count_of_clear_rounds(factory: Any, world: dict[str, Any]) -> None:
    first = _first_round(factory)
    current = _get(factory, first)
    for positive in (False, True, False, False):
        [planned] = _run_round(factory, world, current, positive=positive).planned
        current = _get(factory, planned)
    counts = [
        (e.payload["action"], e.payload["clear_rounds"]) for e in _events(factory, "nat.series_repeated")
    ]
    # clear, positive (back to zero), then counting again: no final round yet
    assert counts == [("repeat", 1), ("repeat", 0), ("repeat", 1), ("repeat", 2)]
    assert [r.final for r in _series(factory)] == [False] * 5


def test_switched_off_the_series_is_left_to_people(factory: Any, world: dict[str, Any]) -> None:
    first = _first_round(factory, auto_repeat=False)
    r1 = _get(factory, first)
    assert not r1.auto_repeat
    assert _run_round(factory, world, r1) == series.Advanced()  # not even closed
    with factory.begin() as s:
        rounds.close(session=s, actor=HQ, round_id=first)
    later = r1.deadline_at + dt.timedelta(hours=2)
    assert _advance(factory, later) == series.Advanced()  # closed by hand: still nothing planned
    assert len(_series(factory)) == 1
    # switched on: the worker plans the next round, which repeats too
    with factory.begin() as s:
        series.set_auto_repeat(session=s, actor=HQ, round_id=first, auto_repeat=True)
    [planned] = _advance(factory, later).planned
    r2 = _get(factory, planned)
    assert r2.auto_repeat and r2.seq == 2
    # switched off from any round of the series: the whole series
    with factory.begin() as s:
        series.set_auto_repeat(session=s, actor=HQ, round_id=planned, auto_repeat=False)
    assert [r.auto_repeat for r in _series(factory)] == [False, False]
    assert _run_round(factory, world, r2) == series.Advanced()
    assert [e.payload["auto_repeat"] for e in _events(factory, "nat.series_auto_repeat")] == [True, False]
    # a round of key groups only is not mass testing: off unless asked for; a round added to a
    # series by hand follows the series
    with factory.begin() as s:
        keyed = rounds.create(
            session=s,
            actor=HQ,
            data=rounds.RoundCreate(
                name="重点人群", area_code="510104", target="key_groups", start_at=NOW, deadline_at=NOW + DAY
            ),
        )
        added = rounds.create(
            session=s,
            actor=HQ,
            data=rounds.RoundCreate(
                name="补一轮", area_code="510104", start_at=NOW, deadline_at=NOW + DAY, series_id=first
            ),
        )
        assert not keyed.auto_repeat and not added.auto_repeat and added.seq == 3


def test_one_series_in_trouble_does_not_hold_the_others(factory: Any, world: dict[str, Any]) -> None:
    broken, fine = _first_round(factory), _first_round(factory)
    for r in (broken, fine):
        _sample(factory, world, r, f"T-{r:04d}", world["persons"][:3])
        _report(factory, world, f"T-{r:04d}")
    with factory.begin() as s:  # a pool size the profile does not allow (changed since)
        row = s.get(TestingRound, broken)
        assert row is not None
        row.default_pool_size = 7
    done = _advance(factory, START + dt.timedelta(hours=13))
    assert done.closed == [broken, fine] and len(done.planned) == 1
    assert _get(factory, done.planned[0]).series_id == fine
    assert [(r.series_id or r.id, r.seq) for r in _series(factory)] == [(broken, 1), (fine, 1), (fine, 2)]


def test_late_results_move_the_next_round_to_the_next_window(factory: Any, world: dict[str, Any]) -> None:
    first = _first_round(factory)
    r1 = _get(factory, first)
    _sample(factory, world, first, "T-0001", world["persons"][:3])
    _report(factory, world, "T-0001")
    # the worker only gets to it after the next round's window (day 2, 12 hours) is over
    done = _advance(factory, START + DAY + dt.timedelta(hours=13))
    assert done.closed == [first]
    r2 = _get(factory, done.planned[0])
    assert r2.start_at == START + 2 * DAY and r2.deadline_at - r2.start_at == r1.deadline_at - r1.start_at


def test_the_flag_over_http_cli_and_the_round_page(client: Any, setup: dict[str, Any], cli: Any) -> None:
    h = setup["h"]
    now = dt.datetime.now(dt.UTC)
    body = {
        "name": "第1轮",
        "area_code": "510104",
        "start_at": now.isoformat(),
        "deadline_at": (now + dt.timedelta(hours=12)).isoformat(),
    }
    made = client.post("/api/v1/nat/rounds", headers=h["cmd"], json=body)
    assert made.status_code == 201 and made.json()["auto_repeat"] is True
    off = client.post("/api/v1/nat/rounds", headers=h["cmd"], json=body | {"auto_repeat": False})
    assert off.status_code == 201 and off.json()["auto_repeat"] is False
    rid = made.json()["id"]
    url = f"/api/v1/nat/rounds/{rid}"
    assert client.patch(url, headers=h["cmd"], json={"auto_repeat": False}).json()["auto_repeat"] is False
    assert client.get(url, headers=h["epi"]).json()["auto_repeat"] is False
    refused = client.patch(url, headers=h["epi"], json={"auto_repeat": True})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad = client.patch(url, headers=h["cmd"], json={"auto_repeat": True, "seq": 3})
    assert bad.status_code == 422
    assert (
        client.patch("/api/v1/nat/rounds/999999", headers=h["cmd"], json={"auto_repeat": True}).status_code
        == 404
    )
    # the CLI: create without it, see it in the status, switch it on
    created = cli(
        "testing", "round", "create", "--name", "第2轮", "--area", "510104", "--start", body["start_at"],
        "--deadline", body["deadline_at"], "--no-auto-repeat", "--format", "json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    cid = json.loads(created.output)["id"]
    assert json.loads(created.output)["auto_repeat"] is False
    status = json.loads(cli("testing", "round", "status", cid, "--format", "json").output)
    assert (status["auto_repeat"], status["seq"], status["series_id"], status["expected"]) == (
        False,
        1,
        cid,
        3,
    )
    switched = cli("testing", "round", "auto-repeat", cid, "on")
    assert switched.exit_code == 0 and "on" in switched.output
    assert (
        json.loads(cli("testing", "round", "status", cid, "--format", "json").output)["auto_repeat"] is True
    )
    wrong = cli("testing", "round", "auto-repeat", cid, "maybe")
    assert wrong.exit_code != 0 and "on or off" in wrong.output
    # the round page shows it; a commander switches it there
    web_login(client, "cmd")
    page = client.get(f"/nat/rounds/{rid}")
    assert page.status_code == 200 and 'id="auto-repeat">已关闭<' in page.text and "第1轮" in page.text
    posted = client.post(
        f"/nat/rounds/{rid}/auto-repeat",
        data={"csrf_token": _csrf(page.text), "auto_repeat": "on"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    page = client.get(f"/nat/rounds/{rid}")
    assert 'id="auto-repeat">已开启<' in page.text and "关闭自动续轮" in page.text
    client.post("/logout", data={"csrf_token": _csrf(page.text)})
    web_login(client, "epi")  # reads rounds, may not manage them: no button, and refused
    page = client.get(f"/nat/rounds/{rid}")
    assert page.status_code == 200 and 'id="auto-repeat-form"' not in page.text
    refused_page = client.post(
        f"/nat/rounds/{rid}/auto-repeat", data={"csrf_token": _csrf(page.text), "auto_repeat": "off"}
    )
    assert refused_page.status_code == 403
    assert client.get(url, headers=h["epi"]).json()["auto_repeat"] is True
    client.get("/lang?to=en&next=/")
    english = client.get(f"/nat/rounds/{rid}")
    assert "Repeats automatically" in english.text and "round 1 of the series" in english.text
