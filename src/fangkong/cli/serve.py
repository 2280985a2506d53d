"""`fangkong serve`, `fangkong demo`, `fangkong assets install`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from fangkong.cli.common import settings

assets_app = typer.Typer(help="Front-end libraries (from the npm registry).", no_args_is_help=True)


@assets_app.command("install")
def assets_install(force: bool = typer.Option(False, help="download again even if present")) -> None:
    """Download the locked front-end libraries and check their integrity."""
    from fangkong.web import assets

    done = assets.install(force=force)
    typer.echo("installed: " + ", ".join(done) if done else "front-end libraries already installed")


def serve(
    host: str | None = typer.Option(None),
    port: int | None = typer.Option(None),
    worker: bool = typer.Option(True, help="run event handlers in the server process"),
    workers: int = typer.Option(1, min=1, max=64, help="server processes (use the CPU cores)"),
) -> None:
    """Serve the API and the web pages."""
    _serve(host, port, worker, workers)


def _serve(host: str | None, port: int | None, worker: bool, workers: int = 1) -> None:
    import uvicorn

    from fangkong.api.app import create_app
    from fangkong.web import assets

    s = settings()
    if assets.missing():
        typer.echo("warning: front-end libraries missing; run `fangkong assets install`", err=True)
    h, p = host or s.host, port or s.port
    typer.echo(f"fangkong serving on http://{h}:{p}  (API docs: http://{h}:{p}/docs)")
    if workers > 1:  # each process builds the app from the same settings (environment)
        import os

        os.environ["FANGKONG_INPROCESS_WORKER"] = "true" if worker else "false"
        uvicorn.run(
            "fangkong.api.app:create_app", factory=True, host=h, port=p, workers=workers, log_level="warning"
        )
        return
    app = create_app(s, worker=worker)
    uvicorn.run(app, host=h, port=p, log_level="warning")


def demo(
    size: int = typer.Option(100_000, min=100, help="residents"),
    seed: int = typer.Option(20221101, help="random seed (same seed → same city)"),
    end_date: str | None = typer.Option(
        None, help="last day of the 14 days of movement (YYYY-MM-DD; default today)"
    ),
    reset: bool = typer.Option(False, help="delete the demo database and build it again"),
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="serve when built"),
    outbreak: bool = typer.Option(True, "--outbreak/--no-outbreak", help="seed cases, chains and contacts"),
    testing: bool = typer.Option(
        True, "--testing/--no-testing", help="seed sites, a lab and a testing round"
    ),
    host: str | None = typer.Option(None),
    port: int | None = typer.Option(None),
) -> None:
    """Build the synthetic demo city (Chengdu) with accounts for every role, and serve it."""
    import time

    from sqlalchemy import func, select

    from fangkong.area import service as areas
    from fangkong.auth.actor import system_actor
    from fangkong.db import migrate
    from fangkong.db.engine import make_engine
    from fangkong.db.session import make_session_factory, unit_of_work
    from fangkong.demo.accounts import create_accounts
    from fangkong.demo.city import build_city
    from fangkong.person.models import Person
    from fangkong.web import assets

    s = settings()
    if assets.missing():
        assets.install()
    db_url = s.resolved_database_url
    if reset and db_url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(db_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    engine = make_engine(s)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        built = (session.scalar(select(func.count()).select_from(Person)) or 0) > 0
    if built and not reset:
        typer.echo(
            "The demo city is already built in this database (accounts were printed when it "
            "was built; `fangkong demo --reset` builds it again with new accounts)."
        )
    else:
        started = time.perf_counter()
        with unit_of_work(factory) as session:
            areas.load_national(session=session, actor=system_actor("demo"))
        end = dt.date.fromisoformat(end_date) if end_date else dt.datetime.now(s.tz).date()
        stats = build_city(
            engine,
            s.resolved_movement_dir,
            size=size,
            seed=seed,
            end_date=end,
            progress=lambda msg: typer.echo(f"  {msg}"),
        )
        with unit_of_work(factory) as session:
            accounts = create_accounts(session)
            _activate_demo_profile(session)
        if outbreak:
            from fangkong.contact.movement import default as movement_store
            from fangkong.demo import outbreak as demo_outbreak

            seeded = demo_outbreak.seed(
                factory, movement_store(s), end_date=end, progress=lambda msg: typer.echo(f"  {msg}")
            )
            typer.echo(
                f"  outbreak: {seeded.cases} cases, {seeded.links} transmission links, "
                f"{seeded.listed} contacts listed, {seeded.confirmed} confirmed"
            )
        if testing:
            from fangkong.demo import testing as demo_testing

            t = demo_testing.seed(factory, day=end - dt.timedelta(days=1))
            typer.echo(
                f"  testing: {t.sites} sampling sites, a round of {t.expected:,} expected, {t.swabs:,} swabs "
                f"in {t.tubes:,} tubes, {t.reported:,} reported, {t.positive_pools} positive pool(s)"
            )
        typer.echo(
            f"demo city built in {time.perf_counter() - started:.1f} s: {stats.persons:,} persons in "
            f"{stats.households:,} households, {stats.communities:,} communities, {stats.grids:,} grids, "
            f"{stats.units:,} units, {stats.places:,} venues, {stats.stays:,} stays, "
            f"{stats.checkins:,} check-ins"
        )
        typer.echo("\nDemo accounts (shown only now; `fangkong user password NAME` sets a new one):")
        for a in accounts:
            typer.echo(f"  {a.username:<20} {a.password:<20} area {a.area_code or 'all'}")
    engine.dispose()
    if serve_after:
        _serve(host, port, True)


def _activate_demo_profile(session: Any) -> None:
    """The demo city runs under the 9th edition (switch with `fangkong policy activate`)."""
    from pathlib import Path

    from fangkong.auth.actor import system_actor
    from fangkong.policy import loader
    from fangkong.policy_profile import service as profiles

    loaded = loader.load_shipped("cn-9th")
    profiles.activate(
        session=session,
        actor=system_actor("demo"),
        loaded=loaded,
        source_text=Path(loaded.path).read_text("utf-8"),
        effective_from=dt.date(2022, 6, 28),
        as_of=dt.datetime.now(dt.UTC),
        note="demo",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(assets_app, name="assets")
    app.command("serve")(serve)
    app.command("demo")(demo)
