"""The demo outbreak on a small demo city (SQLite or PostgreSQL): cases with investigations,
transmission links that the generated data supports, contact lists found on the movement data,
and confirmed close contacts under measures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select

from fangkong.auth.actor import system_actor
from fangkong.case.models import Case
from fangkong.chain import service as chains
from fangkong.chain.models import CaseLink
from fangkong.cli.serve import _activate_demo_profile
from fangkong.contact.finding import movement_store
from fangkong.contact.models import ContactListing
from fangkong.demo import outbreak
from fangkong.demo.city import build_city
from fangkong.investigation.models import Investigation
from fangkong.measure.models import PersonCategory
from fangkong.person.models import Person
from fangkong.tracing import ports

END = dt.date(2022, 11, 1)


def test_outbreak_on_the_demo_city(engine: Any, factory: Any, tmp_path: Path) -> None:
    move_dir = tmp_path / "movement"
    build_city(engine, move_dir, size=3000, end_date=END)
    with factory.begin() as s:
        _activate_demo_profile(s)
    stats = outbreak.seed(factory, movement_store(move_dir, ports.engine("duckdb")), end_date=END, clusters=3)

    assert stats.cases >= 4 and stats.links >= 1 and stats.listed > 0 and stats.confirmed > 0
    with factory() as s:
        cases = s.scalars(select(Case)).all()
        assert len(cases) == stats.cases
        # every case has its investigation (opened by the worker) and a contact list
        assert {i.case_id for i in s.scalars(select(Investigation))} == {c.id for c in cases}
        listed = set(s.scalars(select(ContactListing.case_id)))
        assert listed == {c.id for c in cases}
        by_id = {c.id: c for c in cases}
        links = s.scalars(select(CaseLink)).all()
        assert len(links) == stats.links
        con = duckdb.connect()
        for link in links:
            infector = s.get(Person, by_id[link.infector_case_id].person_id)
            infectee = s.get(Person, by_id[link.infectee_case_id].person_id)
            assert infector is not None and infectee is not None
            if link.setting == "household":
                assert infector.household_id == infectee.household_id is not None
            else:  # a venue case really checked in where the index case did, within the hour
                assert link.setting == "venue"
                glob = str(move_dir / "checkins" / "*.parquet")
                (together,) = con.execute(
                    f"SELECT count(*) FROM read_parquet('{glob}') a JOIN read_parquet('{glob}') b "
                    "ON a.place_id = b.place_id AND abs(epoch(a.time) - epoch(b.time)) <= 3600 "
                    "WHERE a.person_id = ? AND b.person_id = ?",
                    [infector.id, infectee.id],
                ).fetchone()
                assert together > 0
        # confirmed close contacts are under measures; companions are left for the tracers
        confirmed = s.scalars(select(ContactListing).where(ContactListing.status == "confirmed")).all()
        assert confirmed and {r.list for r in confirmed} == {"close_contact"}
        categorised = set(
            s.scalars(select(PersonCategory.person_id).where(PersonCategory.category == "close_contact"))
        )
        assert {r.person_id for r in confirmed} <= categorised | {c.person_id for c in cases}
        graph = chains.graph(session=s, actor=system_actor("test"))
        assert len(graph.clusters) >= 1
        assert all(n["generation"] in (1, 2) for n in graph.nodes)


def test_case_trajectory_from_the_movement_store(engine: Any, factory: Any, tmp_path: Path) -> None:
    from fangkong.contact.trajectory import trajectory

    move_dir = tmp_path / "movement"
    build_city(engine, move_dir, size=2000, end_date=END)
    with factory.begin() as s:
        _activate_demo_profile(s)
    movement = movement_store(move_dir, ports.engine("duckdb"))
    outbreak.seed(factory, movement, end_date=END, clusters=2)
    con = duckdb.connect()
    with factory.begin() as s:
        case = s.scalars(select(Case).order_by(Case.id)).first()
        assert case is not None
        found = trajectory(session=s, actor=system_actor("test"), case_id=case.id, movement=movement)
        assert found.start is not None and found.end is not None and found.start < found.end
        assert found.stays, found.notes
        assert all(found.start <= r["start"] <= r["end"] <= found.end for r in found.stays)
        assert [r["start"] for r in found.stays] == sorted(r["start"] for r in found.stays)
        # the check-ins shown are exactly the person's check-ins in the window, with venue names
        glob = str(move_dir / "checkins" / "*.parquet")
        (expected,) = con.execute(
            f"SELECT count(*) FROM read_parquet('{glob}') WHERE person_id = ? "
            "AND epoch_us(time) BETWEEN ? AND ?",
            [
                case.person_id,
                int(found.start.timestamp() * 1_000_000),
                int(found.end.timestamp() * 1_000_000),
            ],
        ).fetchone()
        assert expected > 0 and len(found.checkins) == min(expected, 500)
        assert all(c["place"] for c in found.checkins)
        # an unknown case is a 404, not an empty trajectory
        from fangkong.errors import NotFound

        try:
            trajectory(session=s, actor=system_actor("test"), case_id=10**9, movement=movement)
        except NotFound:
            pass
        else:
            raise AssertionError("expected NotFound")
