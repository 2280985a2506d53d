"""Testing operations end to end in the database: sites, labs, a round with its expected
persons, tubes and swabs by scanning, shipment, lab results (idempotent, corrections, bad
rows), the positive-pool and single-tube flows, progress and the missing list."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fangkong.case.models import Case
from fangkong.errors import Conflict, Forbidden, Invalid, NotFound
from fangkong.events import service as events
from fangkong.measure.models import PersonCategory
from fangkong.nat import progress, results, rounds, sites, tubes
from fangkong.nat.models import Tube, TubeResult
from fangkong.person import code as person_code
from fangkong.person.models import PersonIdentifier
from fangkong.task.models import Task
from tests.nat.conftest import HQ, NOW, SAMPLER


def _round(factory: Any) -> int:
    with factory.begin() as s:
        r = rounds.create(
            session=s,
            actor=HQ,
            data=rounds.RoundCreate(
                name="锦江区第1轮全员核酸",
                area_code="510104",
                start_at=NOW - dt.timedelta(hours=2),
                deadline_at=NOW + dt.timedelta(hours=10),
            ),
        )
        return r.id


def _fill(
    factory: Any, world: dict[str, Any], round_id: int, barcode: str, members: list[int], **kw: Any
) -> None:
    with factory.begin() as s:
        tubes.open_tube(
            session=s, actor=SAMPLER, barcode=barcode, site_id=world["site"], round_id=round_id, **kw
        )
        for pid in members:
            tubes.register(
                session=s, actor=SAMPLER, tube=barcode, scan=person_code.make(pid), site_id=world["site"]
            )


def _ship_and_receive(
    factory: Any, world: dict[str, Any], code: str, barcodes: list[str], lab: str = "LAB-A"
) -> None:
    with factory.begin() as s:
        tubes.ship(
            session=s, actor=SAMPLER, code=code, site_id=world["site"], lab_code=lab, barcodes=barcodes
        )
    with factory.begin() as s:
        staff = world["lab_a"] if lab == "LAB-A" else world["lab_b"]
        assert tubes.receive(session=s, actor=staff, lab_code=lab, shipment=code) == len(barcodes)


def test_round_plans_expected_persons_sites_and_tube_sizes(factory: Any, world: dict[str, Any]) -> None:
    round_id = _round(factory)
    with factory() as s:
        r = s.get(rounds.TestingRound, round_id)
        assert r.expected == 12 and r.default_pool_size == 10 and r.profile_id == "cn-9th"
        assert "锦江区" in r.announcement_zh and "采样点" in r.announcement_zh
        members = {
            m.person_id: m
            for m in s.scalars(select(rounds.RoundMember).where(rounds.RoundMember.round_id == round_id))
        }
    assert {m.site_id for m in members.values()} == {world["site"]}  # the far site is outside the area
    assert all(m.area_code == "510104020001" and m.distance_m is not None for m in members.values())
    # key groups are tested singly (cn-9th testing.pooling.single_tube_for)
    assert [pid for pid, m in members.items() if m.single_tube] == [world["persons"][10]]
    with factory.begin() as s, pytest.raises(Invalid, match="deadline"):
        rounds.create(
            session=s,
            actor=HQ,
            data=rounds.RoundCreate(
                name="x", area_code="510104", start_at=NOW, deadline_at=NOW - dt.timedelta(hours=1)
            ),
        )


def test_scanning_swabs_into_tubes(factory: Any, world: dict[str, Any]) -> None:
    round_id = _round(factory)
    p = world["persons"]
    with factory.begin() as s:
        tubes.open_tube(
            session=s, actor=SAMPLER, barcode="T-0001", site_id=world["site"], round_id=round_id, capacity=5
        )
        # person code, resident ID number (lower-case x accepted), passport
        a = tubes.register(
            session=s, actor=SAMPLER, tube="T-0001", scan=person_code.make(p[0]), site_id=world["site"]
        )
        rid = s.scalar(select(PersonIdentifier.value).where(PersonIdentifier.person_id == p[1]))
        b = tubes.register(session=s, actor=SAMPLER, tube="T-0001", scan=rid.lower(), site_id=world["site"])
        c = tubes.register(session=s, actor=SAMPLER, tube="T-0001", scan="e12345678", site_id=world["site"])
        assert (a.person_id, b.person_id, c.person_id) == (p[0], p[1], p[11]) and c.members == 3
        d = tubes.register(
            session=s, actor=SAMPLER, tube="T-0001", scan=person_code.make(p[10]), site_id=world["site"]
        )
        assert "single tube" in " ".join(d.warnings)
    bad = [
        (dict(tube="T-0001", scan=person_code.make(p[0])), Conflict, "already in tube"),
        (dict(tube="T-9999", scan=person_code.make(p[2])), NotFound, "unknown tube"),
        (dict(tube="T-0001", scan="FK1.5.AAAAAAAAAA"), Invalid, "person code"),
        (dict(tube="T-0001", scan="110105199001011234"), Invalid, "resident ID"),
        (dict(tube="T-0001", scan="G00000000"), NotFound, "no registered person"),
    ]
    for kwargs, error, text in bad:
        with factory.begin() as s, pytest.raises(error, match=text):
            tubes.register(session=s, actor=SAMPLER, site_id=world["site"], **kwargs)
    with factory.begin() as s, pytest.raises(Forbidden, match="outside your jurisdiction"):
        tubes.register(
            session=s, actor=SAMPLER, tube="T-0001", scan=person_code.make(p[2]), site_id=world["far_site"]
        )
    with factory.begin() as s:
        other = sites.create_site(
            session=s, actor=HQ, data=sites.SiteCreate(code="S-DF-01", name="东风", area_code="510104020002")
        ).id
    with factory.begin() as s, pytest.raises(Conflict, match="another sampling site"):
        tubes.register(session=s, actor=SAMPLER, tube="T-0001", scan=person_code.make(p[2]), site_id=other)
    with factory.begin() as s:  # the fifth swab closes the tube
        e = tubes.register(
            session=s, actor=SAMPLER, tube="T-0001", scan=person_code.make(p[2]), site_id=world["site"]
        )
        assert e.closed and e.members == 5
    with factory.begin() as s, pytest.raises(Conflict, match="closed"):
        tubes.register(
            session=s, actor=SAMPLER, tube="T-0001", scan=person_code.make(p[3]), site_id=world["site"]
        )
    with factory.begin() as s, pytest.raises(Conflict, match="already used"):
        tubes.open_tube(session=s, actor=SAMPLER, barcode="T-0001", site_id=world["site"])
    with factory.begin() as s, pytest.raises(Invalid, match="pool size"):
        tubes.open_tube(session=s, actor=SAMPLER, barcode="T-0002", site_id=world["site"], capacity=7)
    # a second tube in the same round: allowed, with a warning
    with factory.begin() as s:
        tubes.open_tube(session=s, actor=SAMPLER, barcode="T-0003", site_id=world["site"], round_id=round_id)
        again = tubes.register(
            session=s, actor=SAMPLER, tube="T-0003", scan=person_code.make(p[0]), site_id=world["site"]
        )
    assert any("already sampled in this round (tube T-0001)" in w for w in again.warnings)


def test_shipping_receiving_and_lab_boundaries(factory: Any, world: dict[str, Any]) -> None:
    round_id = _round(factory)
    _fill(factory, world, round_id, "T-0100", world["persons"][:3])
    with factory.begin() as s:
        tubes.open_tube(session=s, actor=SAMPLER, barcode="T-EMPTY", site_id=world["site"])
    with factory.begin() as s, pytest.raises(Invalid) as exc:
        tubes.ship(
            session=s,
            actor=SAMPLER,
            code="BOX-001",
            site_id=world["site"],
            lab_code="LAB-A",
            barcodes=["T-0100", "T-EMPTY", "T-NOPE"],
        )
    assert [(d.field, d.reason) for d in exc.value.details] == [
        ("barcodes[1]", "empty tube (never collected)"),
        ("barcodes[2]", "unknown tube barcode"),
    ]
    with factory() as s:
        assert s.scalar(select(Tube.status).where(Tube.barcode == "T-0100")) == "open"  # nothing shipped
    with factory.begin() as s:
        tubes.ship(
            session=s,
            actor=SAMPLER,
            code="BOX-001",
            site_id=world["site"],
            lab_code="LAB-A",
            barcodes=["T-0100"],
        )
    with factory.begin() as s, pytest.raises(Forbidden, match="another lab"):
        tubes.receive(session=s, actor=world["lab_b"], lab_code="LAB-B", shipment="BOX-001")
    with factory.begin() as s, pytest.raises(Forbidden, match="do not work for lab"):
        tubes.receive(session=s, actor=world["lab_b"], lab_code="LAB-A", shipment="BOX-001")
    with factory.begin() as s:
        assert tubes.receive(session=s, actor=world["lab_a"], lab_code="LAB-A", shipment="BOX-001") == 1
        assert tubes.receive(session=s, actor=world["lab_a"], lab_code="LAB-A", shipment="BOX-001") == 0
    with factory() as s:
        t = s.scalar(select(Tube).where(Tube.barcode == "T-0100"))
        assert t.status == "received" and t.closed_at and t.shipped_at and t.received_by == "lab_a"


def _result(barcode: str, **kw: Any) -> results.ResultIn:
    return results.ResultIn(barcode=barcode, tested_at=kw.pop("tested_at", dt.datetime.now(dt.UTC)), **kw)


def test_results_all_or_nothing_idempotent_and_corrections(factory: Any, world: dict[str, Any]) -> None:
    round_id = _round(factory)
    p = world["persons"]
    _fill(factory, world, round_id, "T-0200", p[:2])
    _fill(factory, world, round_id, "T-0201", p[2:4])
    _fill(factory, world, round_id, "T-0202", p[4:5])  # collected, never shipped
    with factory.begin() as s:
        tubes.open_tube(session=s, actor=SAMPLER, barcode="T-0203", site_id=world["site"])  # never collected
    _ship_and_receive(factory, world, "BOX-002", ["T-0200", "T-0201"])
    lab = world["lab_a"]
    with factory.begin() as s, pytest.raises(Invalid) as exc:
        results.record(
            session=s,
            actor=lab,
            lab_code="LAB-A",
            source="t",
            rows=[
                _result("T-0200", result="阴性"),
                _result("T-0201", ct_n=52.0, ct_orf=30.0),
                _result("T-0202", result="negative"),
                _result("T-0203", result="negative"),
                _result("T-NONE", result="negative"),
                _result("T-0200", result="maybe"),
            ],
        )
    got = {(d.row, d.field, d.reason) for d in exc.value.details}
    assert got == {
        (2, "ct_n", "a Ct value is between 0 and 45"),
        (3, "barcode", "result before the tube was shipped"),
        (4, "barcode", "tube never collected (no samples)"),
        (5, "barcode", "unknown tube barcode"),
        (6, "result", "negative, positive or invalid (阴性/阳性/无效)"),
    }
    with factory() as s:
        assert s.scalar(select(TubeResult.id)) is None  # nothing half-written
    with factory.begin() as s, pytest.raises(Invalid) as early:  # tested before it was shipped
        results.record(
            session=s,
            actor=lab,
            lab_code="LAB-A",
            source="t",
            rows=[_result("T-0200", result="阴性", tested_at=NOW - dt.timedelta(days=1))],
        )
    (detail,) = early.value.details
    assert (detail.row, detail.field) == (1, "tested_at") and "before the tube was shipped" in detail.reason
    tested_local = (NOW - dt.timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert str(detail.value).startswith(f"{tested_local:%Y-%m-%d %H:%M} < ")
    with factory.begin() as s, pytest.raises(Forbidden):
        results.record(
            session=s,
            actor=world["lab_b"],
            lab_code="LAB-A",
            source="t",
            rows=[_result("T-0200", result="阴性")],
        )
    rows = [_result("T-0200", result="阴性"), _result("T-0201", ct_n=38.5, ct_orf=41.0)]
    with factory.begin() as s:
        first = results.record(session=s, actor=lab, lab_code="LAB-A", source="a.csv", rows=rows)
    assert (first.recorded, first.unchanged) == (2, 0)
    with factory.begin() as s:  # the same upload again: one result each
        again = results.record(session=s, actor=lab, lab_code="LAB-A", source="a.csv", rows=rows)
    assert (again.recorded, again.unchanged, again.corrected) == (0, 2, 0)
    with factory() as s:
        t = s.scalar(select(Tube).where(Tube.barcode == "T-0201"))
        assert t.result == "invalid"  # only N below the cut-off of 40: retest
    with factory.begin() as s:  # a corrected result: a new version, the old one kept
        fixed = results.record(
            session=s,
            actor=lab,
            lab_code="LAB-A",
            source="fix.csv",
            rows=[_result("T-0201", result="negative")],
        )
    assert fixed.corrected == 1
    with factory() as s:
        history = s.scalars(
            select(TubeResult).join(Tube).where(Tube.barcode == "T-0201").order_by(TubeResult.version)
        ).all()
        assert [(h.version, h.result, h.current) for h in history] == [
            (1, "invalid", False),
            (2, "negative", True),
        ]


def test_positive_pool_then_single_retests(factory: Any, world: dict[str, Any]) -> None:
    round_id = _round(factory)
    p = world["persons"]
    _fill(factory, world, round_id, "T-0300", p[:4])
    _ship_and_receive(factory, world, "BOX-003", ["T-0300"])
    with factory.begin() as s:
        rep = results.record(
            session=s,
            actor=world["lab_a"],
            lab_code="LAB-A",
            source="api",
            rows=[_result("T-0300", ct_n=28.1, ct_orf=29.4)],
        )
    assert rep.positive == 1 and rep.positive_tubes == ["T-0300"]
    assert rep.as_dict()["positive_tubes"] == ["T-0300"]
    events.run_pending(factory)
    with factory() as s:
        pooled = s.scalars(
            select(PersonCategory).where(
                PersonCategory.category == "positive_pool_member", PersonCategory.status == "active"
            )
        ).all()
        assert sorted(c.person_id for c in pooled) == sorted(p[:4])
        retests = s.scalars(select(Task).where(Task.kind == "retest")).all()
        assert sorted(t.person_id for t in retests) == sorted(p[:4])
        t0 = retests[0]
        assert t0.area_code == "510104020001" and t0.priority == "urgent"
        assert t0.due_at - s.scalar(select(Tube.reported_at).where(Tube.barcode == "T-0300")) == dt.timedelta(
            hours=12
        )
        assert t0.data["sampled_at_site"] == "和平社区广场采样点"
    # who was in the pool and where they are now (the latest check-in from the movement store)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fangkong.config import get_settings
    from fangkong.nat.members import members

    folder = get_settings().resolved_movement_dir / "checkins"
    folder.mkdir(parents=True)
    ts = pa.timestamp("us", tz="UTC")
    pq.write_table(
        pa.table(
            {
                "person_id": pa.array([p[0], p[0], p[1]], pa.int64()),
                "place_id": pa.array([5, 6, 7], pa.int64()),
                "time": pa.array([NOW - dt.timedelta(hours=5), NOW - dt.timedelta(hours=1), NOW], ts),
            }
        ),
        folder / "part-0.parquet",
    )
    with factory() as s:
        seen = members(session=s, actor=HQ, barcode="T-0300")
    rows = {m["person_id"]: m for m in seen["members"]}
    assert set(rows) == set(p[:4]) and all("*" in m["name"] for m in rows.values())
    assert rows[p[0]]["last_checkin"]["place_id"] == "6" and rows[p[2]]["last_checkin"] is None
    assert (
        rows[p[0]]["categories"] == ["positive_pool_member"] and rows[p[0]]["retest_task"]["status"] == "open"
    )
    events.run_pending(factory)  # replaying changes nothing
    with factory() as s:
        assert len(s.scalars(select(Task).where(Task.kind == "retest")).all()) == 4
    # single-tube retests: one positive (a case opens), the others negative (released)
    for n, pid in enumerate(p[:4]):
        _fill(factory, world, None, f"T-04{n:02d}", [pid], capacity=1, setting="screening")  # type: ignore[arg-type]
    _ship_and_receive(factory, world, "BOX-004", [f"T-04{n:02d}" for n in range(4)])
    later = dt.datetime.now(dt.UTC)
    with factory.begin() as s:
        results.record(
            session=s,
            actor=world["lab_a"],
            lab_code="LAB-A",
            source="api",
            rows=[_result("T-0400", ct_n=25.0, ct_orf=26.0, tested_at=later)]
            + [_result(f"T-04{n:02d}", result="阴性", tested_at=later) for n in range(1, 4)],
        )
    events.run_pending(factory)
    events.run_pending(factory)
    with factory() as s:
        case = s.scalar(select(Case).where(Case.person_id == p[0]))
        assert case is not None and case.classification == "asymptomatic" and case.found_by == "screening"
        assert "T-0400" in case.notes
        active = set(
            s.scalars(
                select(PersonCategory.person_id).where(
                    PersonCategory.category == "positive_pool_member", PersonCategory.status == "active"
                )
            )
        )
        assert active == {p[0]}  # the negatives are released; the case keeps its own measures


def test_progress_missing_and_own_records(factory: Any, world: dict[str, Any], users: Any) -> None:
    round_id = _round(factory)
    p = world["persons"]
    _fill(factory, world, round_id, "T-0500", p[:3])
    with factory() as s:
        prog = progress.progress(session=s, actor=HQ, round_id=round_id).as_dict()
    assert (prog["expected"], prog["sampled"], prog["missing"]) == (12, 3, 9)
    assert prog["communities"] == [
        {
            "area_code": "510104020001",
            "area_name": "和平社区",
            "expected": 12,
            "sampled": 3,
            "missing": 9,
            "pending": 3,
            "positive": 0,
            "share": 0.25,
        }
    ]
    assert prog["tubes"] == {"open": 1}
    with factory() as s:
        rows = progress.missing(session=s, actor=HQ, round_id=round_id)
    assert [r[0] for r in rows] == p[3:]
    assert all("*" in r[1] and "****" in r[2] for r in rows)  # masked
    wb = load_workbook(io.BytesIO(progress.missing_xlsx(rows)))
    assert wb.active.max_row == 10 and wb.active["B1"].value == "姓名"
    resident = users.create("res0", "resident", area=None, person_id=p[0])
    with factory() as s:
        mine = progress.own_records(session=s, actor=resident)
    assert len(mine) == 1 and mine[0]["site"] == "和平社区广场采样点" and mine[0]["result"] is None


def test_turnaround_alerts_for_late_tubes(factory: Any, world: dict[str, Any]) -> None:
    from fangkong.jobs import PeriodicRunner
    from fangkong.nat.turnaround import alert_late

    round_id = _round(factory)
    _fill(factory, world, round_id, "T-0600", world["persons"][:2])
    _fill(factory, world, round_id, "T-0601", world["persons"][2:4])
    _ship_and_receive(factory, world, "BOX-006", ["T-0601"])
    with factory.begin() as s:
        s.execute(select(Tube).where(Tube.barcode == "T-0600")).scalar_one().status = "closed"
        assert alert_late(s, HQ, dt.datetime.now(dt.UTC)) == 0  # within the 24 h of screening
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    with factory.begin() as s:
        assert alert_late(s, HQ, later) == 2
        assert alert_late(s, HQ, later) == 0  # one alert per site, stage and day
    with factory() as s:
        alerts = s.scalars(select(Task).where(Task.kind == "supervision").order_by(Task.title)).all()
        assert sorted((a.data["stage"], a.data["tubes"]) for a in alerts) == [
            ("collected", ["T-0600"]),
            ("received", ["T-0601"]),
        ]
        assert all(a.area_code == "510104020001" and "采送检超时" in a.title for a in alerts)
    # the worker's periodic jobs include the alerts and the supervision of overdue tasks
    ran = PeriodicRunner().run_due(factory)
    assert "nat.turnaround" in ran and "tasks.supervise_overdue" in ran


def test_rounds_repeat_until_the_stop_rule(factory: Any, world: dict[str, Any]) -> None:
    from fangkong.nat import series

    first = _round(factory)
    with factory.begin() as s:
        assert series.next_step(session=s, actor=HQ, round_id=first).action == "wait"  # still open
        rounds.close(session=s, actor=HQ, round_id=first)
    seen = []
    current = first
    for _ in range(6):
        with factory.begin() as s:
            step = series.next_step(session=s, actor=HQ, round_id=current)
            seen.append((step.action, step.clear_rounds))
            if step.action == "stop":
                with pytest.raises(Conflict):
                    series.repeat(session=s, actor=HQ, round_id=current)
                break
            made = series.repeat(session=s, actor=HQ, round_id=current)
            assert made.series_id == first and made.expected == 12
            rounds.close(session=s, actor=HQ, round_id=made.id)
            current = made.id
    # cn-9th: one a day; 3 clear rounds → wait 3 days → one final round → stop
    assert seen == [("repeat", 1), ("repeat", 2), ("final", 3), ("stop", 4)]
    with factory() as s:
        all_rounds = s.scalars(select(rounds.TestingRound).order_by(rounds.TestingRound.seq)).all()
        assert [r.seq for r in all_rounds] == [1, 2, 3, 4] and [r.final for r in all_rounds] == [
            False
        ] * 3 + [True]
        assert all_rounds[1].start_at - all_rounds[0].start_at == dt.timedelta(days=1)
        assert all_rounds[3].start_at - all_rounds[2].start_at == dt.timedelta(days=3)
        assert "收尾轮" in all_rounds[3].name


def test_round_balances_sites_by_capacity(factory: Any, world: dict[str, Any]) -> None:
    with factory.begin() as s:
        small = s.get(sites.SamplingSite, world["site"])
        small.capacity_per_hour = 2  # 4 swabs in a 2-hour round
        other = sites.create_site(
            session=s,
            actor=HQ,
            data=sites.SiteCreate(
                code="S-DF-02",
                name="东风",
                area_code="510104020002",
                lon=104.10,
                lat=30.66,
                capacity_per_hour=100,
            ),
        ).id
        r = rounds.create(
            session=s,
            actor=HQ,
            data=rounds.RoundCreate(
                name="小轮", area_code="510104", start_at=NOW, deadline_at=NOW + dt.timedelta(hours=2)
            ),
        )
        assert r.assignment == {"moved": 8, "over_capacity": 0}
        by_site: dict[int | None, list[int]] = {}
        for m in s.scalars(select(rounds.RoundMember).where(rounds.RoundMember.round_id == r.id)):
            by_site.setdefault(m.site_id, []).append(m.person_id)
    assert len(by_site[world["site"]]) == 4 and len(by_site[other]) == 8
    # the ones kept at the small site are the nearest to it (site at lon 104.085; person n at
    # 104.080 + n/1000): n = 4, 5, 6 and one of the two 0.002° away (n = 3 or 7)
    kept = {world["persons"].index(p) for p in by_site[world["site"]]}
    assert {4, 5, 6} < kept and kept - {4, 5, 6} <= {3, 7}
