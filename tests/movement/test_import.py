"""Movement imports through the CLI and the API: bad rows named by row and column, good rows
stored once (an overlapping upload adds only what is new), an empty file refused."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.conftest import login, person_payload


@pytest.fixture
def cli(settings: Any) -> Any:
    from fangkong.cli import main

    main._register()
    return lambda *args: CliRunner().invoke(main.app, [str(a) for a in args])


@pytest.fixture
def people(client: Any, areas: Any, users: Any) -> tuple[list[int], dict[str, str]]:
    users.create("epi", "epidemiologist", area="5101")
    h = login(client, "epi")
    ids = [
        client.post("/api/v1/persons", headers=h, json=person_payload(seq=i)).json()["person"]["id"]
        for i in (1, 2)
    ]
    return ids, h


def _csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _stored_rows(settings: Any, kind: str) -> int:
    folder = settings.resolved_movement_dir / kind
    return sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet")) if folder.exists() else 0


def test_stays_bad_rows_and_idempotent_uploads(cli: Any, people: Any, settings: Any, tmp_path: Path) -> None:
    (a, b), _h = people
    path = _csv(
        tmp_path / "stays.csv",
        [
            ["person_id", "start", "end", "lon", "lat"],
            [a, "2022-07-01T08:00:00+08:00", "2022-07-01T09:00:00+08:00", 104.06, 30.66],
            [b, "2022-07-01 08:30", "2022-07-01 10:00", 104.06, 30.66],  # naive: local time
            [a, "2022-07-01T12:00:00+08:00", "2022-07-01T11:00:00+08:00", 104.06, 30.66],  # end before start
            [b, "2022-07-01T12:00:00+08:00", "2022-07-01T13:00:00+08:00", 204.0, 30.66],  # lon out of range
            [99999, "2022-07-01T12:00:00+08:00", "2022-07-01T13:00:00+08:00", 104.0, 30.6],  # unknown person
        ],
    )
    result = cli("movement", "import", "stays", path)
    assert result.exit_code == 1, result.output
    report = list(csv.reader(io.StringIO((tmp_path / "stays.csv.errors.csv").read_text("utf-8-sig"))))
    assert report[0] == ["row", "column", "value", "reason"]
    assert {(r[0], r[1]) for r in report[1:]} >= {("3", "end"), ("4", "lon"), ("5", "person_id")}
    assert _stored_rows(settings, "stays") == 2
    # the same file again, plus one new row: only the new row is added
    rows = list(csv.reader(path.open(encoding="utf-8")))[:3] + [
        [a, "2022-07-02T08:00:00+08:00", "2022-07-02T09:00:00+08:00", 104.06, 30.66]
    ]
    again = cli("movement", "import", "stays", _csv(tmp_path / "stays2.csv", rows))
    assert again.exit_code == 0, again.output
    assert _stored_rows(settings, "stays") == 3


def test_strict_mode_and_empty_file(cli: Any, people: Any, settings: Any, tmp_path: Path) -> None:
    (a, _b), _h = people
    path = _csv(
        tmp_path / "s.csv",
        [
            ["person_id", "start", "end", "lon", "lat"],
            [a, "2022-07-01T08:00:00Z", "2022-07-01T09:00:00Z", 104.0, 30.0],
            [a, "yesterday", "2022-07-01T09:00:00Z", 104.0, 30.0],
        ],
    )
    assert cli("movement", "import", "stays", path, "--strict").exit_code == 1
    assert _stored_rows(settings, "stays") == 0
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    result = cli("movement", "import", "checkins", empty)
    assert result.exit_code == 2 and "error:" in result.output
    missing = _csv(tmp_path / "m.csv", [["person_id", "time"], [a, "2022-07-01T08:00:00Z"]])
    result = cli("movement", "import", "checkins", missing)
    assert result.exit_code == 2 and "place_id" in result.output


def test_api_upload(client: Any, people: Any, settings: Any) -> None:
    (a, _b), h = people
    body = (
        "person_id,mode,number,date,carriage,seat\n"
        f"{a},train,G1234,2022-07-01,5,12A\n"
        f"{a},rocket,X1,2022-07-01,,\n"
    )
    r = client.post("/api/v1/movement/travel", headers=h, files={"file": ("t.csv", body, "text/csv")})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rows_good"] == 1 and out["rows_written"] == 1
    assert out["problems"][0]["row"] == 2 and out["problems"][0]["field"] == "mode"
    users_h = login(client, "epi")
    assert (
        client.post(
            "/api/v1/movement/travel", headers=users_h, files={"file": ("t.csv", body, "text/csv")}
        ).json()["rows_written"]
        == 0
    )
