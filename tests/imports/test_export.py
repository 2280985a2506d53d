"""Exports: formats, masking, unmasking with a reason (audited), filters, jurisdiction."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fangkong.audit.models import AuditEntry
from fangkong.auth.actor import Actor
from fangkong.errors import Forbidden, Invalid
from fangkong.imports import export as exports
from fangkong.imports.reader import read_sheet
from fangkong.imports.service import import_file
from fangkong.place.models import Place
from fangkong.unit.credit_code import check_char
from fangkong.unit.models import Unit
from tests.conftest import TODAY
from tests.imports import OTHER_COUNTY, PERSON_HEADER_ZH, person_row, rid, write_csv

pytestmark = pytest.mark.usefixtures("areas")
CREDIT = "91510100MA6123456" + check_char("91510100MA6123456")


@pytest.fixture
def registry(factory: sessionmaker[Session], areas: Any, system: Actor, tmp_path: Path) -> None:
    rows = [person_row(i) for i in range(5)] + [person_row(5, area_code=OTHER_COUNTY)]
    with factory.begin() as s:
        result = import_file(
            session=s,
            actor=system,
            kind="persons",
            today=TODAY,
            path=write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, rows),
        )
        assert result.stored, result.errors
        unit = Unit(
            name="=cmd|' /C calc'!A0",
            category="school",
            area_code="510104",
            credit_code=CREDIT,
            contact_name="李老师",
            contact_phone="13900139000",
        )
        s.add(unit)
        s.flush()
        s.add_all(
            [
                Place(
                    name="菜市场",
                    category="farmers_market",
                    area_code="510104020001",
                    venue_code="VMARKET01",
                    responsible_unit_id=unit.id,
                    capacity=300,
                ),
                Place(name="公园", category="park", area_code="510105001", venue_code="VPARK0001"),
            ]
        )


def run(
    factory: sessionmaker[Session], actor: Actor, kind: str, fmt: str, **kw: Any
) -> tuple[bytes, exports.ExportResult]:
    out = io.BytesIO()
    with factory.begin() as s:
        result = exports.export(session=s, actor=actor, kind=kind, fmt=fmt, out=out, **kw)
    return out.getvalue(), result


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_rows(data: bytes) -> list[list[Any]]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return rows


def audits(factory: sessionmaker[Session]) -> list[AuditEntry]:
    with factory() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.action.like("%export%")).order_by(AuditEntry.id))
        )


@pytest.mark.usefixtures("registry")
def test_persons_csv_masked_by_default(factory: sessionmaker[Session], users: Any) -> None:
    cw = users.create("cw", "community_worker", area="510104")
    data, result = run(factory, cw, "persons", "csv")
    rows = csv_rows(data)
    assert rows[0] == [
        "系统编号",
        *PERSON_HEADER_ZH[:7],
        "住址",
        "经度",
        "纬度",
        "户号",
        "与户主关系",
        "工作单位统一社会信用代码",
        "重点人群",
        "国籍",
    ]
    assert result.rows == 5 and result.masked and len(rows) == 6  # 510105 is not cw's
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["姓名"] == "张*0" and first["证件号码"] == rid(0)[:4] + "*" * 10 + rid(0)[-4:]
    assert first["手机号"] == "138****0000" and first["住址"].endswith("****")
    assert first["出生日期"] == "1990" and first["经度"] == ""
    assert first["证件类型"] == "居民身份证" and first["性别"] == "女"
    assert first["与户主关系"] == "户主" and first["户号"] == "HH0000"
    assert first["重点人群"] == "司机、老年人"
    [entry] = audits(factory)
    assert entry.action == "person.export" and entry.actor_name == "cw"
    assert entry.after == {
        "kind": "persons",
        "format": "csv",
        "filters": {},
        "rows": 5,
        "masked": True,
        "lang": "zh-CN",
    }


@pytest.mark.usefixtures("registry")
def test_persons_xlsx_unmasked_with_reason(factory: sessionmaker[Session], users: Any) -> None:
    cw = users.create("cw", "community_worker", area="5101")
    data, result = run(
        factory,
        cw,
        "persons",
        "xlsx",
        unmask_reason="排查密接需要电话",
        filters=exports.ExportFilters(key_group="elderly"),
        lang="en",
    )
    rows = xlsx_rows(data)
    assert rows[0][:4] == ["ID", "Name", "ID type", "ID number"]
    assert not result.masked and result.rows == 2  # persons 0 and 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Name"] == "张一0" and first["ID number"] == rid(0)
    assert first["Phone"] == "13800000000" and first["Birth date"] == "1990-03-04"
    assert first["Sex"] == "Female" and first["Key groups"] == "Drivers; Elderly people"
    [entry] = audits(factory)
    assert entry.action == "person.export_pii" and entry.reason == "排查密接需要电话"
    assert entry.after is not None and entry.after["filters"] == {"key_group": "elderly"}
    assert entry.after["rows"] == 2


@pytest.mark.usefixtures("registry")
def test_unmasking_needs_read_pii_and_a_reason(factory: sessionmaker[Session], users: Any) -> None:
    commander = users.create("cmd", "commander")
    with pytest.raises(Forbidden):
        run(factory, commander, "persons", "csv", unmask_reason="need it for the meeting")
    cw = users.create("cw", "community_worker")
    with pytest.raises(Invalid):
        run(factory, cw, "persons", "csv", unmask_reason="x")
    sampler = users.create("s", "sampler")
    with pytest.raises(Forbidden):
        run(factory, sampler, "persons", "csv")
    assert audits(factory) == []


@pytest.mark.usefixtures("registry")
def test_filters_and_jurisdiction(factory: sessionmaker[Session], users: Any, system: Actor) -> None:
    other = users.create("cw2", "community_worker", area="510105")
    data, result = run(factory, other, "persons", "csv")
    assert result.rows == 1 and csv_rows(data)[1][7] == OTHER_COUNTY
    _d, result = run(
        factory,
        system,
        "persons",
        "csv",
        filters=exports.ExportFilters(area_code="510104020001001", q="张一"),
    )
    assert result.rows == 1
    with pytest.raises(Invalid):
        run(factory, system, "persons", "csv", filters=exports.ExportFilters(key_group="aliens"))
    with pytest.raises(Invalid):
        run(factory, system, "units", "csv", filters=exports.ExportFilters(category="aliens"))


@pytest.mark.usefixtures("registry")
def test_keyset_chunks(
    factory: sessionmaker[Session], system: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "CHUNK", 2)
    data, result = run(factory, system, "persons", "csv")
    ids = [int(r[0]) for r in csv_rows(data)[1:]]
    assert result.rows == 6 and ids == sorted(ids) and len(set(ids)) == 6


@pytest.mark.usefixtures("registry")
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_households_places_units(factory: sessionmaker[Session], users: Any, fmt: str) -> None:
    sampler = users.create("s", "sampler", area="510104")
    read = csv_rows if fmt == "csv" else xlsx_rows
    with pytest.raises(Forbidden):
        run(factory, sampler, "households", fmt)
    data, result = run(factory, sampler, "places", fmt)
    rows = read(data)
    assert rows[0] == [
        "系统编号",
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
    assert result.rows == 1 and rows[1][1:3] == ["菜市场", "农集贸市场"]
    assert rows[1][8:] == [CREDIT, "VMARKET01"]
    data, result = run(factory, sampler, "units", fmt, lang="en")
    rows = read(data)
    assert rows[0][:3] == ["ID", "Unit name", "Category"]
    name = rows[1][1]
    assert rows[1][2] == "Primary and secondary schools" and rows[1][9] == "13900139000"
    if fmt == "csv":
        assert name == "'=cmd|' /C calc'!A0"  # never a formula in Excel
    else:
        assert name == "=cmd|' /C calc'!A0"
    cw = users.create("cw", "community_worker", area="510104")
    data, result = run(factory, cw, "households", fmt)
    rows = read(data)
    assert rows[0] == ["系统编号", "户号", "所属区域代码", "住址"]
    assert result.rows == 3 and rows[1][3].endswith("****")
    data, result = run(factory, cw, "households", fmt, unmask_reason="核对住户地址")
    assert read(data)[1][3] == "和平社区0栋" and not result.masked
    assert [e.action for e in audits(factory)] == [
        "place.export",
        "unit.export",
        "household.export",
        "household.export_pii",
    ]


@pytest.mark.usefixtures("registry")
def test_unmasked_export_can_be_imported_again(
    factory: sessionmaker[Session], system: Actor, tmp_path: Path
) -> None:
    for lang in ("zh-CN", "en"):
        data, _r = run(factory, system, "persons", "csv", unmask_reason="re-import check", lang=lang)
        path = tmp_path / f"export-{lang}.csv"
        path.write_bytes(data)
        sheet = read_sheet(path, "persons")
        assert [w.field for w in sheet.warnings] == ["系统编号" if lang == "zh-CN" else "ID"]
        assert not sheet.errors and sheet.total == 6
        with factory() as s:
            dry = import_file(session=s, actor=system, kind="persons", path=path, dry_run=True, today=TODAY)
        assert dry.rows_rejected == 6
        assert {e.reason.split(" person ")[0] for e in dry.errors} == {"already registered as"}


def test_bad_arguments(factory: sessionmaker[Session], system: Actor) -> None:
    with pytest.raises(Invalid):
        run(factory, system, "persons", "pdf")
    with pytest.raises(Invalid):
        run(factory, system, "cases", "csv")
    with pytest.raises(Invalid):
        run(factory, system, "units", "csv", unmask_reason="units are not masked")
    data, result = run(factory, system, "venues", "xlsx")
    assert result.rows == 0 and len(xlsx_rows(data)) == 1
