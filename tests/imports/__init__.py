"""Helpers shared by the import/export tests: sheets written as real files."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from fangkong.person.identity import make_resident_id

PERSON_HEADER_ZH = [
    "姓名",
    "证件类型",
    "证件号码",
    "性别",
    "出生日期",
    "手机号",
    "所属区域代码",
    "住址",
    "户号",
    "与户主关系",
    "重点人群",
    "国籍",
]
PERSON_HEADER_EN = [
    "Name",
    "ID type",
    "ID number",
    "Sex",
    "Birth date",
    "Phone",
    "Area code",
    "Address",
    "Household ref",
    "Relation to head",
    "Key groups",
    "Nationality",
]
GRID = "510104020001001"
OTHER_COUNTY = "510105001001"  # 青羊区 宽巷子社区
TABLES = (
    "person",
    "person_identifier",
    "person_key_group",
    "household",
    "import_batch",
    "audit_log",
    "domain_event",
    "place",
    "unit",
)


def rid(seq: int, birth: dt.date = dt.date(1990, 3, 4), sex: str = "female") -> str:
    return make_resident_id("510104", birth, seq, sex=sex)  # type: ignore[arg-type]


def person_row(seq: int, **over: Any) -> list[Any]:
    """A valid row in PERSON_HEADER order (the sex matches the ID)."""
    birth = over.pop("birth", dt.date(1990, 3, 4) + dt.timedelta(days=seq))
    values: dict[str, Any] = {
        "name": f"张{'一二三四五六七八九十'[seq % 10]}{seq}",
        "id_kind": "居民身份证",
        "id_number": rid(seq % 500, birth),
        "sex": "女",
        "birth_date": birth.isoformat(),
        "phone": f"138{seq:08d}",
        "area_code": GRID,
        "address": f"和平社区{seq}栋",
        "household_ref": f"HH{seq // 2:04d}",
        "household_relation": "户主" if seq % 2 == 0 else "子女",
        "key_groups": "老年人、司机" if seq % 3 == 0 else "",
        "nationality": "CHN",
    }
    values.update(over)
    return [
        values[k]
        for k in (
            "name",
            "id_kind",
            "id_number",
            "sex",
            "birth_date",
            "phone",
            "area_code",
            "address",
            "household_ref",
            "household_relation",
            "key_groups",
            "nationality",
        )
    ]


def write_csv(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str = "utf-8-sig"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "sheet1"
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as s:
        return {t: int(s.scalar(select(func.count()).select_from(text(t))) or 0) for t in TABLES}


def persons_csv(path: Path, n: int = 3, **kw: Any) -> Path:
    return write_csv(path, PERSON_HEADER_ZH, [person_row(i) for i in range(n)], **kw)
