"""Areas: codes, the national list, local communities and grids."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from fangkong.area import codes
from fangkong.area import service as area_service
from fangkong.area.models import Area
from fangkong.area.schemas import AreaCreate
from fangkong.auth.actor import Actor
from fangkong.errors import Conflict, Forbidden, Invalid


@pytest.mark.parametrize(
    "raw,short",
    [
        ("51", "51"),
        ("510000", "51"),
        ("510100", "5101"),
        ("510104", "510104"),
        ("510104001000", "510104001"),
        ("510104000000", "510104"),
        ("510000000000", "51"),
        ("510104001001", "510104001001"),
        ("510104001001001", "510104001001001"),
        (" 5101 ", "5101"),
        ("510104.0", "510104"),
    ],
)
def test_normalize(raw: str, short: str) -> None:
    assert codes.normalize(raw) == short


@pytest.mark.parametrize("raw", ["", "5", "51a", "5101041", "abc", None, "51010400100"])
def test_normalize_rejects(raw: Any) -> None:
    with pytest.raises(Invalid):
        codes.normalize(raw)


def test_levels_and_parents() -> None:
    assert [
        codes.level_of(c) for c in ("51", "5101", "510104", "510104001", "510104001001", "510104001001001")
    ] == list(codes.LEVELS)
    assert codes.parent_of("510104001001001") == "510104001001"
    assert codes.parent_of("51") is None
    assert codes.statistical_code("510104001") == "510104001000"


def test_subtree_bounds() -> None:
    assert codes.subtree_bounds("5101") == ("5101", "5102")
    assert codes.subtree_bounds("5199") == ("5199", "52")
    assert codes.subtree_bounds("99") == ("99", None)


def test_load_national_is_complete_and_idempotent(session: Any, system: Actor) -> None:
    first = area_service.load_national(session=session, actor=system)
    session.commit()
    assert first["inserted"] == 31 + 3 + 342 + 2978 + 41352
    levels = dict(session.execute(select(Area.level, func.count()).group_by(Area.level)).all())
    assert levels == {"province": 34, "city": 342, "county": 2978, "township": 41352}
    chengdu = session.get(Area, "5101")
    assert chengdu.name == "成都市" and chengdu.parent_code == "51"
    again = area_service.load_national(session=session, actor=system)
    assert again["inserted"] == 0 and again["renamed"] == 0
    orphans = session.scalar(
        select(func.count())
        .select_from(Area)
        .where(Area.parent_code.is_not(None), ~Area.parent_code.in_(select(Area.code)))
    )
    assert orphans == 0


def test_load_one_province(session: Any, system: Actor) -> None:
    result = area_service.load_national(session=session, actor=system, provinces=["51"])
    assert session.scalar(select(func.count()).select_from(Area).where(~Area.code.startswith("51"))) == 0
    assert result["inserted"] > 3000


def test_load_refuses_bad_source(session: Any, system: Actor, tmp_path: Any) -> None:
    (tmp_path / "provinces.csv").write_text('code,name\n5x,"坏"\n', encoding="utf-8")
    with pytest.raises(Invalid, match="provinces.csv"):
        area_service.load_national(session=session, actor=system, source=tmp_path)


def test_local_communities_and_grids(session: Any, areas: Any, system: Actor) -> None:
    c = area_service.create_local(
        session=session, actor=system, data=AreaCreate(parent_code="510104021", name="新社区")
    )
    assert (c.code, c.level) == ("510104021002", "community")
    g = area_service.create_local(
        session=session, actor=system, data=AreaCreate(parent_code=c.code, name="一网格")
    )
    assert (g.code, g.level) == ("510104021002001", "grid")
    explicit = area_service.create_local(
        session=session,
        actor=system,
        data=AreaCreate(parent_code="510104021000", name="指定", code="510104021050"),
    )
    assert explicit.code == "510104021050" and explicit.parent_code == "510104021"
    with pytest.raises(Invalid, match="under a township"):
        area_service.create_local(
            session=session, actor=system, data=AreaCreate(parent_code="510104", name="x")
        )
    with pytest.raises(Invalid):
        area_service.create_local(
            session=session,
            actor=system,
            data=AreaCreate(parent_code="510104021", name="y", code="510105001099"),
        )
    with pytest.raises(Conflict):
        area_service.create_local(
            session=session, actor=system, data=AreaCreate(parent_code="510104021", name="新社区")
        )
    outsider = Actor(user_id=None, username="o", roles=frozenset({"admin"}), area_code="510105")
    with pytest.raises(Forbidden):
        area_service.create_local(
            session=session, actor=outsider, data=AreaCreate(parent_code="510104021", name="z")
        )


def test_path_and_full_name(session: Any, areas: Any) -> None:
    assert [a.code for a in area_service.path(session=session, code="510104020001001")] == [
        "51",
        "5101",
        "510104",
        "510104020",
        "510104020001",
        "510104020001001",
    ]
    assert (
        area_service.full_name(session=session, code="510104020001") == "四川省成都市锦江区春熙路街道和平社区"
    )
