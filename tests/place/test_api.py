"""Venues, units and households through the API: CRUD, validation, references,
jurisdiction, permissions, audit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fangkong.audit.models import AuditEntry
from fangkong.unit.credit_code import check_char
from tests.conftest import login, person_payload


def credit(seed: str) -> str:
    first17 = ("91510104" + seed).ljust(17, "0")[:17]
    return first17 + check_char(first17)


@pytest.fixture
def cw(client: Any, areas: Any, users: Any) -> dict[str, str]:
    users.create("cw", "community_worker", area="510104")
    return login(client, "cw")


def test_unit_crud_and_credit_code(client: Any, cw: dict[str, str], factory: Any) -> None:
    code = credit("MA6C")
    r = client.post(
        "/api/v1/units",
        headers=cw,
        json={
            "name": "锦江物业",
            "category": "property_management",
            "area_code": "510104020001",
            "credit_code": code.lower(),
            "contact_phone": "138 0013 8000",
        },
    )
    assert r.status_code == 201, r.text
    unit = r.json()
    assert unit["credit_code"] == code and unit["contact_phone"] == "13800138000"
    bad = code[:17] + ("0" if code[17] != "0" else "1")
    r = client.post(
        "/api/v1/units",
        headers=cw,
        json={"name": "x", "category": "enterprise", "area_code": "510104020001", "credit_code": bad},
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "credit_code"
    r = client.post(
        "/api/v1/units",
        headers=cw,
        json={"name": "y", "category": "enterprise", "area_code": "510104020001", "credit_code": code},
    )
    assert r.status_code == 409
    r = client.patch(f"/api/v1/units/{unit['id']}", headers=cw, json={"name": None})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "name"
    r = client.patch(f"/api/v1/units/{unit['id']}", headers=cw, json={"name": "锦江物业中心"})
    assert r.json()["name"] == "锦江物业中心"
    with factory() as s:
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "unit.update"))
        assert row.before == {"name": "锦江物业"} and row.after == {"name": "锦江物业中心"}


def test_place_crud_venue_codes_and_references(client: Any, cw: dict[str, str]) -> None:
    unit = client.post(
        "/api/v1/units",
        headers=cw,
        json={"name": "春熙商业", "category": "enterprise", "area_code": "510104020001"},
    ).json()
    r = client.post(
        "/api/v1/places",
        headers=cw,
        json={
            "name": "春熙路商场",
            "category": "shopping_mall",
            "area_code": "510104020000",
            "capacity": 5000,
            "responsible_unit_id": unit["id"],
            "lon": 104.08,
            "lat": 30.66,
        },
    )
    assert r.status_code == 201, r.text
    place = r.json()
    assert place["area_code"] == "510104020" and len(place["venue_code"]) == 12
    assert place["venue_code"].startswith("V")
    found = client.get(f"/api/v1/places?venue_code={place['venue_code'].lower()}", headers=cw).json()
    assert [p["id"] for p in found["items"]] == [place["id"]]
    r = client.post(
        "/api/v1/places",
        headers=cw,
        json={
            "name": "x",
            "category": "shopping_mall",
            "area_code": "510104020001",
            "responsible_unit_id": 999,
        },
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "responsible_unit_id"
    r = client.post(
        "/api/v1/places", headers=cw, json={"name": "x", "category": "spaceport", "area_code": "510104020001"}
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/places",
        headers=cw,
        json={"name": "x", "category": "park", "area_code": "510104020001", "lon": 104.0},
    )
    assert r.status_code == 422
    # A unit still responsible for a venue cannot be deleted; the venue can.
    assert client.delete(f"/api/v1/units/{unit['id']}", headers=cw).status_code == 409
    assert client.delete(f"/api/v1/places/{place['id']}", headers=cw).status_code == 204
    assert client.delete(f"/api/v1/units/{unit['id']}", headers=cw).status_code == 204
    assert client.get(f"/api/v1/places/{place['id']}", headers=cw).status_code == 404


def test_search_filters_and_jurisdiction(client: Any, cw: dict[str, str], users: Any) -> None:
    for name, cat, area in [
        ("甲餐厅", "restaurant", "510104020001"),
        ("乙餐厅", "restaurant", "510104021001"),
        ("丙银行", "bank", "510104020002"),
    ]:
        assert (
            client.post(
                "/api/v1/places", headers=cw, json={"name": name, "category": cat, "area_code": area}
            ).status_code
            == 201
        )
    r = client.post(
        "/api/v1/places", headers=cw, json={"name": "外区", "category": "bank", "area_code": "510105001001"}
    )
    assert r.status_code == 422 and "jurisdiction" in r.text

    def names(query: str) -> list[str]:
        return [p["name"] for p in client.get(f"/api/v1/places?{query}", headers=cw).json()["items"]]

    assert names("category=restaurant") == ["甲餐厅", "乙餐厅"]
    assert names("q=银行") == ["丙银行"]
    assert names("area_code=510104020000") == ["甲餐厅", "丙银行"]
    assert client.get("/api/v1/places?category=spaceport", headers=cw).status_code == 422
    page = client.get("/api/v1/places?limit=2", headers=cw).json()
    rest = client.get(f"/api/v1/places?limit=2&after={page['next_after']}", headers=cw).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_after"] is None
    users.create("qy", "community_worker", area="510105")
    assert client.get("/api/v1/places", headers=login(client, "qy")).json()["items"] == []


def test_permissions(client: Any, areas: Any, users: Any) -> None:
    users.create("lab", "lab_staff", area="5101")
    h = login(client, "lab")
    assert client.get("/api/v1/places", headers=h).status_code == 200
    r = client.post(
        "/api/v1/places", headers=h, json={"name": "x", "category": "bank", "area_code": "510104020001"}
    )
    assert r.status_code == 403
    assert client.get("/api/v1/households", headers=h).status_code == 403


def test_households(client: Any, cw: dict[str, str]) -> None:
    hh = client.post(
        "/api/v1/households",
        headers=cw,
        json={"area_code": "510104020001", "address": "和平社区1栋101", "external_ref": "HH-1"},
    ).json()
    assert hh["member_count"] == 0 and hh["masked"] and "101" not in hh["address"]
    assert (
        client.post(
            "/api/v1/households",
            headers=cw,
            json={"area_code": "510104020001", "address": "x", "external_ref": "HH-1"},
        ).status_code
        == 409
    )
    p = client.post(
        "/api/v1/persons", headers=cw, json=person_payload(household_id=hh["id"], household_relation="head")
    ).json()["person"]
    assert p["household_id"] == hh["id"]
    members = client.get(f"/api/v1/households/{hh['id']}/members", headers=cw).json()
    assert [m["id"] for m in members] == [p["id"]]
    assert client.get(f"/api/v1/households/{hh['id']}", headers=cw).json()["member_count"] == 1
    assert client.delete(f"/api/v1/households/{hh['id']}", headers=cw).status_code == 409
    r = client.patch(f"/api/v1/households/{hh['id']}", headers=cw, json={"address": None})
    assert r.status_code == 422
    # household_ref on a person creates the household on the fly
    p2 = client.post("/api/v1/persons", headers=cw, json=person_payload(seq=2, household_ref="HH-2")).json()
    assert p2["person"]["household_id"] is not None
