"""Rules that keep the codebase simple (see docs/architecture.md)."""

from __future__ import annotations

import ast
import json
from importlib import resources
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "fangkong"
PURE = ("policy", "tracing", "analysis")
ADAPTERS = ("fangkong.api", "fangkong.web", "fangkong.cli")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _modules(*skip_dirs: str) -> list[Path]:
    return [p for p in SRC.rglob("*.py") if not any(part in skip_dirs for part in p.relative_to(SRC).parts)]


def test_services_never_commit() -> None:
    """Only adapters (api, web, cli), the unit of work, the event and job runners and the demo
    builder commit."""
    allowed = {"db/session.py", "events/service.py", "jobs.py"}
    offenders = []
    for path in _modules("api", "web", "cli", "demo", "migrations"):
        rel = str(path.relative_to(SRC))
        if rel in allowed or path.name == "router.py":
            continue
        if ".commit()" in path.read_text("utf-8"):
            offenders.append(rel)
    assert offenders == []


def test_domain_code_does_not_import_adapters() -> None:
    offenders = []
    for path in _modules("api", "web", "cli", "migrations"):
        if path.name == "router.py":
            continue  # routers are the API adapter of their domain
        bad = {m for m in _imports(path) if m.startswith(ADAPTERS)}
        if bad:
            offenders.append((str(path.relative_to(SRC)), sorted(bad)))
    assert offenders == []


def test_pure_libraries_stay_pure() -> None:
    """policy/, tracing/, analysis/ and the pure helpers never touch storage or adapters."""
    pure_files = [
        SRC / f
        for f in (
            "privacy.py",
            "area/codes.py",
            "area/historical.py",
            "person/identity.py",
            "unit/credit_code.py",
        )
    ]
    for package in PURE:
        pure_files += list((SRC / package).rglob("*.py"))
    forbidden = ("fangkong.db", "fangkong.api", "fangkong.web", "fangkong.cli", "sqlalchemy", "fastapi")
    offenders = {
        str(p.relative_to(SRC)): sorted(m for m in _imports(p) if m.startswith(forbidden)) for p in pure_files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(SRC)): n
        for p in _modules("migrations")
        if (n := len(p.read_text("utf-8").splitlines())) > 600
    }
    assert big == {}


def test_catalogues_have_the_same_keys() -> None:
    zh = json.loads(resources.files("fangkong.i18n").joinpath("zh-CN.json").read_text("utf-8"))
    en = json.loads(resources.files("fangkong.i18n").joinpath("en.json").read_text("utf-8"))
    assert set(zh) == set(en)
    assert all(v.strip() for v in [*zh.values(), *en.values()])


def test_every_code_has_a_label() -> None:
    from fangkong.area.codes import LEVELS
    from fangkong.auth.roles import ROLES
    from fangkong.i18n import catalogue
    from fangkong.person.key_groups import KEY_GROUPS
    from fangkong.place.categories import PLACE_CATEGORIES
    from fangkong.unit.categories import UNIT_CATEGORIES

    assert len(PLACE_CATEGORIES) == 20 and len(UNIT_CATEGORIES) == 14 and len(KEY_GROUPS) == 16
    keys = set(catalogue("zh-CN"))
    wanted = (
        [f"place_category.{c}" for c in PLACE_CATEGORIES]
        + [f"unit_category.{c}" for c in UNIT_CATEGORIES]
        + [f"key_group.{c}" for c in KEY_GROUPS]
        + [f"role.{r}" for r in ROLES]
        + [f"area_level.{lv}" for lv in LEVELS]
    )
    assert [k for k in wanted if k not in keys] == []


def test_templates_use_only_known_keys() -> None:
    import re

    from fangkong.i18n import catalogue

    keys = set(catalogue("zh-CN"))
    templates = SRC / "web" / "templates"
    used = set()
    for path in templates.glob("*.html"):
        used |= set(re.findall(r"(?<![\w.])t\('([a-z_.]+)'", path.read_text("utf-8")))
    for path in (SRC / "web").glob("*.py"):
        used |= set(
            re.findall(
                r'"((?:nav|home|list|person|place|unit|user|audit|area|login|action|error)\.[a-z_.]+)"',
                path.read_text("utf-8"),
            )
        )
    from fangkong.auth.roles import ACTIONS

    used = {k for k in used if not k.endswith(".") and not k.endswith(".html") and k not in ACTIONS}
    assert sorted(used - keys) == []
