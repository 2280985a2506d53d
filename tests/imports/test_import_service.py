"""The import service: validation, set-based checks, modes, storage and provenance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fangkong.audit.models import AuditEntry
from fangkong.auth.actor import Actor
from fangkong.errors import Forbidden, Invalid
from fangkong.events.models import DomainEvent
from fangkong.imports.models import ImportBatch
from fangkong.imports.service import ImportResult, import_file
from fangkong.person.models import Household, Person, PersonIdentifier
from fangkong.place.models import Place
from fangkong.unit.credit_code import check_char
from fangkong.unit.models import Unit
from tests.conftest import TODAY
from tests.imports import (
    GRID,
    OTHER_COUNTY,
    PERSON_HEADER_EN,
    PERSON_HEADER_ZH,
    counts,
    person_row,
    persons_csv,
    rid,
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.usefixtures("areas")


def credit(body: str) -> str:
    """A valid unified social credit code from 17 characters."""
    return body + check_char(body)


def run(factory: sessionmaker[Session], actor: Actor, kind: str, path: Path, **kw: Any) -> ImportResult:
    with factory.begin() as s:
        return import_file(session=s, actor=actor, kind=kind, path=path, today=TODAY, **kw)


def test_persons_csv_stored_with_provenance(
    factory: sessionmaker[Session], system: Actor, tmp_path: Path
) -> None:
    result = run(factory, system, "persons", persons_csv(tmp_path / "p.csv", 4))
    assert (result.rows_total, result.rows_stored, result.rows_rejected) == (4, 4, 0)
    assert result.stored and not result.errors and result.batch_id
    c = counts(factory)
    assert c["person"] == 4 and c["person_identifier"] == 4 and c["household"] == 2
    assert c["import_batch"] == 1 and c["audit_log"] == 1 and c["domain_event"] == 1
    assert c["person_key_group"] == 4  # rows 0 and 3: 老年人、司机
    with factory() as s:
        batch = s.get(ImportBatch, result.batch_id)
        assert batch is not None
        assert (batch.kind, batch.mode, batch.rows_stored, batch.filename) == (
            "persons",
            "all_or_nothing",
            4,
            "p.csv",
        )
        assert len(batch.sha256) == 64
        people = list(s.scalars(select(Person).order_by(Person.id)))
        assert {p.import_batch_id for p in people} == {batch.id}
        first = people[0]
        assert (first.name, first.sex, first.area_code, first.household_relation) == (
            "张一0",
            "female",
            GRID,
            "head",
        )
        assert first.birth_date == dt.date(1990, 3, 4)
        assert [k.key_group for k in first.key_groups] == ["drivers", "elderly"]
        assert first.identifiers[0].value == rid(0) and first.identifiers[0].is_primary
        homes = list(s.scalars(select(Household).order_by(Household.id)))
        assert [h.external_ref for h in homes] == ["HH0000", "HH0001"]
        assert homes[0].address == "和平社区0栋" and homes[0].import_batch_id == batch.id
        assert people[1].household_id == homes[0].id and people[2].household_id == homes[1].id
        entry = s.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.resource_type, entry.resource_id) == (
            "person.import",
            "import_batch",
            str(batch.id),
        )
        assert entry.after is not None and entry.after["rows_stored"] == 4
        assert entry.after["filename"] == "p.csv" and entry.after["sha256"] == batch.sha256
        event = s.scalars(select(DomainEvent)).one()
        assert event.type == "person.imported" and event.aggregate_id == str(batch.id)


@pytest.mark.parametrize("fmt", ["gb18030", "utf-8", "xlsx"])
def test_other_encodings_and_xlsx_english(
    factory: sessionmaker[Session], system: Actor, tmp_path: Path, fmt: str
) -> None:
    rows = [
        person_row(
            i,
            id_kind="Resident ID card",
            sex="Female",
            household_relation="head",
            key_groups="Elderly people; drivers",
        )
        for i in range(3)
    ]
    if fmt == "xlsx":
        path = write_xlsx(tmp_path / "p.xlsx", PERSON_HEADER_EN, rows)
    else:
        path = write_csv(tmp_path / "p.csv", PERSON_HEADER_EN, rows, encoding=fmt)
    result = run(factory, system, "persons", path)
    assert result.rows_stored == 3, result.errors
    with factory() as s:
        person = s.scalars(select(Person).order_by(Person.id)).first()
        assert person is not None and [k.key_group for k in person.key_groups] == ["drivers", "elderly"]


def test_all_or_nothing_stores_nothing(factory: sessionmaker[Session], system: Actor, tmp_path: Path) -> None:
    bad_check = rid(7)[:17] + ("0" if rid(7)[17] != "0" else "1")
    rows = [
        person_row(0),
        person_row(1, id_number=bad_check),
        person_row(2),
        person_row(3, id_number="11010519900230001X"),  # 30 February
        person_row(4, birth_date="1990-02-30"),
        person_row(5, id_number="51010419900304"),  # malformed
        person_row(6, area_code="510104020001999"),  # unknown area
        person_row(8, birth=dt.date(1990, 3, 4), id_number=rid(0)),
    ]  # same as row 1
    before = counts(factory)
    result = run(factory, system, "persons", write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, rows))
    assert not result.stored and result.batch_id is None
    assert (result.rows_total, result.rows_stored, result.rows_rejected) == (8, 0, 6)
    assert counts(factory) == before
    by_row = {(e.row, e.field): e for e in result.errors}
    assert "check digit" in by_row[(2, "证件号码")].reason
    assert by_row[(2, "证件号码")].value == bad_check
    assert "not a calendar date" in by_row[(4, "证件号码")].reason
    assert "not a calendar date" in by_row[(5, "出生日期")].reason
    assert "must be 18 characters" in by_row[(6, "证件号码")].reason
    assert by_row[(7, "所属区域代码")].reason == "unknown area code 510104020001999"
    assert by_row[(8, "证件号码")].reason == "same 证件号码 as row 1"
    assert [e.row for e in result.errors] == sorted(e.row or 0 for e in result.errors)


def test_partial_stores_good_rows_with_correct_row_numbers(
    factory: sessionmaker[Session], system: Actor, tmp_path: Path
) -> None:
    rows = [person_row(0), [], person_row(1, phone="12345"), person_row(2), person_row(3, sex="男")]
    result = run(
        factory, system, "persons", write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, rows), partial=True
    )
    assert result.stored and (result.rows_total, result.rows_stored, result.rows_rejected) == (4, 2, 2)
    assert [(e.row, e.field) for e in result.errors] == [(3, "手机号"), (5, "性别")]
    assert "does not match the ID number" in result.errors[1].reason
    c = counts(factory)
    assert c["person"] == 2 and c["import_batch"] == 1
    with factory() as s:
        assert s.scalars(select(ImportBatch)).one().mode == "partial"


def test_dry_run_stores_nothing(factory: sessionmaker[Session], system: Actor, tmp_path: Path) -> None:
    before = counts(factory)
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, [person_row(0), person_row(1, area_code="99")])
    result = run(factory, system, "persons", path, dry_run=True)
    assert not result.stored and result.rows_rejected == 1 and result.dry_run
    assert counts(factory) == before
    result = run(factory, system, "persons", persons_csv(tmp_path / "ok.csv", 2), dry_run=True)
    assert not result.stored and not result.errors and result.rows_total == 2
    assert counts(factory) == before


def test_already_registered_and_same_file_again(
    factory: sessionmaker[Session], system: Actor, tmp_path: Path
) -> None:
    path = persons_csv(tmp_path / "p.csv", 2)
    first = run(factory, system, "persons", path)
    again = run(factory, system, "persons", path)
    assert not again.stored and again.rows_rejected == 2
    with factory() as s:
        pid = s.scalar(select(PersonIdentifier.person_id).where(PersonIdentifier.value == rid(0)))
    assert again.errors[0].reason == f"already registered as person {pid}"
    assert again.warnings[0].row is None
    assert f"already imported as batch {first.batch_id} on" in again.warnings[0].reason


def test_jurisdiction(factory: sessionmaker[Session], users: Any, tmp_path: Path) -> None:
    worker = users.create("cw", "community_worker", area="510105")
    rows = [person_row(0, area_code=OTHER_COUNTY), person_row(1)]
    result = run(factory, worker, "persons", write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, rows))
    assert [(e.row, e.field) for e in result.errors] == [(2, "所属区域代码")]
    assert "outside your jurisdiction (510105)" in result.errors[0].reason


def test_household_outside_jurisdiction(factory: sessionmaker[Session], users: Any, tmp_path: Path) -> None:
    with factory.begin() as s:
        s.add(Household(area_code=GRID, address="x", external_ref="HH-A"))
    worker = users.create("cw2", "community_worker", area="510105")
    rows = [person_row(0, area_code=OTHER_COUNTY, household_ref="HH-A")]
    result = run(factory, worker, "persons", write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, rows))
    assert result.errors[0].field == "户号" and "outside your jurisdiction" in result.errors[0].reason


def test_sampler_may_not_import(factory: sessionmaker[Session], users: Any, tmp_path: Path) -> None:
    sampler = users.create("s1", "sampler")
    with pytest.raises(Forbidden):
        run(factory, sampler, "persons", persons_csv(tmp_path / "p.csv", 1))
    tracer = users.create("t1", "tracer")
    with pytest.raises(Forbidden):
        run(factory, tracer, "venues", persons_csv(tmp_path / "p.csv", 1))


def test_file_level_problems_raise(factory: sessionmaker[Session], system: Actor, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["姓名"], [["张三"]])
    with pytest.raises(Invalid, match="missing required columns"):
        run(factory, system, "persons", path)
    with pytest.raises(Invalid, match="unknown kind"):
        run(factory, system, "cases", path)


def test_legacy_id_other_documents_and_existing_household(
    factory: sessionmaker[Session], system: Actor, tmp_path: Path
) -> None:
    with factory.begin() as s:
        s.add(Household(area_code=GRID, address="老地址", external_ref="HH-OLD"))
    legacy = rid(5, dt.date(1965, 7, 1))
    legacy15 = legacy[:6] + legacy[8:17]
    header = ["姓名", "证件类型", "证件号码", "所属区域代码", "户号", "与户主关系", "国籍"]
    rows = [
        ["老王", "", legacy15, GRID, "HH-OLD", "户主", "中国"],
        ["John Smith", "护照", "e12345678", GRID, "", "", "GBR"],
    ]
    result = run(factory, system, "persons", write_csv(tmp_path / "p.csv", header, rows))
    assert result.stored, result.errors
    with factory() as s:
        people = list(s.scalars(select(Person).order_by(Person.id)))
        assert people[0].identifiers[0].value == legacy
        assert people[0].nationality == "CHN" and people[0].household_id is not None
        assert s.get(Household, people[0].household_id).external_ref == "HH-OLD"  # type: ignore[union-attr]
        assert (people[1].identifiers[0].kind, people[1].identifiers[0].value) == ("passport", "E12345678")
        assert people[1].nationality == "GBR" and people[1].household_id is None


def test_work_unit_credit_code(factory: sessionmaker[Session], system: Actor, tmp_path: Path) -> None:
    code = credit("91510100MA6123456")
    with factory.begin() as s:
        s.add(Unit(name="厂", category="enterprise", area_code="510104", credit_code=code))
    header = ["姓名", "证件号码", "所属区域代码", "工作单位统一社会信用代码"]
    rows = [
        ["甲", rid(1), GRID, code.lower()],
        ["乙", rid(2), GRID, credit("91510100MA6999999")],
        ["丙", rid(3), GRID, "123"],
    ]
    result = run(factory, system, "persons", write_csv(tmp_path / "p.csv", header, rows), partial=True)
    assert [(e.row, e.field) for e in result.errors] == [
        (2, "工作单位统一社会信用代码"),
        (3, "工作单位统一社会信用代码"),
    ]
    assert "no unit with this credit code" in result.errors[0].reason
    with factory() as s:
        unit_id = s.scalar(select(Unit.id))
        assert s.scalars(select(Person)).one().work_unit_id == unit_id


def test_households(factory: sessionmaker[Session], system: Actor, tmp_path: Path) -> None:
    header = ["户号", "所属区域代码", "住址"]
    rows = [["H1", GRID, "1栋"], ["H2", "510104020001", "2栋"], ["H1", GRID, "3栋"], ["H3", GRID, ""]]
    result = run(factory, system, "households", write_csv(tmp_path / "h.csv", header, rows), partial=True)
    assert [(e.row, e.field, e.reason) for e in result.errors] == [
        (3, "户号", "same 户号 as row 1"),
        (4, "住址", "required; the cell is empty"),
    ]
    again = run(factory, system, "households", write_csv(tmp_path / "h2.csv", header, [["H2", GRID, "x"]]))
    assert again.errors[0].reason.startswith("already registered as household ")
    with factory() as s:
        entry = s.scalars(select(AuditEntry)).one()
        assert entry.action == "household.import"


def test_venues(factory: sessionmaker[Session], system: Actor, tmp_path: Path) -> None:
    code = credit("91510100MA6123456")
    with factory.begin() as s:
        s.add(Unit(name="市场管理处", category="enterprise", area_code="510104", credit_code=code))
        s.add(Place(name="旧", category="park", area_code="510104", venue_code="VTAKEN01"))
    header = [
        "场所名称",
        "场所类别",
        "所属区域代码",
        "地址",
        "经度",
        "纬度",
        "容纳人数",
        "责任单位统一社会信用代码",
        "场所码",
    ]
    rows = [
        ["菜市场", "农集贸市场", "510104020001", "春熙路1号", "104.08", "30.65", "300", code, "vmarket01"],
        ["公园", "park", "510104020001", "", "", "", "", "", ""],
        ["坏", "火星", "510104020001", "", "104", "", "-1", "", "vtaken01"],
        ["重复", "bank", "510104020001", "", "", "", "", "", "VMARKET01"],
    ]
    result = run(factory, system, "venues", write_csv(tmp_path / "v.csv", header, rows), partial=True)
    fields = {(e.row, e.field) for e in result.errors}
    assert {(3, "场所类别"), (3, "容纳人数"), (4, "场所码")} <= fields
    assert (3, "场所码") not in fields  # schema errors first; set-based checks on valid rows only
    assert result.rows_stored == 2
    with factory() as s:
        places = {p.name: p for p in s.scalars(select(Place))}
        assert places["菜市场"].venue_code == "VMARKET01"
        assert places["菜市场"].category == "farmers_market" and places["菜市场"].capacity == 300
        assert places["菜市场"].responsible_unit_id is not None
        assert places["公园"].venue_code.startswith("V") and len(places["公园"].venue_code) == 12
        assert s.scalars(select(AuditEntry)).one().action == "place.import"
    taken = run(
        factory,
        system,
        "places",
        write_csv(tmp_path / "v2.csv", header, [["x", "park", "510104", "", "", "", "", "", "VTAKEN01"]]),
    )
    assert taken.errors[0].reason.startswith("already registered as venue ")


def test_units(factory: sessionmaker[Session], system: Actor, tmp_path: Path) -> None:
    header = ["Unit name", "Category", "Area code", "Credit code", "Contact name", "Contact phone"]
    a, b = credit("91510100MA6000001"), credit("12510100MB0000002")
    rows = [
        ["School", "school", "510104", a, "李老师", "13900139000"],
        ["Kindergarten", "托幼机构", "510104", b, "", ""],
        ["Dup", "school", "510104", a.lower(), "", ""],
        ["Bad", "school", "510104", "91510100MA60000010", "", "139"],
    ]
    result = run(factory, system, "units", write_xlsx(tmp_path / "u.xlsx", header, rows), partial=True)
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "Credit code"),
        (4, "Credit code"),
        (4, "Contact phone"),
    ]
    assert result.errors[0].reason == "same Credit code as row 1"
    with factory() as s:
        units = {u.name: u for u in s.scalars(select(Unit))}
        assert set(units) == {"School", "Kindergarten"}
        assert units["Kindergarten"].category == "childcare"
        assert units["School"].contact_phone == "13900139000"


def test_a_failure_while_storing_leaves_nothing(
    factory: sessionmaker[Session], system: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fangkong.errors import Conflict
    from fangkong.imports import plans

    run(factory, system, "persons", persons_csv(tmp_path / "p.csv", 2))
    before = counts(factory)
    # Someone registers the same persons between the checks and the inserts.
    monkeypatch.setattr(plans, "_unique", lambda *a, **k: None)
    with pytest.raises(Conflict, match="nothing was stored"):
        run(factory, system, "persons", persons_csv(tmp_path / "p2.csv", 3))
    assert counts(factory) == before
