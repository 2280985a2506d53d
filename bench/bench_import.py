"""Benchmark: importing persons from CSV and .xlsx.

Generates N persons (default 100,000) with valid resident ID numbers as a CSV file and as
an .xlsx workbook in a temporary folder, creates a fresh SQLite database for each run
(migrated, with the areas of province 51 loaded), and times
`fangkong.imports.service.import_file` inside one unit of work: a dry run of the CSV, the
CSV import and the .xlsx import. Prints rows/s and seconds.

    .venv/bin/python bench/bench_import.py [--rows 100000] [--keep]

Benchmarks are not tests: this prints figures; record them in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

HEADER = [
    "姓名",
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
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
GROUPS = ["", "", "", "老年人", "学生", "司机、快递员", "企业职工", "海关（边检、卫生检疫）人员"]


def person_rows(n: int, area_codes: list[str]) -> list[list[str]]:
    from fangkong.person.identity import make_resident_id

    rows = []
    base = dt.date(1990, 1, 1)
    for i in range(n):
        birth = base + dt.timedelta(days=i // 1000)  # 1000 persons share a birth date
        seq = (i % 1000) // 2
        sex = "male" if i % 2 else "female"
        area = area_codes[i % len(area_codes)]
        rid = make_resident_id("510104", birth, seq, sex=sex)
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 3) % len(GIVEN)]
        head = i % 3 == 0
        rows.append(
            [
                name,
                rid,
                "男" if sex == "male" else "女",
                birth.isoformat(),
                f"13{i % 10}{i:08d}"[:11],
                area,
                f"第{i // 3}号院{i % 3 + 1}室",
                f"HH{i // 3:08d}",
                "户主" if head else "配偶",
                GROUPS[i % len(GROUPS)],
                "CHN",
            ]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("persons")
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    wb.save(path)


def fresh_db(folder: Path, name: str) -> tuple[object, list[str]]:
    from fangkong.area import service as areas
    from fangkong.area.models import Area
    from fangkong.auth.actor import system_actor
    from fangkong.db import migrate
    from fangkong.db.engine import make_engine
    from fangkong.db.session import make_session_factory, unit_of_work

    engine = make_engine(url=f"sqlite:///{folder / name}")
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as s:
        areas.load_national(session=s, actor=system_actor("bench"), provinces=["51"])
        codes = list(
            s.scalars(
                select(Area.code)
                .where(Area.level == "township", Area.code.startswith("5101"))
                .order_by(Area.code)
                .limit(200)
            )
        )
    return factory, codes


def run(factory: object, path: Path, *, dry_run: bool = False) -> tuple[float, object]:
    from fangkong.auth.actor import system_actor
    from fangkong.db.session import unit_of_work
    from fangkong.imports.service import import_file

    start = time.perf_counter()
    with unit_of_work(factory) as s:  # type: ignore[arg-type]
        result = import_file(
            session=s,
            actor=system_actor("bench"),
            kind="persons",
            path=path,
            dry_run=dry_run,
            today=dt.date(2026, 1, 1),
        )
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    os.environ.setdefault("FANGKONG_ENV", "dev")
    folder = Path(tempfile.mkdtemp(prefix="fangkong-bench-import-"))
    print(
        f"# import benchmark: {args.rows:,} persons; {os.cpu_count()} CPU(s), "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{dt.datetime.now():%Y-%m-%d %H:%M}; folder {folder}"
    )
    try:
        factory, codes = fresh_db(folder, "areas-only.db")
        t0 = time.perf_counter()
        rows = person_rows(args.rows, codes)
        csv_path, xlsx_path = folder / "persons.csv", folder / "persons.xlsx"
        write_csv(csv_path, rows)
        t1 = time.perf_counter()
        write_xlsx(xlsx_path, rows)
        t2 = time.perf_counter()
        print(
            f"generate: csv {t1 - t0:.1f} s ({csv_path.stat().st_size / 1e6:.1f} MB), "
            f"xlsx {t2 - t1:.1f} s ({xlsx_path.stat().st_size / 1e6:.1f} MB)"
        )
        for label, path, dry in (
            ("csv dry-run", csv_path, True),
            ("csv", csv_path, False),
            ("xlsx", xlsx_path, False),
        ):
            factory, _codes = fresh_db(folder, f"{label.replace(' ', '-')}.db")
            seconds, result = run(factory, path, dry_run=dry)
            stored = result.rows_stored  # type: ignore[attr-defined]
            rejected = result.rows_rejected  # type: ignore[attr-defined]
            print(
                f"{label:12s} {args.rows / seconds:10,.0f} rows/s  {seconds:6.1f} s  "
                f"stored {stored:,}  rejected {rejected:,}"
            )
            if not dry:
                from fangkong.person.models import Person

                with factory() as s:  # type: ignore[operator]
                    count = s.scalar(select(func.count()).select_from(Person))
                assert count == args.rows, f"expected {args.rows} persons, found {count}"
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
