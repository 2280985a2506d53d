"""The `fangkong` command against the test database (the same one the fixtures use)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from fangkong.area.models import Area
from fangkong.auth.models import User
from fangkong.events.models import DomainEvent, EventHandling
from tests.conftest import PASSWORD


@pytest.fixture
def cli_app(settings: Any) -> typer.Typer:
    from fangkong.cli import main

    main._register()
    return main.app


def run(cli_app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


def test_db_current_and_upgrade(cli_app: typer.Typer, engine: Any) -> None:
    result = run(cli_app, "db", "upgrade")
    assert result.exit_code == 0 and "database at revision" in result.output
    result = run(cli_app, "db", "current")
    assert result.exit_code == 0
    current, head = result.output.split()[1], result.output.split()[3]
    assert current == head


def test_user_lifecycle(cli_app: typer.Typer, areas: Any, factory: Any, client: Any) -> None:
    result = run(
        cli_app,
        "user",
        "create",
        "zhang",
        "--role",
        "tracer",
        "--area",
        "510104000000",
        "--password",
        PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert "created zhang (tracer; area 510104)" in result.output
    result = run(cli_app, "user", "create", "gen", "--role", "auditor", "--generate")
    password = result.output.split("password: ")[1].strip()
    login = client.post("/api/v1/auth/login", json={"username": "gen", "password": password})
    assert login.status_code == 200
    listed = json.loads(run(cli_app, "user", "list", "--format", "json").output)
    assert [u["username"] for u in listed] == ["gen", "zhang"]
    assert run(cli_app, "user", "disable", "zhang").exit_code == 0
    with factory() as s:
        assert s.scalar(select(User.disabled).where(User.username == "zhang")) is True
    assert run(cli_app, "user", "enable", "zhang").exit_code == 0
    assert run(cli_app, "user", "password", "zhang", "--password", "new-password-9").exit_code == 0
    login = client.post("/api/v1/auth/login", json={"username": "zhang", "password": "new-password-9"})
    assert login.status_code == 200


def test_bad_input_is_one_line_and_exit_2(cli_app: typer.Typer, areas: Any, factory: Any) -> None:
    result = run(cli_app, "user", "create", "x", "--role", "wizard", "--area", "5101", "--password", PASSWORD)
    assert result.exit_code == 2
    assert result.output.startswith("error: invalid user") and "roles" in result.output
    with factory() as s:
        assert s.scalars(select(User)).all() == []
    result = run(cli_app, "user", "disable", "ghost")
    assert result.exit_code == 2 and "user ghost not found" in result.output


def test_acting_as_a_user_applies_their_jurisdiction(cli_app: typer.Typer, areas: Any, users: Any) -> None:
    users.create("qingyang", "admin", area="510105")
    result = run(cli_app, "area", "add", "510104021", "新社区", "--as", "qingyang")
    assert result.exit_code == 2 and "outside your jurisdiction" in result.output
    result = run(cli_app, "area", "add", "510105001", "新社区", "--as", "qingyang")
    assert result.exit_code == 0 and "510105001002 新社区 (community)" in result.output


def test_area_commands(cli_app: typer.Typer, areas: Any, factory: Any) -> None:
    result = run(cli_app, "area", "add", "510104021", "书院二社区", "--lon", "104.08", "--lat", "30.66")
    assert result.exit_code == 0 and "510104021002" in result.output
    out = json.loads(run(cli_app, "area", "list", "510104021", "--format", "json").output)
    assert [a["code"] for a in out] == ["510104021001", "510104021002"]
    out = json.loads(run(cli_app, "area", "list", "--q", "书院", "--format", "json").output)
    assert {a["name"] for a in out} >= {"书院街街道", "书院社区", "书院二社区"}


def test_area_load_one_province(cli_app: typer.Typer, factory: Any) -> None:
    result = run(cli_app, "area", "load", "--province", "11")
    assert result.exit_code == 0 and "added" in result.output
    with factory() as s:
        assert s.get(Area, "110108").name == "海淀区"
        assert s.get(Area, "5101") is None


def test_audit_list(cli_app: typer.Typer, areas: Any) -> None:
    run(cli_app, "area", "add", "510104021", "审计社区")
    rows = json.loads(run(cli_app, "audit", "list", "--format", "json", "--action", "area.create").output)
    assert len(rows) == 1 and rows[0]["resource"] == "area:510104021002"
    assert rows[0]["user"].startswith("cli:") and rows[0]["after"]["name"] == "审计社区"
    assert "area.create" in run(cli_app, "audit", "list").output


def test_worker_once(cli_app: typer.Typer, areas: Any, factory: Any) -> None:
    from fangkong.events import service as events

    seen: list[int] = []

    @events.handler("test.cli", "area.created")
    def _h(session: Any, event: DomainEvent) -> None:
        seen.append(event.id)

    try:
        run(cli_app, "area", "add", "510104021", "工作社区")
        result = run(cli_app, "worker", "--once")
        assert result.exit_code == 0 and "handled 1 event(s)" in result.output
        assert len(seen) == 1
        with factory() as s:
            assert s.scalar(select(EventHandling.status)) == "done"
        assert "handled 0 event(s)" in run(cli_app, "worker", "--once").output
    finally:
        events.unregister("test.cli")
