"""`fangkong case …`, `fangkong task …` and the case-side `fangkong trace …` commands
(contacts, confirm, report, chains, assist)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from fangkong.cli.common import AsUser, Format, actor_for, output, unit_of_work

case_app = typer.Typer(help="Cases (病例).", no_args_is_help=True)
task_app = typer.Typer(help="Tasks (任务) of your area.", no_args_is_help=True)


def _case_row(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "case_no": c.case_no,
        "person_id": c.person_id,
        "classification": c.classification,
        "origin": c.origin,
        "onset": c.onset_date,
        "first_positive_at": c.first_positive_at,
        "found_by": c.found_by,
        "care": c.care_status,
        "area": c.area_code,
        "outcome": c.outcome or "",
    }


@case_app.command("create")
def case_create(
    person: int = typer.Option(..., help="person id"),
    classification: str = typer.Option(..., help="suspected, asymptomatic or confirmed"),
    first_positive: str | None = typer.Option(None, "--first-positive", help="first positive sampling time"),
    onset: str | None = typer.Option(None, help="onset date YYYY-MM-DD"),
    origin: str = typer.Option("unknown", help="local, imported or unknown"),
    found_by: str = typer.Option("other", "--found-by", help="screening, fever_clinic, arrival_test, …"),
    care: str = typer.Option("not_isolated", help="care status"),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Open a case (its investigation and the person's measures follow)."""
    from pydantic import ValidationError

    from fangkong.case import service as cases
    from fangkong.case.schemas import CaseCreate
    from fangkong.validation import invalid_from

    try:
        data = CaseCreate.model_validate(
            {
                "person_id": person,
                "classification": classification,
                "first_positive_at": first_positive,
                "onset_date": onset,
                "origin": origin,
                "found_by": found_by,
                "care_status": care,
            }
        )
    except ValidationError as exc:
        raise invalid_from(exc, "invalid case") from None
    with unit_of_work() as session:
        case = cases.create(session=session, actor=actor_for(session, as_user), data=data)
        output(_case_row(case), fmt)


@case_app.command("list")
def case_list(
    classification: str | None = None,
    area: str | None = None,
    open_only: bool = False,
    limit: int = typer.Option(100, min=1, max=500),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Cases of your jurisdiction."""
    from fangkong.case import service as cases

    with unit_of_work() as session:
        rows, _ = cases.search(
            session=session,
            actor=actor_for(session, as_user),
            classification=classification,
            area_code=area,
            open_only=open_only,
            limit=limit,
        )
        output([_case_row(c) for c in rows], fmt)


@case_app.command("reclassify")
def case_reclassify(
    case: str = typer.Argument(..., help="case id or number"),
    to: str = typer.Option(..., "--to", help="asymptomatic or confirmed"),
    reason: str = typer.Option(...),
    onset: str | None = None,
    as_user: str | None = AsUser,
) -> None:
    """Reclassify a case (e.g. asymptomatic → confirmed); the history is kept."""
    from fangkong.case import service as cases
    from fangkong.case.schemas import Reclassify

    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        c = cases.by_number(session, actor, case)
        cases.reclassify(
            session=session,
            actor=actor,
            case_id=c.id,
            data=Reclassify.model_validate({"classification": to, "reason": reason, "onset_date": onset}),
        )
        typer.echo(f"{c.case_no} is now {c.classification}")


@task_app.command("list")
def task_list(
    status: str = "open",
    kind: str | None = None,
    area: str | None = None,
    overdue: bool = False,
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Tasks of your area (open ones by default)."""
    from fangkong.task import service as tasks

    with unit_of_work() as session:
        rows, _ = tasks.search(
            session,
            actor_for(session, as_user),
            status=status or None,
            kind=kind,
            area_code=area,
            overdue_at=dt.datetime.now(dt.UTC) if overdue else None,
            limit=500,
        )
        output(
            [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "title": t.title,
                    "area": t.area_code,
                    "due": t.due_at,
                    "priority": t.priority,
                    "status": t.status,
                }
                for t in rows
            ],
            fmt,
        )


@task_app.command("done")
def task_done(
    task: int, result: str | None = typer.Option(None, help="what was done"), as_user: str | None = AsUser
) -> None:
    """Mark a task done."""
    from fangkong.task import service as tasks

    with unit_of_work() as session:
        t = tasks.complete(session, actor_for(session, as_user), task, result)
        typer.echo(f"task {t.id} done")


