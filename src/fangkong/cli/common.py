"""Shared CLI plumbing: settings, engine, the unit of work, who is acting, output."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor, system_actor
from fangkong.config import Settings, get_settings


def settings() -> Settings:
    return get_settings()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    from fangkong.db.engine import make_engine
    from fangkong.db.session import make_session_factory
    from fangkong.db.session import unit_of_work as uow

    engine = make_engine(settings())
    try:
        with uow(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def actor_for(session: Session, username: str | None) -> Actor:
    """`--as USER` acts as that account (its roles and jurisdiction); otherwise the operator
    at the console acts as the system, named after their OS account in the audit trail."""
    if username:
        from fangkong.auth import service as auth

        user = auth.get_user(session, username)
        if user.disabled:
            from fangkong.errors import Forbidden

            raise Forbidden(f"account {username} is disabled")
        return auth.actor_of(user)
    try:
        who = getpass.getuser()
    except Exception:  # no login name in some containers
        who = "operator"
    return system_actor(f"cli:{who}")


AsUser = typer.Option(None, "--as", help="act as this account (its roles and jurisdiction)")
Format = typer.Option("table", "--format", help="table or json")


def output(
    rows: Sequence[dict[str, Any]] | dict[str, Any], fmt: str, columns: Sequence[str] | None = None
) -> None:
    if fmt == "json":
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    if isinstance(rows, dict):
        for k, v in rows.items():
            typer.echo(f"{k}: {v}")
        return
    if not rows:
        typer.echo("(none)")
        return
    cols = list(columns or rows[0].keys())
    widths = {c: max(_w(c), *(_w(str(r.get(c, ""))) for r in rows)) for c in cols}
    typer.echo("  ".join(_pad(c, widths[c]) for c in cols))
    for r in rows:
        typer.echo(
            "  ".join(_pad(str(r.get(c, "") if r.get(c) is not None else ""), widths[c]) for c in cols)
        )


def _w(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _w(text))
