"""`fangkong trace companions` on small files (a fresh Typer app: no dependence on main.py)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner, Result

from fangkong.errors import Invalid, PolicyError

STAYS = """person_id,start,end,lon,lat
1,2022-03-02 10:00:00,2022-03-02 11:00:00,104.0660,30.6570
2,2022-03-02T02:50:00Z,2022-03-02T03:30:00Z,104.0661,30.6571
3,2022-03-02T10:30:00+08:00,2022-03-02T10:39:00+08:00,104.0661,30.6571
4,2022-03-02T10:00:00+08:00,2022-03-02T11:00:00+08:00,104.2000,30.7000
"""
CASES = "person_id,anchor_time\n1,2022-03-15 00:00\n9,2022-03-15T00:00:00+08:00\n"


@pytest.fixture
def app() -> typer.Typer:
    from fangkong.cli import trace

    app = typer.Typer()
    trace.register(app)

    @app.callback()
    def _root() -> None:  # a group, so that `trace` is a sub-command as in main.py
        pass

    return app


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    stays, cases = tmp_path / "stays.csv", tmp_path / "cases.csv"
    stays.write_text(STAYS, "utf-8")
    cases.write_text(CASES, "utf-8")
    return stays, cases


def run(app: typer.Typer, *args: object) -> Result:
    return CliRunner().invoke(app, ["trace", "companions", *map(str, args)])


def test_companions_to_csv(app: typer.Typer, files: tuple[Path, Path], tmp_path: Path) -> None:
    stays, cases = files
    out = tmp_path / "out.csv"
    result = run(app, "--stays", stays, "--cases", cases, "--out", out, "--min-dwell-hours", 0)
    assert result.exit_code == 0, result.output
    # naive 10:00–11:00 is local (+08:00) time: 10 minutes with person 2 (02:50Z–03:30Z)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows == [
        {
            "case_person_id": "1",
            "person_id": "2",
            "co_presence_minutes": "10",
            "cells": "1",
            "first_seen": "2022-03-02T02:50:00Z",
            "last_seen": "2022-03-02T03:00:00Z",
        }
    ]
    assert "cases: 2 (1 with companions, 1 without stays in their window)" in result.output
    assert "companions: 1 rows, 1 persons" in result.output
    assert "UTM zone 48" in result.output


def test_companions_to_parquet_with_a_profile(
    app: typer.Typer, files: tuple[Path, Path], tmp_path: Path
) -> None:
    stays, cases = files
    out = tmp_path / "out.parquet"
    # cn-9th: 800 m, 10 min, 14 days, 30 h: nobody stayed 30 h in the cell
    assert run(app, "--stays", stays, "--cases", cases, "--out", out, "--profile", "cn-9th").exit_code == 0
    assert pq.read_table(out).num_rows == 0
    # an explicit option overrides the profile
    result = run(
        app, "--stays", stays, "--cases", cases, "--out", out, "--profile", "cn-9th", "--min-dwell-hours", 0
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.to_pydict()["person_id"] == [2]
    assert table.schema.field("first_seen").type == pa.timestamp("us", tz="UTC")
    # --min-overlap 9 lets person 3 (9 minutes) in
    run(app, "--stays", stays, "--cases", cases, "--out", out, "--min-dwell-hours", 0, "--min-overlap", 9)
    assert pq.read_table(out).to_pydict()["person_id"] == [2, 3]
    # a cell of 20 km takes in person 4, 13 km away
    run(app, "--stays", stays, "--cases", cases, "--out", out, "--min-dwell-hours", 0, "--cell-size", 40000)
    assert pq.read_table(out).to_pydict()["person_id"] == [2, 4]


def test_window_days_option(app: typer.Typer, files: tuple[Path, Path], tmp_path: Path) -> None:
    stays, cases = files
    out = tmp_path / "out.csv"
    run(app, "--stays", stays, "--cases", cases, "--out", out, "--min-dwell-hours", 0, "--window-days", 12)
    assert list(csv.DictReader(out.open(encoding="utf-8"))) == []


def test_a_profile_without_companions_is_an_error(
    app: typer.Typer, files: tuple[Path, Path], tmp_path: Path
) -> None:
    stays, cases = files
    result = run(app, "--stays", stays, "--cases", cases, "--out", tmp_path / "o.csv", "--profile", "cn-8th")
    assert isinstance(result.exception, PolicyError)
    assert "no companion rule" in str(result.exception)


def test_bad_files_name_the_column_and_the_file(
    app: typer.Typer, files: tuple[Path, Path], tmp_path: Path
) -> None:
    stays, cases = files
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,begin,end,lon,lat\n1,2022-03-02 10:00,2022-03-02 11:00,104,30\n", "utf-8")
    result = run(app, "--stays", bad, "--cases", cases, "--out", tmp_path / "o.csv")
    assert isinstance(result.exception, Invalid)
    assert "start" in str(result.exception) and str(bad) in str(result.exception)
    bad_cases = tmp_path / "bad_cases.csv"
    bad_cases.write_text("person,anchor_time\n1,2022-03-15\n", "utf-8")
    result = run(app, "--stays", stays, "--cases", bad_cases, "--out", tmp_path / "o.csv")
    assert isinstance(result.exception, Invalid)
    assert "person_id" in str(result.exception) and str(bad_cases) in str(result.exception)
    result = run(app, "--stays", stays, "--cases", cases, "--out", tmp_path / "o.xlsx")
    assert isinstance(result.exception, Invalid) and ".parquet or .csv" in str(result.exception)


def test_empty_stays_file(app: typer.Typer, files: tuple[Path, Path], tmp_path: Path) -> None:
    _, cases = files
    empty = tmp_path / "empty.csv"
    empty.write_text("person_id,start,end,lon,lat\n", "utf-8")
    out = tmp_path / "out.parquet"
    result = run(app, "--stays", empty, "--cases", cases, "--out", out, "--utm-zone", 48)
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column_names == [
        "case_person_id",
        "person_id",
        "co_presence_minutes",
        "cells",
        "first_seen",
        "last_seen",
    ]
    assert "companions: 0 rows" in result.output


def test_parquet_stays_and_cell_ids(app: typer.Typer, tmp_path: Path) -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    ts = pa.timestamp("us", tz="UTC")
    stays = tmp_path / "stays.parquet"
    pq.write_table(
        pa.table(
            {
                "Person_ID": ["a", "b"],
                "start": pa.array([dt.datetime(2022, 3, 2, 10, tzinfo=tz)] * 2, ts),
                "end": pa.array([dt.datetime(2022, 3, 2, 11, tzinfo=tz)] * 2, ts),
                "cell_id": ["460-00-1-2", "460-00-1-2"],
            }
        ),
        stays,
    )
    cases = tmp_path / "cases.csv"
    cases.write_text("anchor_time,person_id\n2022-03-10T00:00:00+08:00,a\n", "utf-8")
    out = tmp_path / "out.csv"
    result = run(app, "--stays", stays, "--cases", cases, "--out", out, "--min-dwell-hours", 0)
    assert result.exit_code == 0, result.output
    assert [
        (r["case_person_id"], r["person_id"], r["co_presence_minutes"])
        for r in csv.DictReader(out.open(encoding="utf-8"))
    ] == [("a", "b", "60")]
