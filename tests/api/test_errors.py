"""One JSON error shape for every error the API returns."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import login


def assert_shape(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "details"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    for d in err["details"]:
        assert "field" in d and "reason" in d
    return err


def test_unauthenticated(client: Any) -> None:
    err = assert_shape(client.get("/api/v1/persons"), 401, "unauthenticated")
    assert "log in" in err["message"]


@pytest.mark.parametrize("token", ["forged", "x" * 43, "", "Bearer"])
def test_forged_token(client: Any, token: str) -> None:
    assert_shape(
        client.get("/api/v1/persons", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated"
    )


def test_not_found_route_and_record(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="5101")
    h = login(client, "cw")
    assert_shape(client.get("/api/v1/nowhere", headers=h), 404, "not_found")
    assert_shape(client.get("/api/v1/persons/4242", headers=h), 404, "not_found")


def test_method_not_allowed(client: Any) -> None:
    assert_shape(client.put("/api/v1/auth/login", json={}), 405, "method_not_allowed")


def test_validation_names_fields(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="5101")
    h = login(client, "cw")
    resp = client.post(
        "/api/v1/persons",
        headers=h,
        json={
            "name": "李四",
            "area_code": "510104020001",
            "id_number": "510104198506010021",
            "phone": "12345",
        },
    )
    err = assert_shape(resp, 422, "invalid")
    fields = {d["field"] for d in err["details"]}
    assert {"id_number", "phone"} <= fields


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"null", b'{"name": 5}', "姓名".encode()])
def test_malformed_json(client: Any, areas: Any, users: Any, body: bytes) -> None:
    users.create("cw", "community_worker", area="5101")
    h = login(client, "cw") | {"Content-Type": "application/json"}
    assert_shape(client.post("/api/v1/persons", headers=h, content=body), 422, "invalid")


def test_bad_path_and_query_parameters(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="5101")
    h = login(client, "cw")
    assert_shape(client.get("/api/v1/persons/abc", headers=h), 422, "invalid")
    assert_shape(client.get("/api/v1/persons/99999999999999999999", headers=h), 422, "invalid")
    assert_shape(client.get("/api/v1/persons?limit=0", headers=h), 422, "invalid")
    assert_shape(client.get("/api/v1/persons?area_code=abc", headers=h), 422, "invalid")
    assert_shape(client.get("/api/v1/persons?key_group=nobody", headers=h), 422, "invalid")
    assert_shape(client.get("/api/v1/areas/xyz", headers=h), 422, "invalid")


def test_forbidden(client: Any, areas: Any, users: Any) -> None:
    users.create("lab", "lab_staff", area="5101")
    err = assert_shape(client.get("/api/v1/persons", headers=login(client, "lab")), 403, "forbidden")
    assert "person.read" in err["message"]


def test_conflict(client: Any, areas: Any, users: Any) -> None:
    users.create("admin1", "admin", area=None)
    h = login(client, "admin1")
    body = {"parent_code": "510104020", "name": "新社区"}
    assert client.post("/api/v1/areas", headers=h, json=body).status_code == 201
    assert_shape(client.post("/api/v1/areas", headers=h, json=body), 409, "conflict")


@pytest.mark.parametrize("how", ["query", "json", "path"])
def test_nul_characters_are_refused(client: Any, areas: Any, users: Any, how: str) -> None:
    users.create("cw", "community_worker", area="5101")
    h = login(client, "cw")
    if how == "query":
        resp = client.get("/api/v1/persons?q=%00abc", headers=h)
    elif how == "json":
        resp = client.post("/api/v1/persons", headers=h, json={"name": "a\x00b", "area_code": "510104020001"})
    else:
        resp = client.get("/api/v1/areas/51%00", headers=h)
    err = assert_shape(resp, 422, "invalid")
    assert "NUL" in err["message"]