# ---------------------------------------------------------------- trace (case side)


def trace_contacts(
    case: str = typer.Argument(..., help="case id or number"), as_user: str | None = AsUser, fmt: str = Format
) -> None:
    """Run all contact finding for a case in the database (household, workplace, named, venues,
    vehicles, companions, secondary contacts); the lists are stored as proposals."""
    from fangkong.case import service as cases
    from fangkong.contact import service as contacts
    from fangkong.contact.movement import default

    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        c = cases.by_number(session, actor, case)
        result = contacts.run(session=session, actor=actor, case_id=c.id, movement=default())
        rows = contacts.listings(session=session, actor=actor, case_id=c.id)
        if fmt == "json":
            output(
                {
                    **result.as_dict(),
                    "listings": [
                        {
                            "id": r.id,
                            "person_id": r.person_id,
                            "list": r.list,
                            "setting": r.setting,
                            "place": r.place,
                            "minutes": r.minutes,
                            "status": r.status,
                            "reason_zh": r.reason_zh,
                        }
                        for r in rows
                    ],
                },
                "json",
            )
            return
    typer.echo(
        f"{c.case_no}: {result.found} listed ({result.new} new) in {result.seconds:.1f} s — "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.by_list.items()))
    )
    for note in result.notes:
        typer.echo(f"  note: {note}")


def trace_confirm(
    case: str = typer.Argument(..., help="case id or number"),
    listing: list[int] = typer.Option([], "--listing", help="only these listings (default all)"),
    reject: bool = typer.Option(False, help="reject instead of confirm"),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Confirm (or reject) the proposed listings: confirmed persons get their measures, a
    locate-and-control task for their community, or an assistance request when they live elsewhere."""
    from fangkong.case import service as cases
    from fangkong.contact import service as contacts

    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        c = cases.by_number(session, actor, case)
        result = contacts.decide(
            session=session, actor=actor, case_id=c.id, listing_ids=listing or None, accept=not reject
        )
    output(result.as_dict(), fmt)


def trace_report(
    case: str = typer.Argument(..., help="case id or number"),
    out: Path = typer.Option(..., help="the .docx file to write"),
    lang: str = typer.Option("zh-CN", help="zh-CN or en"),
    unmask_reason: str | None = typer.Option(None, help="include unmasked personal data (audited)"),
    as_user: str | None = AsUser,
) -> None:
    """The investigation report as .docx."""
    from fangkong.case import service as cases
    from fangkong.investigation import report

    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        c = cases.by_number(session, actor, case)
        data = report.build(
            session=session, actor=actor, case_id=c.id, lang=lang, unmask_reason=unmask_reason
        )
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data):,} bytes)")


def trace_chains(
    out: Path = typer.Option(..., help=".json or .graphml"),
    area: str | None = None,
    as_user: str | None = AsUser,
) -> None:
    """Transmission chains and clusters as JSON or GraphML."""
    from fangkong.chain import service as chains

    with unit_of_work() as session:
        g = chains.graph(session=session, actor=actor_for(session, as_user), area_code=area)
    text = (
        chains.graphml(g)
        if out.suffix == ".graphml"
        else json.dumps(g.as_dict(), ensure_ascii=False, indent=2)
    )
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}: {len(g.nodes)} cases, {len(g.edges)} links, {len(g.clusters)} clusters")


def trace_assist(
    out: Path = typer.Option(..., help="the .zip of letters to write"),
    reason: str = typer.Option(..., help="why (the letters carry personal data; audited)"),
    case: str | None = typer.Option(None, help="only this case"),
    as_user: str | None = AsUser,
) -> None:
    """协查函: one .docx letter per destination city for the draft assistance requests."""
    from fangkong.case import service as cases
    from fangkong.contact import letters

    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        case_id = cases.by_number(session, actor, case).id if case else None
        data, n = letters.export(session=session, actor=actor, reason=reason, case_id=case_id)
    out.write_bytes(data)
    typer.echo(f"wrote {out}: {n} request(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(case_app, name="case")
    app.add_typer(task_app, name="task")
    from fangkong.cli.trace import trace_app

    trace_app.command("contacts")(trace_contacts)
    trace_app.command("confirm")(trace_confirm)
    trace_app.command("report")(trace_report)
    trace_app.command("chains")(trace_chains)
    trace_app.command("assist")(trace_assist)
