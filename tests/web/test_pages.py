"""Server-rendered pages: login with CSRF, landing per role, masked lists, unmasking with a
reason, language switch, jurisdiction."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from fangkong.audit.models import AuditEntry
from fangkong.auth.roles import ROLES
from tests.conftest import PASSWORD, login, person_payload


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def web_login(client: Any, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": _csrf(page.text), "next": "/"},
        follow_redirects=False,
    )


def test_pages_need_login(client: Any) -> None:
    resp = client.get("/persons", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=%2Fpersons"


def test_login_requires_csrf(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="510104")
    client.get("/login")
    resp = client.post(
        "/login",
        data={"username": "cw", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert resp.status_code == 400 and "fk_session" not in resp.cookies


def test_login_wrong_password(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="510104")
    resp = web_login(client, "cw", "nope-nope-1")
    assert resp.status_code == 401 and "wrong username or password" in resp.text


@pytest.mark.parametrize("role", ROLES)
def test_landing_page_per_role(client: Any, areas: Any, users: Any, factory: Any, role: str) -> None:
    person_id = None
    if role == "resident":
        headers_user = users.create("registrar", "community_worker", area="5101")
        from fangkong.person import service as persons
        from fangkong.person.schemas import PersonCreate

        with factory.begin() as s:
            person_id = persons.create(
                session=s, actor=headers_user, data=PersonCreate(**person_payload())
            ).id
    users.create(
        "u", role, area=None if role in ("admin", "auditor", "resident") else "5101", person_id=person_id
    )
    assert web_login(client, "u").status_code == 303
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="whoami"' in page.text
    if role == "resident":
        assert "张三丰" in page.text  # their own record, unmasked
        assert 'href="/persons"' not in page.text
    if role in ("commander", "community_worker"):
        assert 'id="figure-persons"' in page.text


def test_person_list_is_masked_and_unmask_is_audited(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="510104")
    api = login(client, "cw")
    pid = client.post("/api/v1/persons", json=person_payload(), headers=api).json()["person"]["id"]
    web_login(client, "cw")
    page = client.get("/persons?q=张")
    assert page.status_code == 200
    assert "张*丰" in page.text and "张三丰" not in page.text
    assert "5101**********" in page.text and "13800138000" not in page.text
    detail = client.get(f"/persons/{pid}")
    assert 'id="unmask-form"' in detail.text
    refused = client.post(f"/persons/{pid}/unmask", data={"reason": "核对身份", "csrf_token": "bad"})
    assert refused.status_code == 403
    shown = client.post(
        f"/persons/{pid}/unmask", data={"reason": "核对身份", "csrf_token": _csrf(detail.text)}
    )
    assert shown.status_code == 200 and "张三丰" in shown.text and "13800138000" in shown.text
    with client.app.state.session_factory() as s:
        reasons = s.scalars(select(AuditEntry.reason).where(AuditEntry.action == "person.read_pii")).all()
    assert reasons == ["核对身份"]


def test_language_switch(client: Any, areas: Any, users: Any) -> None:
    users.create("cmd", "commander", area="5101")
    web_login(client, "cmd")
    assert "人员" in client.get("/").text
    client.get("/lang?to=en&next=/")
    page = client.get("/")
    assert "Persons" in page.text and '<html lang="en">' in page.text
    client.get("/lang?to=zh-CN&next=/")
    assert '<html lang="zh-CN">' in client.get("/").text
    # the switch keeps the page's query (a chosen site, a search) and goes nowhere else
    page = client.get("/persons?q=abc&page=2")
    assert 'next=/persons%3Fq%3Dabc%26page%3D2"' in page.text
    back = client.get("/lang?to=en&next=/persons%3Fq%3Dabc%26page%3D2", follow_redirects=False)
    assert back.headers["location"] == "/persons?q=abc&page=2"
    for bad in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        gone = client.get("/lang", params={"to": "en", "next": bad}, follow_redirects=False)
        assert gone.headers["location"] == "/"


def test_registry_pages(client: Any, areas: Any, users: Any) -> None:
    users.create("cmd", "commander", area="5101")
    api = login(client, "cmd")
    client.post(
        "/api/v1/units",
        headers=api,
        json={"name": "锦江建筑公司", "category": "construction", "area_code": "510104020001"},
    )
    web_login(client, "cmd")
    assert "锦江建筑公司" in client.get("/units").text
    assert "建筑业" in client.get("/units?category=construction").text
    areas_page = client.get("/areas")
    assert "锦江区" in areas_page.text and "青羊区" in areas_page.text
    assert client.get("/audit").status_code == 403


def test_error_page_outside_jurisdiction(client: Any, areas: Any, users: Any) -> None:
    users.create("admin1", "admin", "community_worker", area=None)
    api = login(client, "admin1")
    pid = client.post("/api/v1/persons", json=person_payload(area_code="110105001"), headers=api).json()[
        "person"
    ]["id"]
    users.create("cw", "community_worker", area="510104")
    web_login(client, "cw")
    page = client.get(f"/persons/{pid}")
    assert page.status_code == 403 and "jurisdiction" in page.text and 'id="error"' in page.text


def test_logout_requires_csrf_and_ends_session(client: Any, areas: Any, users: Any) -> None:
    users.create("cmd", "commander", area="5101")
    web_login(client, "cmd")
    home = client.get("/")
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    client.post("/logout", data={"csrf_token": _csrf(home.text)}, follow_redirects=False)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_api_with_session_cookie_needs_csrf_header_for_changes(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="510104")
    web_login(client, "cw")
    assert client.get("/api/v1/persons").status_code == 200  # reads need no token
    body = person_payload()
    assert client.post("/api/v1/persons", json=body).status_code == 403
    token = _csrf(client.get("/").text)
    assert client.post("/api/v1/persons", json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_policy_page_preview_and_activate(client: Any, areas: Any, users: Any) -> None:
    users.create("cmd", "commander", area="5101")
    web_login(client, "cmd")
    page = client.get("/policy")
    assert page.status_code == 200 and "尚未启用防控方案" in page.text and "cn-9th" in page.text
    token = _csrf(page.text)
    preview = client.post(
        "/policy/preview", data={"profile_id": "cn-9th", "effective_from": "2022-06-28", "csrf_token": token}
    )
    assert preview.status_code == 200 and 'id="preview"' in preview.text and "在管0人" in preview.text
    done = client.post(
        "/policy/activate",
        data={
            "profile_id": "cn-9th",
            "effective_from": "2022-06-28",
            "csrf_token": token,
            "note": "按第九版执行",
        },
    )
    assert done.status_code == 200  # redirected back to /policy
    assert "新型冠状病毒肺炎防控方案（第九版）" in done.text and "按第九版执行" in done.text


def test_person_page_assign_and_explain(client: Any, areas: Any, users: Any) -> None:
    users.create("cmd", "commander", area="5101")
    users.create("epi", "epidemiologist", area="5101")
    h = login(client, "cmd")
    client.post(
        "/api/v1/policy/activations", headers=h, json={"profile_id": "cn-9th", "effective_from": "2022-06-28"}
    )
    pid = client.post("/api/v1/persons", headers=login(client, "epi"), json=person_payload()).json()[
        "person"
    ]["id"]
    web_login(client, "epi")
    page = client.get(f"/persons/{pid}")
    assert 'id="assign-form"' in page.text and "目前没有管控措施" in page.text
    done = client.post(
        f"/persons/{pid}/categories",
        data={
            "category": "close_contact",
            "clock_at": "2026-11-20",
            "setting": "venue",
            "place": "春熙路商场",
            "csrf_token": _csrf(page.text),
        },
    )
    assert done.status_code == 200
    assert "集中隔离医学观察" in done.text and "2026-11-21" in done.text and "春熙路商场" in done.text
    assert "红码" in done.text
