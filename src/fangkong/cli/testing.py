"""`fangkong testing …`: pool-size advice, turnaround per stage, sampling sites and their
coverage, labs, rounds (create, status, missing, next, repeat, auto-repeat, close), result files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fangkong.cli.common import AsUser, Format, actor_for, output, unit_of_work

testing_app = typer.Typer(help="Testing operations (核酸检测).", no_args_is_help=True)
site_app = typer.Typer(help="Sampling sites (采样点).", no_args_is_help=True)
lab_app = typer.Typer(help="Labs (检测机构).", no_args_is_help=True)
round_app = typer.Typer(help="Testing rounds (全员/区域核酸).", no_args_is_help=True)
results_app = typer.Typer(help="Lab results.", no_args_is_help=True)


@testing_app.command("pool-size")
def pool_size(
    prevalence: float = typer.Option(..., help="estimated prevalence, e.g. 0.01"),
    sensitivity: float = typer.Option(1.0, help="assay sensitivity (0–1]"),
    specificity: float = typer.Option(1.0, help="assay specificity (0–1]"),
    max_size: int = typer.Option(20, "--max-size", help="largest pool size considered"),
    allowed: str | None = typer.Option(None, help="only these sizes, e.g. 1,5,10,20 (the profile's)"),
    fmt: str = Format,
) -> None:
    """Dorfman two-stage pooling: the pool size with the fewest expected tests per person."""
    from fangkong.errors import invalid
    from fangkong.nat.advice import advice_dict

    sizes = None
    if allowed:
        try:
            sizes = [int(x) for x in allowed.split(",") if x.strip()]
        except ValueError:
            raise invalid("allowed", "comma-separated whole numbers", allowed) from None
    advice = advice_dict(prevalence, sensitivity, specificity, max_size, sizes)
    if fmt == "json":
        output(advice, fmt)
        return
    output({k: v for k, v in advice.items() if k != "table"}, fmt)
    typer.echo("")
    output(
        advice["table"],
        fmt,
        ["pool_size", "tests_per_person", "tests_per_pool", "pool_positive_probability", "efficiency"],
    )


@testing_app.command("turnaround")
def turnaround(
    round_id: int | None = typer.Argument(None, help="the round (or give --site)"),
    site: int | None = typer.Option(None, help="only this sampling site's tubes (site id)"),
    since: str | None = typer.Option(
        None, help="only tubes collected since, e.g. '2022-07-01 08:00' (local)"
    ),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Turnaround per stage (采 → 送 → 检 → 报) of a round's or a site's tubes: done, waiting,
    median and 90th-percentile minutes, over the profile's limits."""
    import datetime as dt

    from fangkong.errors import invalid
    from fangkong.nat import turnaround as service

    start = None
    if since:
        try:
            start = dt.datetime.fromisoformat(since)
        except ValueError:
            raise invalid("since", "a date and time, e.g. 2022-07-01 08:00", since) from None
    with unit_of_work() as session:
        data = service.summary(
            session=session, actor=actor_for(session, as_user), round_id=round_id, site_id=site, since=start
        ).as_dict()
    if fmt == "json":
        output(data, fmt)
        return
    output({k: v for k, v in data.items() if k != "stages"}, fmt)
    typer.echo("")
    output(data["stages"], fmt, ["stage", "done", "waiting", "median_min", "p90_min", "limit", "over_limit"])


