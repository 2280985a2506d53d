"""Shared fixtures of the testing-operations tests: cn-9th in force, residents, sites, labs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fangkong.auth.actor import Actor
from fangkong.events.registry import load_handlers
from fangkong.nat import sites
from fangkong.person import service as persons
from fangkong.person.schemas import PersonCreate
from fangkong.policy import loader
from fangkong.policy_profile import service as profiles
from tests.conftest import person_payload

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HQ = Actor(user_id=None, username="hq", roles=frozenset({"commander", "admin"}), area_code="5101")
SAMPLER = Actor(user_id=None, username="sampler1", roles=frozenset({"sampler"}), area_code="510104")


@pytest.fixture
def world(factory: Any, areas: Any, users: Any) -> dict[str, Any]:
    """cn-9th in force; 12 residents of 和平社区 (with positions), one with a passport, one in a key
    group; a site there and one in 青羊区; two labs, each with one staff account."""
    load_handlers()
    out: dict[str, Any] = {}
    with factory.begin() as s:
        profiles.activate(
            session=s,
            actor=HQ,
            loaded=loader.load_shipped("cn-9th"),
            source_text="",
            effective_from=dt.date(2022, 6, 28),
            as_of=NOW,
        )
        ids = []
        for n in range(12):
            extra: dict[str, Any] = {"lon": 104.08 + n * 0.001, "lat": 30.66, "phone": f"1380013{n:04d}"}
            if n == 11:
                extra |= {"id_kind": "passport", "id_number": "E12345678", "nationality": "USA"}
            if n == 10:
                extra["key_groups"] = ["elderly"]
            ids.append(
                persons.create(
                    session=s, actor=HQ, data=PersonCreate(**person_payload(seq=n + 1, **extra))
                ).id
            )
        out["persons"] = ids
        site = sites.create_site(
            session=s,
            actor=HQ,
            data=sites.SiteCreate(
                code="S-HP-01",
                name="和平社区广场采样点",
                area_code="510104020001",
                lon=104.085,
                lat=30.661,
                capacity_per_hour=300,
            ),
        )
        far = sites.create_site(
            session=s,
            actor=HQ,
            data=sites.SiteCreate(
                code="S-QY-01", name="宽巷子采样点", area_code="510105001001", lon=104.05, lat=30.67
            ),
        )
        out["site"], out["far_site"] = site.id, far.id
        for code in ("LAB-A", "LAB-B"):
            sites.create_lab(
                session=s, actor=HQ, data=sites.LabCreate(code=code, name=code, area_code="5101")
            )
    out["lab_a"] = users.create("lab_a", "lab_staff", area="5101")
    out["lab_b"] = users.create("lab_b", "lab_staff", area="5101")
    with factory.begin() as s:
        sites.add_lab_member(session=s, actor=HQ, lab_code="LAB-A", username="lab_a")
        sites.add_lab_member(session=s, actor=HQ, lab_code="LAB-B", username="lab_b")
    return out
