"""Reading sheets: encodings, workbooks, headers, truncated files, spreadsheet numbers."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from fangkong.errors import Invalid
from fangkong.imports import columns as cols
from fangkong.imports.reader import cell_text, read_sheet
from tests.imports import (
    PERSON_HEADER_EN,
    PERSON_HEADER_ZH,
    person_row,
    rid,
    write_csv,
    write_xlsx,
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, [person_row(1), person_row(2)], encoding=encoding)
    sheet = read_sheet(path, "persons")
    assert sheet.encoding == ("gb18030" if encoding == "gb18030" else "utf-8")
    assert sheet.total == 2 and not sheet.errors and not sheet.warnings
    row, values = sheet.rows[0]
    assert row == 1
    assert values["name"] == "张二1" and values["address"] == "和平社区1栋"
    assert "key_groups" not in values  # blank cells are left out
    assert sheet.headers["id_number"] == "证件号码"


def test_english_and_canonical_headers(tmp_path: Path) -> None:
    header = [" name ", "ID  Number", "AREA_CODE", "phone"]
    path = write_csv(tmp_path / "p.csv", header, [["Li Lei", rid(1), "510104020001001", "13800138000"]])
    sheet = read_sheet(path, "persons")
    assert sheet.rows[0][1] == {
        "name": "Li Lei",
        "id_number": rid(1),
        "area_code": "510104020001001",
        "phone": "13800138000",
    }
    assert sheet.header_of("id_number") == "ID  Number"


def test_alias_headers_fullwidth_and_required_marker(tmp_path: Path) -> None:
    header = ["姓名*", "身份证号", "社区（网格）代码", "联系电话"]
    path = write_csv(tmp_path / "p.csv", header, [["王五", rid(2), "510104020001001", "13800138000"]])
    sheet = read_sheet(path, "persons")
    assert set(sheet.rows[0][1]) == {"name", "id_number", "area_code", "phone"}


def test_unknown_column_is_a_warning(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [*PERSON_HEADER_ZH, "备注"], [[*person_row(1), "x"]])
    sheet = read_sheet(path, "persons")
    assert [(w.field, w.row) for w in sheet.warnings] == [("备注", None)]
    assert "unknown column" in sheet.warnings[0].reason


def test_missing_required_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["姓名", "手机号"], [["张三", "13800138000"]])
    with pytest.raises(Invalid) as exc:
        read_sheet(path, "persons")
    assert "missing required columns" in exc.value.message
    assert {d.field for d in exc.value.details} == {"证件号码", "所属区域代码"}


def test_two_columns_for_one_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [*PERSON_HEADER_ZH, "联系电话"], [[*person_row(1), "1"]])
    with pytest.raises(Invalid) as exc:
        read_sheet(path, "persons")
    assert exc.value.details[0].field == "联系电话"


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(Invalid, match="empty"):
        read_sheet(empty, "persons")
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(Invalid, match="empty"):
        read_sheet(blank, "persons")
    header_only = write_csv(tmp_path / "h.csv", PERSON_HEADER_ZH, [])
    with pytest.raises(Invalid, match="no data rows"):
        read_sheet(header_only, "persons")


def test_utf16_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(("姓名,证件号码,所属区域代码\n张三," + rid(1) + ",51\n").encode("utf-16"))
    with pytest.raises(Invalid) as exc:
        read_sheet(path, "persons")
    assert "UTF-8" in exc.value.message


def test_utf16_without_bom_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("name,id_number,area_code\nLi,1,51\n".encode("utf-16-le"))
    with pytest.raises(Invalid) as exc:
        read_sheet(path, "persons")
    assert "NUL" in exc.value.message


def test_random_bytes_report_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"name,id_number,area_code\nLi,\xff\xfe\x80,51\n")
    with pytest.raises(Invalid) as exc:
        read_sheet(path, "persons")
    reason = exc.value.details[0].reason
    assert "offset 28" in reason and "line 2" in reason and "0xff" in reason


def test_truncated_csv_unterminated_quote(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, [person_row(1), person_row(2)])
    data = path.read_text("utf-8-sig") + '王五,居民身份证,"' + rid(3)
    path.write_text(data, encoding="utf-8")
    sheet = read_sheet(path, "persons")
    assert sheet.total == 3 and len(sheet.rows) == 2
    assert [e.row for e in sheet.errors] == [3]
    assert "never closed" in sheet.errors[0].reason
    assert sheet.unreadable == {3}


def test_truncated_csv_short_last_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, [person_row(1), person_row(2)])
    path.write_text(path.read_text("utf-8-sig") + "王五,居民身份证,1101", encoding="utf-8")
    sheet = read_sheet(path, "persons")
    assert [e.row for e in sheet.errors] == [3]
    assert "has 3 values but the header has 12 columns" in sheet.errors[0].reason


def test_blank_rows_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, [person_row(1), [], [""] * 12, person_row(2)])
    sheet = read_sheet(path, "persons")
    assert sheet.total == 2
    assert [r for r, _ in sheet.rows] == [1, 4]


def test_extra_values_beyond_the_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, [[*person_row(1), "oops"]])
    sheet = read_sheet(path, "persons")
    assert sheet.unreadable == {1}


def test_semicolon_and_tab_separated(tmp_path: Path) -> None:
    for sep in (";", "\t"):
        path = tmp_path / "p.csv"
        path.write_text(
            sep.join(["name", "id_number", "area_code"]) + "\n" + sep.join(["Li", rid(1), "51"]) + "\n",
            encoding="utf-8",
        )
        assert read_sheet(path, "persons").rows[0][1]["area_code"] == "51"


def test_xlsx_with_numbers_and_dates(tmp_path: Path) -> None:
    rows = [["李四", rid(1), dt.datetime(1990, 3, 5), 13800138000.0, 510104020001001, 104.06, 30.5, 15]]
    path = write_xlsx(
        tmp_path / "p.xlsx",
        ["姓名", "证件号码", "出生日期", "手机号", "所属区域代码", "经度", "纬度", "户号"],
        rows,
    )
    sheet = read_sheet(path, "persons")
    assert sheet.fmt == "xlsx"
    values = sheet.rows[0][1]
    assert values == {
        "name": "李四",
        "id_number": rid(1),
        "birth_date": "1990-03-05",
        "phone": "13800138000",
        "area_code": "510104020001001",
        "lon": "104.06",
        "lat": "30.5",
        "household_ref": "15",
    }


def test_xlsx_id_number_stored_as_number_lost_digits(tmp_path: Path) -> None:
    number = int(rid(1)[:17] + "0")
    rows = [["李四", float(number), "510104020001001"], ["王五", rid(2), "510104020001001"]]
    path = write_xlsx(tmp_path / "p.xlsx", ["姓名", "证件号码", "所属区域代码"], rows)
    sheet = read_sheet(path, "persons")
    assert [e.row for e in sheet.errors] == [1]
    assert sheet.errors[0].field == "证件号码"
    assert "lost digits" in sheet.errors[0].reason
    assert sheet.unreadable == {1} and [r for r, _ in sheet.rows] == [2]


def test_scientific_notation_in_csv(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "p.csv", ["姓名", "证件号码", "所属区域代码"], [["李四", "5.10104E+17", "510104020001001"]]
    )
    sheet = read_sheet(path, "persons")
    assert "scientific notation" in sheet.errors[0].reason


@pytest.mark.parametrize("content", [b"name,id_number\nLi,1\n", os.urandom(2000), b"PK\x03\x04garbage-zip"])
def test_xlsx_that_is_not_a_workbook(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "p.xlsx"
    path.write_bytes(content)
    with pytest.raises(Invalid, match="not an .xlsx workbook"):
        read_sheet(path, "persons")


def test_old_xls_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(Invalid, match="xls"):
        read_sheet(path, "persons")


def test_xlsx_english_headers_and_blank_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "p.xlsx", PERSON_HEADER_EN, [person_row(1), [None] * 12, person_row(2)])
    sheet = read_sheet(path, "persons")
    assert [r for r, _ in sheet.rows] == [1, 3] and sheet.total == 2


def test_title_row_above_the_header(tmp_path: Path) -> None:
    rows = [["", ""], PERSON_HEADER_ZH, person_row(1), [], person_row(2)]
    path = write_xlsx(tmp_path / "p.xlsx", ["和平社区人员台账"], rows)
    sheet = read_sheet(path, "persons")
    assert [r for r, _ in sheet.rows] == [1, 3]
    assert "1 row(s) above the header row were ignored" in sheet.warnings[0].reason
    one_known = write_csv(tmp_path / "p.csv", ["姓名", "x"], [["张三", "y"]])
    with pytest.raises(Invalid, match="missing required columns"):
        read_sheet(one_known, "persons")


def test_cell_text() -> None:
    assert cell_text(13800138000.0, "phone") == ("13800138000", None)
    assert cell_text(300.0, "capacity") == ("300", None)
    assert cell_text(104.0625, "lon") == ("104.0625", None)
    assert cell_text(dt.date(2020, 1, 2), "birth_date") == ("2020-01-02", None)
    assert cell_text(dt.datetime(2020, 1, 2, 8, 30), "x")[0] == "2020-01-02 08:30:00"
    assert cell_text(510104199003040000, "id_number")[1] is not None
    assert cell_text(110105850601123, "id_number") == ("110105850601123", None)  # 15 digits
    assert cell_text("  x ", "name") == ("x", None)


def test_coded_values_and_key_groups() -> None:
    assert cols.code_of("id_kind", "护照") == "passport"
    assert cols.code_of("id_kind", "Passport") == "passport"
    assert cols.code_of("id_kind", "身份证") == "resident_id"
    assert cols.code_of("household_relation", "户主") == "head"
    assert cols.code_of("category", "农集贸市场", category_kind="venues") == "farmers_market"
    assert cols.code_of("category", "中小学校", category_kind="units") == "school"
    assert cols.code_of("category", "nonsense", category_kind="units") == "nonsense"
    assert cols.split_key_groups("老年人、海关（边检、卫生检疫）人员;drivers") == [
        "elderly",
        "customs_staff",
        "drivers",
    ]
    assert cols.split_key_groups("Customs, border-inspection and quarantine staff; Students") == [
        "customs_staff",
        "students",
    ]
    assert cols.split_key_groups("老年人，火星人") == ["elderly", "火星人"]


def test_parse_date() -> None:
    for text in ("1990-3-4", "1990/03/04", "19900304", "1990年3月4日", "1990.3.4", "1990-03-04 00:00:00"):
        assert cols.parse_date(text) == "1990-03-04"
    with pytest.raises(ValueError, match="not a calendar date"):
        cols.parse_date("1990-02-30")
    with pytest.raises(ValueError, match="not a date"):
        cols.parse_date("March 4th")
