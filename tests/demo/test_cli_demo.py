"""`fangkong demo --no-serve`: builds the city into the configured database and prints one
account per role, once."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

from fangkong.auth.roles import ROLES
from fangkong.person.models import Person


def test_demo_builds_city_and_accounts(settings: Any, factory: Any, client: Any, tmp_path: Any) -> None:
    from fangkong.cli import main

    main._register()
    result = CliRunner().invoke(main.app, ["demo", "--size", "400", "--no-serve", "--end-date", "2022-11-01"])
    assert result.exit_code == 0, result.output
    accounts = dict(re.findall(r"^  (\w+)\s+(\S+)\s+area", result.output, re.M))
    assert set(accounts) == set(ROLES)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 400
    login = client.post(
        "/api/v1/auth/login", json={"username": "community_worker", "password": accounts["community_worker"]}
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    items = client.get("/api/v1/persons", headers=headers).json()["items"]
    assert items and all(p["area_code"].startswith(login.json()["user"]["area_code"]) for p in items)
    again = CliRunner().invoke(main.app, ["demo", "--size", "400", "--no-serve"])
    assert again.exit_code == 0 and "already built" in again.output
