"""The documentation says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_roles_document_matches_the_registry() -> None:
    from fangkong.auth.roles import ACTIONS, ROLES

    text = (ROOT / "docs" / "roles-and-permissions.md").read_text("utf-8")
    for action, (roles, description) in ACTIONS.items():
        row = f"| `{action}` | {', '.join(r for r in ROLES if r in roles)} | {description} |"
        assert row in text, f"docs/roles-and-permissions.md is out of date for {action}"
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, re.M))
    assert documented == set(ACTIONS)
    for role in ROLES:
        assert f"| `{role}` |" in text


def test_every_cli_command_is_documented() -> None:
    import typer.main

    from fangkong.cli.main import _register, app

    _register()
    group = typer.main.get_command(app)
    text = (ROOT / "docs" / "cli.md").read_text("utf-8")
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        names += [f"fangkong {name} {sub}" for sub in subs] if subs else [f"fangkong {name}"]
    missing = [n for n in names if f"`{n}" not in text]
    assert missing == []


def test_every_configuration_setting_is_documented() -> None:
    from fangkong.config import Settings

    text = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    missing = [f for f in Settings.model_fields if f"`FANGKONG_{f.upper()}`" not in text]
    assert missing == []


def test_readme_gives_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    assert "./run demo" in text and "./run test" in text
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "./run test" in ci
