"""A new case, end to end in the database: investigation and its clock, tasks, contact lists
from the registry and the interview, confirmation into measures, tasks and assistance
requests, chains and clusters, the report and the letters."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest
from docx import Document
from sqlalchemy import select

from fangkong.auth.actor import Actor
from fangkong.case import service as cases
from fangkong.case.models import Case
from fangkong.case.schemas import CaseCreate, Reclassify
from fangkong.chain import service as chains
from fangkong.contact import service as contacts
from fangkong.contact.models import AssistanceRequest, ContactListing
from fangkong.errors import Conflict
from fangkong.events import service as events
from fangkong.events.registry import load_handlers
from fangkong.investigation import service as investigations
from fangkong.investigation.schemas import EntryIn, StepIn
from fangkong.measure.models import Measure, PersonCategory
from fangkong.person import service as persons
from fangkong.person.schemas import PersonCreate
from fangkong.policy import loader
from fangkong.policy_profile import service as profiles
from fangkong.task import service as tasks
from fangkong.task.models import Task
from fangkong.unit.models import Unit
from tests.conftest import person_payload

UTC = dt.UTC
NOW = dt.datetime.now(UTC)
EPI = Actor(
    user_id=None,
    username="epi",
    roles=frozenset({"epidemiologist", "commander", "community_worker", "admin"}),
    area_code=None,
)


@pytest.fixture
def world(factory: Any, areas: Any) -> dict[str, Any]:
    """cn-9th in force; a case person with a household of 3 and a small work unit; someone
    named in the interview; a person living in Beijing (outside the city)."""
    load_handlers()
    with factory.begin() as s:
        profiles.activate(
            session=s,
            actor=EPI,
            loaded=loader.load_shipped("cn-9th"),
            source_text="",
            effective_from=dt.date(2022, 6, 28),
            as_of=NOW,
        )
        unit = Unit(name="小公司", category="enterprise", area_code="510104020001")
        s.add(unit)
        s.flush()

        def p(seq: int, **kw: Any) -> int:
            return persons.create(session=s, actor=EPI, data=PersonCreate(**person_payload(seq=seq, **kw))).id

        ids = {
            "case": p(1, household_ref="H1", work_unit_id=unit.id),
            "spouse": p(2, household_ref="H1"),
            "child": p(3, household_ref="H1", birth=dt.date(2015, 1, 1)),
            "colleague": p(4, work_unit_id=unit.id, household_ref="H2"),
            "colleague_spouse": p(5, household_ref="H2"),
            "friend": p(6),
            "beijing": p(7, area_code="110105001"),
            "stranger": p(8, area_code="510105001001"),
        }
        ids["unit"] = unit.id
    return ids


def _open_case(factory: Any, person_id: int, classification: str = "confirmed", hours_ago: float = 3) -> int:
    with factory.begin() as s:
        case = cases.create(
            session=s,
            actor=EPI,
            data=CaseCreate(
                person_id=person_id,
                classification=classification,  # type: ignore[arg-type]
                first_positive_at=NOW - dt.timedelta(hours=hours_ago),
                found_by="screening",
            ),
        )
        case_id = case.id
    events.run_pending(factory)
    return case_id


def test_opening_a_case_starts_the_clock_and_the_measures(factory: Any, world: dict[str, Any]) -> None:
    case_id = _open_case(factory, world["case"])
    with factory() as s:
        case, inv = investigations.get(session=s, actor=EPI, case_id=case_id)
        assert case.case_no.startswith("5101-") and inv.profile_id == "cn-9th"
        assert inv.on_site_due - inv.notified_at == dt.timedelta(hours=2)
        assert inv.report_due - inv.notified_at == dt.timedelta(hours=24)
        open_tasks = s.scalars(select(Task).where(Task.case_id == case_id)).all()
        assert [(t.kind, t.area_code, t.status) for t in open_tasks] == [("investigation", "510104", "open")]
        cat = s.scalar(select(PersonCategory).where(PersonCategory.person_id == world["case"]))
        assert cat.category == "confirmed"
        kinds = s.scalars(
            select(Measure.kind).where(Measure.person_id == world["case"], Measure.status == "current")
        )
        assert "hospital" in set(kinds)
    events.run_pending(factory)  # handlers are idempotent: nothing doubles
    with factory() as s:
        assert (
            len(s.scalars(select(PersonCategory).where(PersonCategory.person_id == world["case"])).all()) == 1
        )


def test_one_open_case_per_person_and_reclassification_history(factory: Any, world: dict[str, Any]) -> None:
    case_id = _open_case(factory, world["case"], "asymptomatic")
    with factory() as s, pytest.raises(Conflict, match="already has an open case"):
        cases.create(
            session=s,
            actor=EPI,
            data=CaseCreate(person_id=world["case"], classification="confirmed", first_positive_at=NOW),
        )
    with factory.begin() as s:
        cases.reclassify(
            session=s,
            actor=EPI,
            case_id=case_id,
            data=Reclassify(classification="confirmed", reason="出现发热症状", onset_date=NOW.date()),
        )
    events.run_pending(factory)
    with factory() as s:
        hist = cases.history(session=s, actor=EPI, case_id=case_id)
        assert [(h.field, h.old, h.new) for h in hist] == [
            ("classification", "asymptomatic", "confirmed"),
            ("onset_date", "None", NOW.date().isoformat()),
        ]
        cats = {
            c.category: c.status
            for c in s.scalars(select(PersonCategory).where(PersonCategory.person_id == world["case"]))
        }
        assert cats == {"asymptomatic": "withdrawn", "confirmed": "active"}
        with pytest.raises(Conflict):
            cases.reclassify(
                session=s,
                actor=EPI,
                case_id=case_id,
                data=Reclassify(classification="asymptomatic", reason="回退不允许"),
            )


def test_investigation_steps_and_supervision(factory: Any, world: dict[str, Any]) -> None:
    case_id = _open_case(factory, world["case"], hours_ago=0)
    with factory.begin() as s, pytest.raises(Conflict, match="record on_site before core_facts"):
        investigations.record_step(session=s, actor=EPI, case_id=case_id, data=StepIn(step="core_facts"))
    with factory.begin() as s:
        _case, inv = investigations.get(session=s, actor=EPI, case_id=case_id)
        late = inv.on_site_due + dt.timedelta(minutes=30)
        # nothing recorded in time: the open on-site task is overdue → one supervision task
        assert tasks.supervise_overdue(s, EPI, late) == 1
        assert tasks.supervise_overdue(s, EPI, late) == 0
        sup = s.scalar(select(Task).where(Task.kind == "supervision"))
        assert sup.area_code == "5101" and sup.title.startswith("督办")
        investigations.record_step(
            session=s, actor=EPI, case_id=case_id, data=StepIn(step="on_site", at=late)
        )
    with factory() as s:
        done = s.scalar(select(Task).where(Task.dedupe_key == f"investigation:{case_id}:on_site"))
        nxt = s.scalar(select(Task).where(Task.dedupe_key == f"investigation:{case_id}:core_facts"))
        assert done.status == "done" and nxt.status == "open"


def test_contacts_from_registry_and_interview_then_action(factory: Any, world: dict[str, Any]) -> None:
    case_id = _open_case(factory, world["case"])
    with factory.begin() as s:
        investigations.add_entry(
            session=s,
            actor=EPI,
            case_id=case_id,
            data=EntryIn(
                kind="person",
                person_id=world["friend"],
                person_text="朋友",
                start=NOW - dt.timedelta(days=1),
                end=NOW - dt.timedelta(days=1, hours=-2),
            ),
        )
        investigations.add_entry(
            session=s,
            actor=EPI,
            case_id=case_id,
            data=EntryIn(
                kind="person",
                person_id=world["beijing"],
                person_text="出差同事",
                start=NOW - dt.timedelta(days=1),
            ),
        )
        result = contacts.run(session=s, actor=EPI, case_id=case_id, movement=None, now=NOW)
    assert result.by_list == {"close_contact": 5, "secondary_contact": 1}
    assert "no movement data store" in result.notes
    with factory() as s:
        rows = s.scalars(select(ContactListing).where(ContactListing.case_id == case_id)).all()
        by = {(r.person_id, r.list, r.setting) for r in rows}
        assert {
            (world["spouse"], "close_contact", "household"),
            (world["child"], "close_contact", "household"),
            (world["colleague"], "close_contact", "workplace"),
            (world["friend"], "close_contact", "named"),
            (world["colleague_spouse"], "secondary_contact", "household"),
        } <= by
        assert all(r.person_id != world["case"] for r in rows)
    with factory.begin() as s:  # re-running changes nothing
        again = contacts.run(session=s, actor=EPI, case_id=case_id, movement=None, now=NOW)
        assert again.new == 0 and again.found == result.found
        decided = contacts.decide(
            session=s, actor=EPI, case_id=case_id, listing_ids=None, accept=True, now=NOW
        )
    assert decided.confirmed == 6 and decided.assistance == 1 and decided.tasks == 5 and decided.measures == 5
    with factory() as s:
        spouse_cat = s.scalar(select(PersonCategory).where(PersonCategory.person_id == world["spouse"]))
        assert spouse_cat.category == "close_contact" and spouse_cat.setting == "household"
        task = s.scalar(select(Task).where(Task.person_id == world["spouse"], Task.kind == "locate_control"))
        assert task.area_code == "510104020001" and task.due_at - NOW == dt.timedelta(hours=12)
        sec = s.scalar(select(PersonCategory).where(PersonCategory.person_id == world["colleague_spouse"]))
        assert sec.category == "secondary_contact"
        req = s.scalar(select(AssistanceRequest))
        assert req.person_id == world["beijing"] and req.destination_code == "110105001"
        assert s.scalar(select(PersonCategory).where(PersonCategory.person_id == world["beijing"])) is None
    # the letters: one per destination city, unmasked, audited; requests marked sent
    from fangkong.contact import letters

    with factory.begin() as s:
        data, n = letters.export(session=s, actor=EPI, reason="协查北京同事")
    assert n == 1
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len(names) == 1 and names[0].startswith("协查函-1101")
    doc = Document(io.BytesIO(zipfile.ZipFile(io.BytesIO(data)).read(names[0])))
    text = "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    assert "张三丰" in text and "110105" not in names[0].split("-")[1][:4]


def test_secondary_contact_upgraded_when_the_close_contact_turns_positive(
    factory: Any, world: dict[str, Any]
) -> None:
    case_id = _open_case(factory, world["case"])
    with factory.begin() as s:
        contacts.run(session=s, actor=EPI, case_id=case_id, movement=None, now=NOW)
        contacts.decide(session=s, actor=EPI, case_id=case_id, listing_ids=None, accept=True, now=NOW)

    def measures_of(pid: int) -> set[str]:
        with factory() as s:
            return {m.category for m in s.scalars(select(Measure).where(Measure.person_id == pid))}

    def current(pid: int) -> set[str]:
        with factory() as s:
            return {
                m.category
                for m in s.scalars(
                    select(Measure).where(Measure.person_id == pid, Measure.status == "current")
                )
            }

    assert current(world["colleague_spouse"]) == {"secondary_contact"}
    # the colleague (a close contact) tests positive: their spouse becomes a close contact
    colleague_case = _open_case(factory, world["colleague"], hours_ago=1)
    with factory() as s:
        rows = s.scalars(select(ContactListing).where(ContactListing.case_id == colleague_case)).all()
        assert [(r.person_id, r.list, r.setting, r.status) for r in rows] == [
            (world["colleague_spouse"], "close_contact", "household", "confirmed")
        ]
        assert "升级为密接" in rows[0].reason_zh
        flagged = s.scalar(
            select(PersonCategory).where(PersonCategory.person_id == world["colleague_spouse"])
        )
        assert flagged.close_contact_positive
        task = s.scalar(
            select(Task).where(Task.person_id == world["colleague_spouse"], Task.case_id == colleague_case)
        )
        assert task is not None and task.kind == "locate_control" and "次密接转密接" in task.title
    assert current(world["colleague_spouse"]) == {"close_contact"}
    assert "secondary_contact" in measures_of(world["colleague_spouse"])  # the old plan is kept
    # the handler runs again (replay): nothing doubles
    from fangkong.contact import upgrade

    with factory.begin() as s:
        case = s.get(Case, colleague_case)
        again = upgrade.upgrade(s, EPI, case)
    assert again.listed == 0 and again.replanned == 0 and again.tasks == 0
    # contact finding for the new case keeps the one listing (same setting and place)
    with factory.begin() as s:
        contacts.run(session=s, actor=EPI, case_id=colleague_case, movement=None, now=NOW)
        keys = [
            (r.person_id, r.list, r.setting)
            for r in s.scalars(select(ContactListing).where(ContactListing.case_id == colleague_case))
        ]
    assert keys.count((world["colleague_spouse"], "close_contact", "household")) == 1


def test_companion_who_is_also_a_close_contact_is_a_close_contact(
    factory: Any, world: dict[str, Any]
) -> None:
    case_id = _open_case(factory, world["case"])
    with factory.begin() as s:
        s.add_all(
            [
                ContactListing(
                    case_id=case_id,
                    person_id=world["friend"],
                    list="companion",
                    setting="cell",
                    reason_zh="x",
                    reason_en="x",
                    exposure_end=NOW - dt.timedelta(days=2),
                ),
                ContactListing(
                    case_id=case_id,
                    person_id=world["friend"],
                    list="close_contact",
                    setting="venue",
                    place_key="place:1",
                    reason_zh="y",
                    reason_en="y",
                    exposure_end=NOW - dt.timedelta(days=1),
                ),
            ]
        )
    with factory.begin() as s:
        contacts.decide(session=s, actor=EPI, case_id=case_id, listing_ids=None, accept=True, now=NOW)
        cats = s.scalars(
            select(PersonCategory.category).where(PersonCategory.person_id == world["friend"])
        ).all()
    assert cats == ["close_contact"]


def test_chains_clusters_and_graphml(factory: Any, world: dict[str, Any]) -> None:
    a = _open_case(factory, world["case"], hours_ago=48)
    b = _open_case(factory, world["spouse"], hours_ago=24)  # same household → same cluster
    c = _open_case(factory, world["stranger"], hours_ago=10)
    with factory.begin() as s:
        chains.link(session=s, actor=EPI, infector_id=a, infectee_id=b, setting="household")
        chains.link(session=s, actor=EPI, infector_id=b, infectee_id=c, setting="venue")
        with pytest.raises(Conflict, match="cycle"):
            chains.link(session=s, actor=EPI, infector_id=c, infectee_id=a)
        with pytest.raises(Conflict, match="already has an infector"):
            chains.link(session=s, actor=EPI, infector_id=a, infectee_id=c)
        g = chains.graph(session=s, actor=EPI)
    gens = {n["id"]: n["generation"] for n in g.nodes}
    assert gens == {a: 1, b: 2, c: 3}
    assert g.clusters[0]["size"] == 3 and set(g.clusters[0]["reasons"]) == {"household", "link"}
    xml = chains.graphml(g)
    assert xml.count("<node ") == 3 and xml.count("<edge ") == 2 and 'key="generation">3<' in xml


def test_report_docx_masked_by_default(factory: Any, world: dict[str, Any]) -> None:
    from fangkong.investigation import report

    case_id = _open_case(factory, world["case"])
    with factory.begin() as s:
        investigations.add_entry(
            session=s,
            actor=EPI,
            case_id=case_id,
            data=EntryIn(
                kind="place",
                place_text="春熙路商场",
                start=NOW - dt.timedelta(days=1),
                end=NOW - dt.timedelta(hours=22),
            ),
        )
        data = report.build(session=s, actor=EPI, case_id=case_id)
        case_no = s.get(Case, case_id).case_no
    doc = Document(io.BytesIO(data))
    text = "\n".join(
        [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells]
    )
    assert case_no in text and "张*丰" in text and "张三丰" not in text and "春熙路商场" in text
    assert "流行病学调查报告" in text
