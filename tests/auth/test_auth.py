"""Logins, tokens, lock-out, rate limiting, disabled accounts, jurisdiction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from fangkong.audit.models import AuditEntry
from fangkong.auth import service as auth
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, can, jurisdiction_filter
from fangkong.auth.models import AuthSession, User
from fangkong.auth.passwords import check_strength
from fangkong.auth.roles import ACTIONS, ROLES
from fangkong.errors import Forbidden, Invalid
from tests.conftest import PASSWORD, login


def test_login_and_me(client: Any, areas: Any, users: Any) -> None:
    users.create("epi", "epidemiologist", area="5101")
    h = login(client, "epi")
    me = client.get("/api/v1/auth/me", headers=h).json()
    assert me["username"] == "epi" and me["roles"] == ["epidemiologist"]
    assert "person.read_pii" in me["actions"] and "user.manage" not in me["actions"]


def test_password_is_hashed_with_argon2(factory: Any, areas: Any, users: Any) -> None:
    users.create("epi", "epidemiologist")
    with factory() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "epi"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_password_then_lockout(client: Any, areas: Any, users: Any, factory: Any) -> None:
    users.create("epi", "epidemiologist")
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"username": "epi", "password": "wrong-password-1"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "epi", "password": PASSWORD})
    assert r.status_code == 401 and "locked" in r.json()["error"]["message"]
    with factory() as s:
        failures = s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed")).all()
        assert len(failures) == 5
        # The lock ends by itself.
        s.execute(update(User).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        s.commit()
    assert (
        client.post("/api/v1/auth/login", json={"username": "epi", "password": PASSWORD}).status_code == 200
    )


def test_unknown_user_same_message(client: Any, areas: Any) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever-123"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "wrong username or password"


def test_rate_limit(client: Any, areas: Any, settings: Any) -> None:
    codes = [
        client.post("/api/v1/auth/login", json={"username": f"u{i}", "password": "x1234567890"}).status_code
        for i in range(settings.login_rate_per_minute + 1)
    ]
    assert codes[-1] == 429 and set(codes[:-1]) == {401}


def test_expired_revoked_and_disabled(
    client: Any, areas: Any, users: Any, factory: Any, system: Actor
) -> None:
    users.create("epi", "epidemiologist")
    h = login(client, "epi")
    assert client.get("/api/v1/auth/me", headers=h).status_code == 200
    with factory() as s:
        s.execute(update(AuthSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        s.commit()
    r = client.get("/api/v1/auth/me", headers=h)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    h = login(client, "epi")
    assert client.post("/api/v1/auth/logout", headers=h).status_code == 204
    r = client.get("/api/v1/auth/me", headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]

    h = login(client, "epi")
    with factory.begin() as s:
        auth.set_disabled(session=s, actor=system, username="epi", disabled=True)
    assert client.get("/api/v1/auth/me", headers=h).status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "epi", "password": PASSWORD})
    assert r.status_code == 401 and "disabled" in r.json()["error"]["message"]


def test_password_strength() -> None:
    for weak in ("short1", "onlyletterslong", "1234567890123"):
        with pytest.raises(Invalid):
            check_strength(weak)
    check_strength("letters-and-1")


def test_user_validation(factory: Any, areas: Any, system: Actor) -> None:
    with factory() as s:
        with pytest.raises(Invalid) as e:
            auth.create_user(
                session=s,
                actor=system,
                data=auth.NewUser(
                    username="bad name", display_name="", password=PASSWORD, roles=("wizard",), area_code="99"
                ),
            )
        fields = {d.field for d in e.value.details}
        assert fields == {"username", "roles", "area_code"}
        with pytest.raises(Invalid) as e:
            auth.create_user(
                session=s,
                actor=system,
                data=auth.NewUser(username="res", display_name="", password=PASSWORD, roles=("resident",)),
            )
        assert e.value.details[0].field == "person_id"


def test_every_role_has_some_action() -> None:
    for role in ROLES:
        assert any(role in allowed for allowed, _ in ACTIONS.values()), role


def test_authorize_jurisdiction() -> None:
    actor = Actor(user_id=1, username="cw", roles=frozenset({"community_worker"}), area_code="510104")

    class Res:
        __tablename__ = "place"
        id = 7

        def __init__(self, code: str) -> None:
            self.area_code = code

    authorize(actor, "place.read", Res("510104020001"))
    with pytest.raises(Forbidden, match="outside your jurisdiction"):
        authorize(actor, "place.read", Res("510105001001"))
    with pytest.raises(Forbidden, match="may not perform user.manage"):
        authorize(actor, "user.manage")
    assert not can(actor, "audit.read")
    with pytest.raises(KeyError):
        authorize(actor, "no.such.action")


def test_jurisdiction_filter_is_a_range(engine: Any) -> None:
    from fangkong.person.models import Person

    actor = Actor(user_id=1, username="x", roles=frozenset({"tracer"}), area_code="5101")
    sql = str(jurisdiction_filter(actor, Person.area_code).compile(compile_kwargs={"literal_binds": True}))
    assert "'5101'" in sql and "'5102'" in sql and "LIKE" not in sql.upper()


def test_user_admin_api(client: Any, areas: Any, users: Any) -> None:
    users.create("root", "admin", area=None)
    h = login(client, "root")
    r = client.post(
        "/api/v1/users",
        headers=h,
        json={"username": "tracer1", "password": "tracer-pass-1", "roles": ["tracer"], "area_code": "510104"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["area_code"] == "510104"
    assert [u["username"] for u in client.get("/api/v1/users", headers=h).json()] == ["root", "tracer1"]
    assert client.post("/api/v1/users/tracer1/disable", headers=h).json()["disabled"] is True
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "tracer1", "password": "tracer-pass-1"}
        ).status_code
        == 401
    )
    assert client.post("/api/v1/users/tracer1/enable", headers=h).json()["disabled"] is False
    h2 = login(client, "tracer1", "tracer-pass-1")
    assert client.get("/api/v1/users", headers=h2).status_code == 403
