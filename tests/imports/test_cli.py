"""`fangkong import …` and `fangkong export …` through the real CLI app (same test database)."""

from __future__ import annotations

import csv
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
from tests.imports import PERSON_HEADER_ZH, counts, person_row, persons_csv, rid, write_csv

pytestmark = pytest.mark.usefixtures("areas")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from fangkong.cli import main

    main._register()
    return main.app


def cli(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def report_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_import_stores_and_writes_an_empty_report(
    app: typer.Typer, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    path = persons_csv(tmp_path / "p.csv", 3)
    result = cli(app, "import", "persons", path)
    assert result.exit_code == 0, result.output
    assert "3 rows, 3 stored, 0 rejected" in result.output
    assert report_rows(tmp_path / "p.csv.errors.csv") == [["row", "column", "value", "reason"]]
    c = counts(factory)
    assert c["person"] == 3 and c["import_batch"] == 1 and c["audit_log"] == 1


def test_rejected_rows_exit_1_and_store_nothing(
    app: typer.Typer, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    bad = rid(1)[:17] + ("0" if rid(1)[17] != "0" else "1")
    path = write_csv(
        tmp_path / "p.csv",
        [*PERSON_HEADER_ZH, "备注"],
        [
            [*person_row(0), ""],
            [*person_row(1, id_number=bad), ""],
            [*person_row(2, birth_date="1990-13-01"), ""],
        ],
    )
    before = counts(factory)
    result = cli(app, "import", "persons", path)
    assert result.exit_code == 1, result.output
    assert "nothing stored: 2 row(s) rejected" in result.output
    assert counts(factory) == before
    rows = report_rows(tmp_path / "p.csv.errors.csv")
    assert rows[0] == ["row", "column", "value", "reason"]
    assert rows[1][:3] == ["2", "证件号码", bad] and "check digit" in rows[1][3]
    assert rows[2][:3] == ["3", "出生日期", "1990-13-01"]
    assert len(rows) == 3  # problems only; warnings go to the terminal
    assert "warning: file 备注: unknown column; its values are ignored" in result.output


def test_partial_stores_good_rows(app: typer.Typer, tmp_path: Path, factory: sessionmaker[Session]) -> None:
    path = write_csv(
        tmp_path / "p.csv", PERSON_HEADER_ZH, [person_row(0), person_row(1, area_code="99"), person_row(2)]
    )
    report = tmp_path / "out" / "report.csv"
    report.parent.mkdir()
    result = cli(app, "import", "persons", path, "--partial", "--report", report)
    assert result.exit_code == 0, result.output
    assert "1 row(s) rejected and not stored" in result.output
    assert [r[0] for r in report_rows(report)[1:]] == ["2"]
    assert counts(factory)["person"] == 2


def test_dry_run(app: typer.Typer, tmp_path: Path, factory: sessionmaker[Session]) -> None:
    before = counts(factory)
    ok = cli(app, "import", "persons", persons_csv(tmp_path / "ok.csv", 2), "--dry-run")
    assert ok.exit_code == 0 and "checked (dry run)" in ok.output
    path = write_csv(tmp_path / "bad.csv", PERSON_HEADER_ZH, [person_row(0, phone="1")])
    bad = cli(app, "import", "persons", path, "--dry-run", "--format", "json")
    assert bad.exit_code == 1
    summary = json.loads(bad.stdout)
    assert summary["rows_rejected"] == 1 and summary["stored"] is False
    assert summary["errors"][0]["row"] == 1 and summary["exit_code"] == 1
    assert counts(factory) == before


def test_file_level_errors_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes(("\n".join([",".join(PERSON_HEADER_ZH), ",".join(person_row(0))])).encode("utf-16"))
    result = cli(app, "import", "persons", utf16)
    assert result.exit_code == 2
    rows = report_rows(tmp_path / "u.csv.errors.csv")
    assert rows[1][0] == "" and rows[1][1] == "file"
    missing = write_csv(tmp_path / "m.csv", ["姓名", "手机号"], [["张三", "13800138000"]])
    result = cli(app, "import", "persons", missing)
    assert result.exit_code == 2 and "missing required columns" in result.output
    rows = report_rows(tmp_path / "m.csv.errors.csv")
    assert {r[1] for r in rows[1:]} == {"证件号码", "所属区域代码"} and {r[0] for r in rows[1:]} == {""}
    notxlsx = tmp_path / "x.xlsx"
    notxlsx.write_bytes(b"\x00\x01 random")
    assert cli(app, "import", "units", notxlsx).exit_code == 2
    assert cli(app, "import", "persons", tmp_path / "nope.csv").exit_code == 2


def test_import_as_user(app: typer.Typer, tmp_path: Path, users: Any, factory: sessionmaker[Session]) -> None:
    users.create("sampler", "sampler")
    path = persons_csv(tmp_path / "p.csv", 1)
    result = cli(app, "import", "persons", path, "--as", "sampler")
    assert result.exit_code == 2 and "may not perform person.import" in result.output
    users.create("cw", "community_worker", area="510105")
    result = cli(app, "import", "persons", path, "--as", "cw")
    assert result.exit_code == 1 and "outside your jurisdiction" in result.output
    assert counts(factory)["person"] == 0


def test_venues_and_units(app: typer.Typer, tmp_path: Path, factory: sessionmaker[Session]) -> None:
    units = write_csv(
        tmp_path / "u.csv", ["单位名称", "单位类别", "所属区域代码"], [["一小", "中小学校", "510104"]]
    )
    assert cli(app, "import", "units", units).exit_code == 0
    venues = write_csv(
        tmp_path / "v.csv", ["场所名称", "场所类别", "所属区域代码"], [["公园", "公园", "510104"]]
    )
    assert cli(app, "import", "venues", venues).exit_code == 0
    assert cli(app, "export", "venues", "--out", tmp_path / "v.csv").exit_code == 0
    households = write_csv(
        tmp_path / "h.csv", ["户号", "所属区域代码", "住址"], [["H1", "510104020001", "1栋"]]
    )
    assert cli(app, "import", "households", households).exit_code == 0
    c = counts(factory)
    assert (c["unit"], c["place"], c["household"], c["import_batch"]) == (1, 1, 1, 3)


def test_export(app: typer.Typer, tmp_path: Path, factory: sessionmaker[Session], users: Any) -> None:
    assert cli(app, "import", "persons", persons_csv(tmp_path / "p.csv", 4)).exit_code == 0
    out = tmp_path / "persons.xlsx"
    result = cli(app, "export", "persons", "--out", out, "--key-group", "elderly")
    assert result.exit_code == 0, result.output
    assert "wrote 2 persons" in result.output and "masked" in result.output
    wb = load_workbook(out, read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    assert rows[0][1] == "姓名" and rows[1][1] == "张*0" and len(rows) == 3
    out_csv = tmp_path / "persons.csv"
    result = cli(
        app,
        "export",
        "persons",
        "--out",
        out_csv,
        "--lang",
        "en",
        "--area",
        "510104020001001",
        "--unmask-reason",
        "核对名单",
    )
    assert result.exit_code == 0 and "UNMASKED" in result.output
    text = out_csv.read_bytes().decode("utf-8-sig")
    assert text.startswith("ID,Name,ID type,ID number") and rid(0) in text
    with factory() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["person.export", "person.export_pii"]
    result = cli(app, "export", "units", "--out", tmp_path / "units.txt")
    assert result.exit_code == 2 and "--format" in result.output
    assert cli(app, "export", "units", "--out", tmp_path / "units.txt", "--format", "csv").exit_code == 0
    users.create("sampler", "sampler")
    result = cli(app, "export", "persons", "--out", tmp_path / "x.csv", "--as", "sampler")
    assert result.exit_code == 2 and not (tmp_path / "x.csv").exists()
    assert list(tmp_path.glob(".*.part")) == []
