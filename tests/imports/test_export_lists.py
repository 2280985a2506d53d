"""The export-only lists: areas and the audit trail (service, API, CLI, web links)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from fangkong.audit.models import AuditEntry
from fangkong.auth.actor import Actor
from fangkong.errors import Forbidden, Invalid
from fangkong.imports import columns as cols
from fangkong.imports import export as exports
from tests.conftest import login, person_payload
from tests.web.test_pages import web_login

pytestmark = pytest.mark.usefixtures("areas")
XLSX = exports.MEDIA_TYPES["xlsx"]
AREA_HEADER_ZH = ["区域代码", "区域名称", "层级", "上级区域代码", "本地添加", "经度", "纬度"]
AREA_HEADER_EN = ["Area code", "Area name", "Level", "Parent code", "Local", "Longitude", "Latitude"]
AUDIT_HEADER_ZH = [
    "系统编号",
    "时间",
    "账号",
    "操作",
    "对象类型",
    "对象编号",
    "区域代码",
    "理由",
    "修改前",
    "修改后",
]
JINJIANG = [  # 510104 and below, in code order
    "510104",
    "510104020",
    "510104020001",
    "510104020001001",
    "510104020001002",
    "510104020002",
    "510104021",
    "510104021001",
]


def run(
    factory: sessionmaker[Session], actor: Actor, kind: str, fmt: str = "csv", **kw: Any
) -> tuple[list[list[Any]], exports.ExportResult]:
    out = io.BytesIO()
    if "filters" not in kw:
        kw["filters"] = exports.ExportFilters(**kw.pop("f", {}))
    with factory.begin() as s:
        result = exports.export(session=s, actor=actor, kind=kind, fmt=fmt, out=out, **kw)
    return (csv_rows if fmt == "csv" else xlsx_rows)(out.getvalue()), result


def csv_rows(data: bytes) -> list[list[Any]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_rows(data: bytes) -> list[list[Any]]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    rows = [["" if v is None else v for v in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return [r + [""] * (len(rows[0]) - len(r)) for r in rows]  # read-only mode drops empty tails


def entries(factory: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with factory() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def field_of(exc: pytest.ExceptionInfo[Invalid]) -> str:
    return exc.value.details[0].field


# ---------------------------------------------------------------- kinds


def test_export_only_kinds_are_not_import_kinds() -> None:
    assert cols.KINDS == ("persons", "households", "venues", "units")
    assert (*cols.KINDS, "areas", "audit") == cols.EXPORT_KINDS
    assert cols.export_kind("places") == "venues" and cols.export_kind("audit") == "audit"
    with pytest.raises(Invalid):
        cols.canonical_kind("areas")
    with pytest.raises(Invalid):
        cols.export_kind("cases")
    assert exports.headers("areas", "en") == AREA_HEADER_EN
    assert exports.headers("audit") == AUDIT_HEADER_ZH


# ---------------------------------------------------------------- areas


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_areas_all_in_code_order(factory: sessionmaker[Session], system: Actor, fmt: str) -> None:
    rows, result = run(factory, system, "areas", fmt)
    assert rows[0] == AREA_HEADER_ZH and result.rows == 17 == len(rows) - 1
    codes = [r[0] for r in rows[1:]]
    assert codes == sorted(codes) and codes[:2] == ["11", "1101"]
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code["510104"] == ["510104", "锦江区", "区县", "5101", "否", "", ""]
    assert by_code["51"][2:5] == ["省", "", "否"]
    assert by_code["510104020001001"][2:5] == ["网格", "510104020001", "是"]
    [entry] = entries(factory, "area.export")
    assert entry.resource_type == "area" and entry.after is not None
    assert entry.after["rows"] == 17 and entry.after["kind"] == "areas"


def test_areas_in_english(factory: sessionmaker[Session], system: Actor) -> None:
    rows, _r = run(factory, system, "areas", "xlsx", lang="en", f={"level": "community"})
    assert rows[0] == AREA_HEADER_EN
    assert [r[2] for r in rows[1:]] == ["Community"] * 4 and {r[4] for r in rows[1:]} == {"yes"}
    rows, _r = run(factory, system, "areas", "csv", lang="en", f={"area_code": "11"})
    assert [r[2] for r in rows[1:]] == ["Province", "City", "County", "Township"]
    assert {r[4] for r in rows[1:]} == {"no"}


def test_area_filters(factory: sessionmaker[Session], system: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    rows, _r = run(factory, system, "areas", f={"q": "社区"})
    assert [r[1] for r in rows[1:]] == ["和平社区", "东风社区", "书院社区", "宽巷子社区"]
    rows, _r = run(factory, system, "areas", f={"level": "grid"})
    assert [r[0] for r in rows[1:]] == ["510104020001001", "510104020001002"]
    monkeypatch.setattr(exports, "CHUNK", 3)  # keyset over string codes
    for written in ("510104", "510104000000"):  # any written form of the code
        rows, result = run(factory, system, "areas", f={"area_code": written})
        assert [r[0] for r in rows[1:]] == JINJIANG and result.rows == 8
    rows, _r = run(factory, system, "areas", f={"area_code": "510104", "level": "township", "q": "春熙"})
    assert [r[1] for r in rows[1:]] == ["春熙路街道"]
    rows, _r = run(factory, system, "areas", f={"q": "100%_"})
    assert rows[1:] == []
    with pytest.raises(Invalid) as exc:
        run(factory, system, "areas", f={"level": "planet"})
    assert field_of(exc) == "level"
    with pytest.raises(Invalid) as exc:
        run(factory, system, "areas", f={"area_code": "5"})
    assert field_of(exc) == "area_code"
    with pytest.raises(Invalid):
        run(factory, system, "areas", unmask_reason="areas are not masked")


def test_area_jurisdiction(factory: sessionmaker[Session], users: Any) -> None:
    cw = users.create("cw", "community_worker", area="510104")
    rows, result = run(factory, cw, "areas")
    assert [r[0] for r in rows[1:]] == JINJIANG and result.rows == 8
    rows, _r = run(factory, cw, "areas", f={"area_code": "5101"})  # a filter never widens it
    assert [r[0] for r in rows[1:]] == JINJIANG
    rows, _r = run(factory, cw, "areas", f={"area_code": "510105"})
    assert rows[1:] == []
    sampler = users.create("sampler", "sampler", area="510105001")
    rows, _r = run(factory, sampler, "areas")
    assert [r[0] for r in rows[1:]] == ["510105001", "510105001001"]


# ---------------------------------------------------------------- audit trail


@pytest.fixture
def registered(client: Any, users: Any) -> dict[str, Any]:
    users.create("cw", "community_worker", area="510104")
    resp = client.post("/api/v1/persons", json=person_payload(), headers=login(client, "cw"))
    assert resp.status_code == 201, resp.text
    return {"person_id": resp.json()["person"]["id"]}


def add_entry(factory: sessionmaker[Session], at: dt.datetime, **kw: Any) -> int:
    values: dict[str, Any] = {"actor_name": "night", "action": "test.night", "resource_type": "place"}
    values.update(kw)
    with factory.begin() as s:
        entry = AuditEntry(at=at, **values)
        s.add(entry)
        s.flush()
        return entry.id


def test_audit_masked_before_and_after(
    factory: sessionmaker[Session], users: Any, registered: dict[str, Any]
) -> None:
    auditor = users.create("aud", "auditor", area=None)
    rows, result = run(factory, auditor, "audit", f={"action": "person.create"})
    assert rows[0] == AUDIT_HEADER_ZH and result.rows == 1 and result.masked
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["账号"] == "cw" and row["对象类型"] == "person"
    assert row["对象编号"] == str(registered["person_id"]) and row["区域代码"] == "510104020001001"
    assert row["修改前"] == ""
    after = json.loads(row["修改后"])
    payload = person_payload()
    assert after["name"] == "张*丰" and after["phone"] == "138****8000"
    number = payload["id_number"]
    assert after["identifiers"] == [f"resident_id:{number[:4]}{'*' * 10}{number[-4:]}"]
    assert after["address"].endswith("****") and after["birth_date"] == "1985"
    text = rows[1][9]
    assert "张三丰" not in text and payload["id_number"] not in text and "13800138000" not in text
    at = dt.datetime.fromisoformat(row["时间"])
    assert at.utcoffset() == dt.timedelta(hours=8) and at.microsecond == 0  # Asia/Shanghai
    assert abs(at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_audit_filters_and_permissions(
    factory: sessionmaker[Session], users: Any, registered: dict[str, Any]
) -> None:
    auditor = users.create("aud", "auditor", area=None)
    rows, _r = run(factory, auditor, "audit", "xlsx", lang="en")
    assert rows[0][:3] == ["ID", "Time", "Account"]
    ids = [r[0] for r in rows[1:]]
    assert ids == sorted(ids) and "audit.export" not in {r[3] for r in rows[1:]}  # not in its own file
    actions = {r[3] for r in rows[1:]}
    assert {"user.create", "person.create"} <= actions
    pid = str(registered["person_id"])
    for f, expected in (
        ({"user": "cw"}, {"auth.login", "person.create"}),
        ({"resource_type": "person", "resource_id": pid}, {"person.create"}),
        ({"resource_type": "person", "resource_id": "999999"}, set()),
        ({"action": "area.export"}, set()),
        ({"action": "audit.export"}, {"audit.export"}),
    ):
        rows, _r = run(factory, auditor, "audit", f=f)
        assert {r[3] for r in rows[1:]} == expected, f
    for role in ("tracer", "community_worker", "commander"):
        with pytest.raises(Forbidden):
            run(factory, users.create(f"u-{role}", role), "audit")
    with pytest.raises(Invalid):
        run(factory, auditor, "audit", unmask_reason="I want the names")
    admin = users.create("adm", "admin", area=None)
    _rows, result = run(factory, admin, "audit")
    assert result.rows > 0
    mine = entries(factory, "audit.export")
    assert [e.actor_name for e in mine][-1] == "adm" and mine[-1].resource_type == "audit"
    assert mine[1].after is not None and mine[1].after["filters"] == {"user": "cw"}


def test_audit_local_date_range(factory: sessionmaker[Session], system: Actor) -> None:
    # 2026-11-23 00:00 and 2026-11-22 23:59:59 in Asia/Shanghai.
    first = add_entry(factory, dt.datetime(2026, 11, 22, 16, 0, tzinfo=dt.UTC), resource_id="a")
    late = add_entry(factory, dt.datetime(2026, 11, 22, 15, 59, 59, tzinfo=dt.UTC), resource_id="b")
    add_entry(factory, dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC), resource_id="c")
    only = {"action": "test.night"}

    def ids(**f: str) -> list[int]:
        rows, _r = run(factory, system, "audit", f={**only, **f})
        return [int(r[0]) for r in rows[1:]]

    assert ids(since="2026-11-23", until="2026-11-23") == [first]
    assert ids(until="2026-11-22") == [late]
    assert ids(since="2026-11-23") == [first, first + 2]
    assert ids(since="2026-11-22", until="2026-11-24") == [first, late]
    assert ids(since="2026-11-26") == []
    rows, _r = run(factory, system, "audit", f={**only, "since": "2026-11-23", "until": "2026-11-23"})
    assert rows[1][1] == "2026-11-23T00:00:00+08:00"
    for name, value in (
        ("since", "2026-13-01"),
        ("since", "23.11.2026"),
        ("since", "20261123"),
        ("until", "2026-02-30"),
        ("since", "0001-01-01"),
        ("until", "9999-12-31"),
    ):
        with pytest.raises(Invalid) as exc:
            run(factory, system, "audit", f={name: value})
        assert field_of(exc) == name, value
    with pytest.raises(Invalid) as exc:
        run(factory, system, "audit", f={"since": "2026-11-24", "until": "2026-11-23"})
    assert field_of(exc) == "until"


def test_audit_keyset_chunks(
    factory: sessionmaker[Session], system: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(7):
        add_entry(factory, dt.datetime(2026, 11, 22, 8, i, tzinfo=dt.UTC), resource_id=str(i))
    monkeypatch.setattr(exports, "CHUNK", 2)
    rows, result = run(factory, system, "audit", "xlsx", f={"action": "test.night"})
    assert result.rows == 7 and [r[5] for r in rows[1:]] == [str(i) for i in range(7)]


# ---------------------------------------------------------------- API


def assert_invalid(resp: Any, field: str) -> None:
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == "invalid"
    assert field in {d["field"] for d in body["error"]["details"]}, body


def test_api_downloads(client: Any, users: Any, registered: dict[str, Any]) -> None:
    cw = login(client, "cw")
    resp = client.get("/api/v1/exports/areas.csv", headers=cw, params={"level": "community"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert "areas-" in resp.headers["content-disposition"]
    lines = resp.content.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(AREA_HEADER_ZH) and len(lines) == 4  # 3 communities in 510104
    resp = client.get("/api/v1/exports/areas.xlsx", headers=cw, params={"lang": "en", "q": "网格"})
    assert resp.status_code == 200 and resp.headers["content-type"] == XLSX
    rows = xlsx_rows(resp.content)
    assert rows[0] == AREA_HEADER_EN and [r[2] for r in rows[1:]] == ["Grid", "Grid"]
    users.create("aud", "auditor", area=None)
    aud = login(client, "aud")
    resp = client.get(
        "/api/v1/exports/audit.xlsx",
        headers=aud,
        params={"action": "person.create", "since": "2000-01-01", "until": "2100-12-31"},
    )
    assert resp.status_code == 200 and resp.headers["content-type"] == XLSX
    assert "audit-" in resp.headers["content-disposition"]
    rows = xlsx_rows(resp.content)
    assert len(rows) == 2 and json.loads(rows[1][9])["name"] == "张*丰"
    resp = client.get("/api/v1/exports/audit.csv", headers=aud, params={"resource_type": "person"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "张三丰" not in resp.content.decode("utf-8-sig")


def test_api_errors(client: Any, users: Any) -> None:
    users.create("aud", "auditor", area=None)
    aud = login(client, "aud")
    for kind, params, field in (
        ("areas", {"level": "planet"}, "level"),
        ("areas", {"level": "x" * 13}, "level"),
        ("areas", {"area_code": "5"}, "area_code"),
        ("areas", {"q": "a\x01"}, "q"),
        ("areas", {"unmask_reason": "want everything"}, "unmask_reason"),
        ("audit", {"since": "2026-13-01"}, "since"),
        ("audit", {"since": "yesterday"}, "since"),
        ("audit", {"since": "2026-11-23T00:00"}, "since"),
        ("audit", {"until": "0000-00-00"}, "until"),
        ("audit", {"until": "9999-12-31"}, "until"),
        ("audit", {"since": "2026-11-24", "until": "2026-11-23"}, "until"),
        ("audit", {"user": "a\x01b"}, "user"),
        ("audit", {"resource_id": "9" * 65}, "resource_id"),
        ("audit", {"resource_type": "x" * 33}, "resource_type"),
        ("audit", {"action": "a\nb"}, "action"),
    ):
        assert_invalid(client.get(f"/api/v1/exports/{kind}.csv", headers=aud, params=params), field)
    # filters of other lists are ignored, as for the registry lists
    resp = client.get("/api/v1/exports/audit.csv", headers=aud, params={"level": "grid", "q": "x"})
    assert resp.status_code == 200
    users.create("tracer", "tracer")
    tracer = login(client, "tracer")
    resp = client.get("/api/v1/exports/audit.csv", headers=tracer)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/exports/areas.csv", headers=tracer).status_code == 200
    assert client.get("/api/v1/exports/audit.csv").status_code == 401


# ---------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli_app() -> typer.Typer:
    from fangkong.cli import main

    main._register()
    return main.app


def cli(app: typer.Typer, *args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_exports(
    cli_app: typer.Typer, tmp_path: Path, users: Any, factory: sessionmaker[Session]
) -> None:
    out = tmp_path / "counties.csv"
    result = cli(cli_app, "export", "areas", "--out", out, "--level", "county", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "wrote 3 areas" in result.output
    rows = csv_rows(out.read_bytes())
    assert rows[0] == AREA_HEADER_EN and [r[0] for r in rows[1:]] == ["110105", "510104", "510105"]
    users.create("cw", "community_worker", area="510104")
    out = tmp_path / "mine.xlsx"
    result = cli(cli_app, "export", "areas", "--out", out, "--as", "cw", "--q", "社区", "--area", "510104020")
    assert result.exit_code == 0, result.output
    assert [r[1] for r in xlsx_rows(out.read_bytes())[1:]] == ["和平社区", "东风社区"]
    assert cli(cli_app, "export", "areas", "--out", tmp_path / "x.csv", "--level", "moon").exit_code == 2
    out = tmp_path / "audit.xlsx"
    result = cli(
        cli_app,
        "export",
        "audit",
        "--out",
        out,
        "--resource",
        "user",
        "--since",
        "2000-01-01",
        "--until",
        "2100-01-01",
    )
    assert result.exit_code == 0, result.output
    assert "masked" in result.output
    users.create("aud", "auditor", area=None)
    out = tmp_path / "audit.csv"
    result = cli(cli_app, "export", "audit", "--out", out, "--action", "area.export", "--as", "aud")
    assert result.exit_code == 0, result.output
    rows = csv_rows(out.read_bytes())
    assert rows[0] == AUDIT_HEADER_ZH and len(rows) == 3  # the two area exports above
    assert [r[2] for r in rows[1:]] == [rows[1][2], "cw"] and rows[1][2].startswith("cli:")
    result = cli(cli_app, "export", "audit", "--out", out, "--resource", "person:1", "--since", "2026-2-3")
    assert result.exit_code == 2 and "since" in result.output
    result = cli(cli_app, "export", "audit", "--out", tmp_path / "t.csv", "--as", "cw")
    assert result.exit_code == 2 and "audit.read" in result.output
    assert not (tmp_path / "t.csv").exists()
    assert entries(factory, "audit.export")[-1].actor_name == "aud"
    assert cli(cli_app, "import", "areas", tmp_path / "counties.csv").exit_code == 2
    assert cli(cli_app, "import", "audit", out).exit_code == 2


# ---------------------------------------------------------------- web


def test_web_export_links(client: Any, users: Any) -> None:
    users.create("aud", "auditor", area=None)
    assert web_login(client, "aud").status_code == 303
    page = client.get("/audit")
    assert page.status_code == 200 and 'href="/api/v1/exports/audit.xlsx"' in page.text
    users.create("cw", "community_worker", area="510104")
    assert web_login(client, "cw").status_code == 303
    page = client.get("/areas", params={"q": "社区"})
    assert page.status_code == 200
    assert 'href="/api/v1/exports/areas.xlsx?q=%E7%A4%BE%E5%8C%BA"' in page.text
    page = client.get("/areas")
    assert 'href="/api/v1/exports/areas.xlsx?area_code=510104"' in page.text
