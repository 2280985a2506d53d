"""The `fangkong` command. Sub-commands import their modules lazily (fast start-up)."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from fangkong.errors import FangkongError


class _Group(TyperGroup):
    """Every expected error becomes one line on stderr and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except FangkongError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    help="fangkong 防控 — epidemic prevention and control command platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    from fangkong.cli import accounts, admin, cases, dataio, movement, policy, serve, testing, trace

    admin.register(app)
    accounts.register(app)
    dataio.register(app)
    policy.register(app)
    trace.register(app)
    cases.register(app)
    movement.register(app)
    testing.register(app)
    serve.register(app)
    _registered = True


def main() -> None:
    _register()
    app()
