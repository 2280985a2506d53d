"""Real GPS data through the whole platform: GeoLife users become registered persons, their
raw points are imported (GPS → stays, validated, stored), user 003 becomes a case, and contact
finding lists 004 and 005 — who really spent time with 003 — as spatiotemporal companions,
with the minutes together; 000 (same campus, other times) is not listed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fangkong.auth.actor import system_actor
from fangkong.case import service as cases
from fangkong.case.schemas import CaseCreate
from fangkong.contact import service as contacts
from fangkong.contact.finding import movement_store
from fangkong.contact.models import ContactListing
from fangkong.person import service as persons
from fangkong.person.schemas import PersonCreate
from fangkong.policy import loader
from fangkong.policy_profile import service as profiles
from fangkong.tracing import ports
from fangkong.tracing.geolife import read_user_folder
from tests.conftest import person_payload

DATA = Path(__file__).resolve().parents[1] / "data" / "geolife" / "trackintel_subset"
SYSTEM = system_actor("test")


@pytest.fixture
def geolife_points(tmp_path: Path, factory: Any, areas: Any) -> tuple[Path, dict[str, int]]:
    ids: dict[str, int] = {}
    with factory.begin() as s:
        profiles.activate(
            session=s,
            actor=SYSTEM,
            loaded=loader.load_shipped("cn-9th"),
            source_text="",
            effective_from=dt.date(2008, 1, 1),
            as_of=dt.datetime(2008, 10, 29, tzinfo=dt.UTC),
        )
        for n, user in enumerate(("000", "003", "004", "005")):
            ids[user] = persons.create(
                session=s,
                actor=SYSTEM,
                data=PersonCreate(**person_payload(seq=n + 1, name=f"用户{user}", birth=dt.date(1980, 1, 1))),
            ).id
    tables = []
    for user, pid in ids.items():
        t = read_user_folder(DATA / user)
        tables.append(t.set_column(0, "person_id", pa.array([pid] * t.num_rows, pa.int64())))
    points = pa.concat_tables(tables)
    path = tmp_path / "gps.csv"
    pacsv.write_csv(points, path)
    return path, ids


def test_geolife_companions_end_to_end(
    tmp_path: Path,
    factory: Any,
    settings: Any,
    geolife_points: tuple[Path, dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, ids = geolife_points
    monkeypatch.setenv("FANGKONG_CITY_LON", "116.3")  # Beijing: UTM zone 50
    from fangkong.cli import main
    from fangkong.config import get_settings

    get_settings.cache_clear()
    main._register()
    result = CliRunner().invoke(main.app, ["movement", "import", "gps", str(path)])
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(main.app, ["movement", "import", "gps", str(path)])
    assert again.exit_code == 0 and " 0 stored" in again.output  # the same upload twice: nothing new
    with factory.begin() as s:
        case = cases.create(
            session=s,
            actor=SYSTEM,
            now=dt.datetime(2008, 10, 28, 12, tzinfo=dt.UTC),
            data=CaseCreate(
                person_id=ids["003"],
                classification="asymptomatic",
                first_positive_at=dt.datetime(2008, 10, 28, 11, tzinfo=dt.UTC),
            ),
        )
        movement = movement_store(get_settings().resolved_movement_dir, ports.engine("duckdb"))
        found = contacts.run(
            session=s,
            actor=SYSTEM,
            case_id=case.id,
            movement=movement,
            now=dt.datetime(2008, 10, 28, 12, tzinfo=dt.UTC),
        )
        rows = s.scalars(
            select(ContactListing).where(
                ContactListing.case_id == case.id, ContactListing.list == "companion"
            )
        ).all()
    minutes = {r.person_id: r.minutes for r in rows}
    assert set(minutes) == {ids["004"], ids["005"]}, (found.as_dict(), minutes)
    # each shared stays of most of an hour with 003 (see tests/tracing/test_geolife.py)
    assert minutes[ids["004"]] > 30 and minutes[ids["005"]] > 30
    assert all("时空伴随" in r.reason_zh for r in rows)
