"""`fangkong db …`, `fangkong area …`, `fangkong worker`."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from fangkong.cli.common import (
    AsUser,
    Format,
    actor_for,
    output,
    settings,
    unit_of_work,
)

db_app = typer.Typer(help="Create or migrate the database.", no_args_is_help=True)
area_app = typer.Typer(help="Administrative areas.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Create the database or migrate it to the newest schema."""
    from fangkong.db import migrate
    from fangkong.db.engine import make_engine

    engine = make_engine(settings())
    migrate.upgrade(engine, revision)
    typer.echo(
        f"database at revision {migrate.current_revision(engine)} "
        f"({engine.url.render_as_string(hide_password=True)})"
    )
    engine.dispose()


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the newest one."""
    from fangkong.db import migrate
    from fangkong.db.engine import make_engine

    engine = make_engine(settings())
    typer.echo(f"current: {migrate.current_revision(engine)}  head: {migrate.head_revision(engine)}")
    engine.dispose()


@area_app.command("load")
def area_load(
    source: Path | None = typer.Option(
        None,
        help="folder with provinces.csv, cities.csv, areas.csv, "
        "streets.csv (default: the copy shipped with fangkong)",
    ),
    province: list[str] = typer.Option([], "--province", help="load only these 2-digit provinces"),
    as_user: str | None = AsUser,
) -> None:
    """Load the national division list (province → township); safe to run again."""
    from fangkong.area import service as areas

    with unit_of_work() as session:
        result = areas.load_national(
            session=session, actor=actor_for(session, as_user), source=source, provinces=province
        )
    typer.echo(f"areas: {result['inserted']} added, {result['renamed']} renamed, {result['total']} in all")


@area_app.command("add")
def area_add(
    parent: str = typer.Argument(
        ..., help="township code (adds a community) or community code (adds a grid)"
    ),
    name: str = typer.Argument(...),
    code: str | None = typer.Option(None, help="full code; assigned when omitted"),
    lon: float | None = None,
    lat: float | None = None,
    as_user: str | None = AsUser,
) -> None:
    """Add a community under a township or a grid under a community."""
    from fangkong.area import service as areas
    from fangkong.area.schemas import AreaCreate

    with unit_of_work() as session:
        area = areas.create_local(
            session=session,
            actor=actor_for(session, as_user),
            data=AreaCreate(parent_code=parent, name=name, code=code, lon=lon, lat=lat),
        )
        typer.echo(f"{area.code} {area.name} ({area.level})")


@area_app.command("list")
def area_list(
    parent: str | None = typer.Argument(None, help="list the children of this area (default: provinces)"),
    q: str | None = typer.Option(None, help="search by name instead"),
    fmt: str = Format,
) -> None:
    """List areas: the children of PARENT, or those whose name contains --q."""
    from fangkong.area import service as areas

    with unit_of_work() as session:
        actor = actor_for(session, None)
        rows = (
            areas.search(session=session, actor=actor, q=q, limit=200)
            if q
            else areas.children(session=session, actor=actor, code=parent)
        )
        output([{"code": a.code, "name": a.name, "level": a.level} for a in rows], fmt)


def worker(
    interval: float = typer.Option(1.0, help="seconds between polls"),
    once: bool = typer.Option(False, help="handle what is pending, then exit"),
) -> None:
    """Run the domain-event handlers and the periodic jobs (production: run this beside the
    web server)."""
    from fangkong.db.engine import make_engine
    from fangkong.db.session import make_session_factory
    from fangkong.events import service as events
    from fangkong.events.registry import load_handlers
    from fangkong.jobs import PeriodicRunner

    load_handlers()
    factory = make_session_factory(make_engine(settings()))
    periodic = PeriodicRunner()
    while True:
        ran = events.run_pending(factory)
        jobs = periodic.run_due(factory)
        if once:
            typer.echo(f"handled {ran} event(s); ran {', '.join(jobs) or 'no periodic jobs'}")
            return
        if not ran:
            time.sleep(interval)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(area_app, name="area")
    app.command("worker")(worker)