@site_app.command("add")
def site_add(
    code: str,
    name: str,
    area: str = typer.Option(..., help="area code (township or community)"),
    kind: str = typer.Option("fixed", help="fixed, temporary, door_to_door, checkpoint, quarantine_site"),
    lon: float | None = None,
    lat: float | None = None,
    address: str | None = None,
    capacity: int = typer.Option(0, help="swabs per hour"),
    hours: str | None = typer.Option(None, help='e.g. "08:00-12:00,14:00-20:00"'),
    staff: int = 0,
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Register (and open) a sampling site."""
    from pydantic import ValidationError

    from fangkong.nat import sites
    from fangkong.validation import invalid_from

    try:
        data = sites.SiteCreate.model_validate(
            {
                "code": code,
                "name": name,
                "area_code": area,
                "kind": kind,
                "lon": lon,
                "lat": lat,
                "address": address,
                "capacity_per_hour": capacity,
                "hours": hours,
                "staff": staff,
            }
        )
    except ValidationError as exc:
        raise invalid_from(exc, "invalid site") from None
    with unit_of_work() as session:
        site = sites.create_site(session=session, actor=actor_for(session, as_user), data=data)
        output({"id": site.id, "code": site.code, "status": site.status}, fmt)


@site_app.command("list")
def site_list(
    area: str | None = None, status: str | None = None, as_user: str | None = AsUser, fmt: str = Format
) -> None:
    from fangkong.nat import sites

    with unit_of_work() as session:
        rows = sites.list_sites(
            session=session, actor=actor_for(session, as_user), area_code=area, status=status
        )
        output(
            [
                {
                    "id": s.id,
                    "code": s.code,
                    "name": s.name,
                    "kind": s.kind,
                    "area": s.area_code,
                    "capacity_per_hour": s.capacity_per_hour,
                    "status": s.status,
                }
                for s in rows
            ],
            fmt,
        )


@site_app.command("coverage")
def site_coverage(
    area: str = typer.Option(..., help="area code whose residents are counted"),
    radius: float = typer.Option(1200, help="walking radius in metres (15 minutes ≈ 1.2 km)"),
    suggest: int = typer.Option(0, help="suggest this many new site locations"),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Share of residents within a walk of an open site, per community; suggested new sites."""
    from fangkong.nat import site_coverage as coverage

    with unit_of_work() as session:
        result = coverage.coverage(
            session=session,
            actor=actor_for(session, as_user),
            area_code=area,
            radius_m=radius,
            suggest=suggest,
        )
    if fmt == "json":
        output(result, fmt)
        return
    output({k: v for k, v in result.items() if k not in ("communities", "suggestions")}, fmt)
    typer.echo("")
    output(result["communities"], fmt)
    if result["suggestions"]:
        typer.echo("")
        output(result["suggestions"], fmt)


@lab_app.command("add")
def lab_add(
    code: str,
    name: str,
    area: str = typer.Option(..., help="area code"),
    capacity: int = typer.Option(0, help="tubes per day"),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Register a lab."""
    from pydantic import ValidationError

    from fangkong.nat import sites
    from fangkong.validation import invalid_from

    try:
        data = sites.LabCreate.model_validate(
            {"code": code, "name": name, "area_code": area, "daily_capacity": capacity}
        )
    except ValidationError as exc:
        raise invalid_from(exc, "invalid lab") from None
    with unit_of_work() as session:
        lab = sites.create_lab(session=session, actor=actor_for(session, as_user), data=data)
        output({"id": lab.id, "code": lab.code}, fmt)


@lab_app.command("member")
def lab_member(lab: str, username: str, as_user: str | None = AsUser) -> None:
    """Let an account (with the lab_staff role) work for a lab."""
    from fangkong.nat import sites

    with unit_of_work() as session:
        sites.add_lab_member(
            session=session, actor=actor_for(session, as_user), lab_code=lab, username=username
        )
    typer.echo(f"{username} works for lab {lab}")


@round_app.command("create")
def round_create(
    name: str = typer.Option(..., help='e.g. "锦江区第1轮全员核酸"'),
    area: str = typer.Option(..., help="area code"),
    start: str = typer.Option(..., help="start time (ISO 8601; local time if no zone)"),
    deadline: str = typer.Option(..., help="deadline (ISO 8601; local time if no zone)"),
    target: str = typer.Option("everyone", help="everyone, key_groups or under_measures"),
    pool_size: int | None = typer.Option(None, "--pool-size", help="default: the profile's"),
    series: int | None = typer.Option(None, help="the first round of the series this repeats"),
    auto_repeat: bool | None = typer.Option(
        None,
        "--auto-repeat/--no-auto-repeat",
        help="the worker closes the round once its results are in and plans the next by the "
        "profile's stop rule [default: the series' setting, else on for target everyone]",
        show_default=False,
    ),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Plan a round: expected persons (with their nearest site and tube size) and the
    announcement."""
    from pydantic import ValidationError

    from fangkong.nat import rounds
    from fangkong.validation import invalid_from

    try:
        data = rounds.RoundCreate.model_validate(
            {
                "name": name,
                "area_code": area,
                "target": target,
                "start_at": start,
                "deadline_at": deadline,
                "pool_size": pool_size,
                "series_id": series,
                "auto_repeat": auto_repeat,
            }
        )
    except ValidationError as exc:
        raise invalid_from(exc, "invalid round") from None
    with unit_of_work() as session:
        r = rounds.create(session=session, actor=actor_for(session, as_user), data=data)
        output(
            {
                "id": r.id,
                "name": r.name,
                "expected": r.expected,
                "pool_size": r.default_pool_size,
                "seq": r.seq,
                "auto_repeat": r.auto_repeat,
                "announcement": r.announcement_zh,
            },
            fmt,
        )


@round_app.command("status")
def round_status(
    round_id: int, area: str | None = None, as_user: str | None = AsUser, fmt: str = Format
) -> None:
    """Progress per community: expected, sampled, missing, pending, positive; the round's place
    in its series and whether it repeats automatically."""
    from fangkong.nat import progress, rounds

    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        p = progress.progress(session=session, actor=actor, round_id=round_id, area_code=area)
        r = rounds.get(session, actor, round_id)
        series = {
            "series_id": r.series_id or r.id,
            "seq": r.seq,
            "final": r.final,
            "auto_repeat": r.auto_repeat,
        }
        data = p.as_dict()
        data = {k: data[k] for k in ("round_id", "name", "status")} | series | data
    if fmt == "json":
        output(data, fmt)
        return
    output({k: v for k, v in data.items() if k != "communities"}, fmt)
    typer.echo("")
    output(
        data["communities"],
        fmt,
        ["area_code", "area_name", "expected", "sampled", "missing", "share", "pending", "positive"],
    )


@round_app.command("missing")
def round_missing(
    round_id: int,
    area: str | None = typer.Option(None, help="only this community (or any area prefix)"),
    out: Path | None = typer.Option(None, help="write an .xlsx for community workers"),
    unmask_reason: str | None = typer.Option(
        None, "--unmask-reason", help="show names/phones unmasked (audited)"
    ),
    lang: str = "zh-CN",
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Who has not been sampled yet."""
    from fangkong.nat import progress

    with unit_of_work() as session:
        rows = progress.missing(
            session=session,
            actor=actor_for(session, as_user),
            round_id=round_id,
            area_code=area,
            unmask_reason=unmask_reason,
        )
    if out is not None:
        out.write_bytes(progress.missing_xlsx(rows, lang))
        typer.echo(f"{len(rows)} persons written to {out}")
        return
    keys = ("person_id", "name", "phone", "address", "community", "site", "distance_m")
    output([dict(zip(keys, r, strict=True)) for r in rows], fmt)


@round_app.command("next")
def round_next(round_id: int, as_user: str | None = AsUser, fmt: str = Format) -> None:
    """What the series does next by the profile's stop rule (repeat, final, stop, wait)."""
    from dataclasses import asdict

    from fangkong.nat import series

    with unit_of_work() as session:
        step = series.next_step(session=session, actor=actor_for(session, as_user), round_id=round_id)
        output(asdict(step), fmt)


@round_app.command("repeat")
def round_repeat(round_id: int, as_user: str | None = AsUser, fmt: str = Format) -> None:
    """Plan the series' next round (refused when the stop rule says stop)."""
    from fangkong.nat import series

    with unit_of_work() as session:
        r = series.repeat(session=session, actor=actor_for(session, as_user), round_id=round_id)
        output({"id": r.id, "name": r.name, "seq": r.seq, "final": r.final, "start_at": r.start_at}, fmt)


@round_app.command("auto-repeat")
def round_auto_repeat(
    round_id: int,
    state: str = typer.Argument(..., help="on or off"),
    as_user: str | None = AsUser,
) -> None:
    """Switch automatic repetition on or off for the round's whole series."""
    from fangkong.errors import invalid
    from fangkong.nat import series

    if state not in ("on", "off"):
        raise invalid("state", "on or off", state)
    with unit_of_work() as session:
        r = series.set_auto_repeat(
            session=session, actor=actor_for(session, as_user), round_id=round_id, auto_repeat=state == "on"
        )
        typer.echo(f"series of round {r.id}: automatic repetition {state}")


@round_app.command("close")
def round_close(round_id: int, as_user: str | None = AsUser) -> None:
    from fangkong.nat import rounds

    with unit_of_work() as session:
        r = rounds.close(session=session, actor=actor_for(session, as_user), round_id=round_id)
        typer.echo(f"round {r.id} closed")


@results_app.command("import")
def results_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False),
    lab: str = typer.Option(..., help="the lab's code"),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Import a lab's result sheet (CSV or .xlsx), all or nothing; a repeated file changes
    nothing; changed results are corrections (history kept)."""
    from fangkong.events import service as events
    from fangkong.nat import results

    with unit_of_work() as session:
        report = results.import_file(
            session=session, actor=actor_for(session, as_user), lab_code=lab, path=file, filename=file.name
        )
    from fangkong.cli.common import settings
    from fangkong.db.engine import make_engine
    from fangkong.db.session import make_session_factory
    from fangkong.events.registry import load_handlers

    load_handlers()
    handled = events.run_pending(make_session_factory(make_engine(settings())))
    data: dict[str, Any] = report.as_dict() | {"events_handled": handled}
    output(data, fmt)


def register(app: typer.Typer) -> None:
    testing_app.add_typer(site_app, name="sites")
    testing_app.add_typer(lab_app, name="lab")
    testing_app.add_typer(round_app, name="round")
    testing_app.add_typer(results_app, name="results")
    app.add_typer(testing_app, name="testing")
