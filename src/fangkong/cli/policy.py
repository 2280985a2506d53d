"""`fangkong policy …` (profiles, the engine, activation) and `fangkong measure …` (persons
under measures)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Optional

import typer

from fangkong.cli.common import AsUser, Format, actor_for, output, settings, unit_of_work

policy_app = typer.Typer(help="Policy profiles: the protocols as data.", no_args_is_help=True)
measure_app = typer.Typer(help="Persons under measures: categories and their measures.", no_args_is_help=True)


def _load(ref: str) -> Any:
    """A shipped profile id, or a path to a profile file."""
    from fangkong.policy import loader

    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return loader.load(path)
    return loader.load_shipped(ref)


def _date(value: str, name: str) -> dt.date:
    from fangkong.errors import invalid

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid(name, "expected a date YYYY-MM-DD", value) from None


def _moment(value: str | None) -> dt.datetime:
    """A date (its local noon), a time (naive = local), or now."""
    from fangkong.errors import invalid

    tz = settings().tz
    if value is None:
        return dt.datetime.now(tz)
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(12), tz)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise invalid("as_of", "expected YYYY-MM-DD or an ISO time", value) from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


@policy_app.command("list")
def policy_list(fmt: str = Format) -> None:
    """The shipped profiles, and the activations recorded in this database."""
    from fangkong.policy import loader
    from fangkong.policy_profile import service as profiles

    rows: list[dict[str, Any]] = []
    for pid in loader.shipped_ids():
        p = loader.load_shipped(pid)
        rows.append(
            {
                "profile": pid,
                "version": p.version,
                "effective_from": p.profile.effective_from.isoformat(),
                "title": p.profile.title.zh_CN,
                "checksum": p.checksum[:12],
                "active_from": "",
            }
        )
    with unit_of_work() as session:
        for a in profiles.history(session):
            rows.append(
                {
                    "profile": a.profile_id,
                    "version": a.version,
                    "effective_from": "",
                    "title": "(activation)",
                    "checksum": a.checksum[:12],
                    "active_from": a.effective_from.isoformat(),
                }
            )
    output(rows, fmt)


@policy_app.command("show")
def policy_show(profile: str, fmt: str = typer.Option("yaml", "--format", help="yaml or json")) -> None:
    """The resolved profile (after extends), with its checksum."""
    import yaml

    loaded = _load(profile)
    data = loaded.profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["checksum"] = loaded.checksum
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@policy_app.command("validate")
def policy_validate(file: Path) -> None:
    """Check a profile file; print its checksum, or the file, line and reason of each problem."""
    from fangkong.errors import PolicyError
    from fangkong.policy import loader

    try:
        loaded = loader.load(file)
    except PolicyError as exc:
        for d in exc.details:
            typer.echo(f"{d.value}:{d.row or '?'}: {d.field}: {d.reason}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{file}: valid profile {loaded.id} version {loaded.version}, checksum {loaded.checksum}")


@policy_app.command("diff")
def policy_diff(a: str, b: str, fmt: str = Format) -> None:
    """What differs between two profiles (ids or files), key by key."""
    from fangkong.policy.diff import diff

    rows = [
        {"key": k, a: json.dumps(va, ensure_ascii=False), b: json.dumps(vb, ensure_ascii=False)}
        for k, va, vb in diff(_load(a), _load(b))
    ]
    output(rows, fmt)


@policy_app.command("measures")
def policy_measures(
    category: str = typer.Option(..., help="e.g. close_contact, arrival_high_risk"),
    profile: Optional[str] = typer.Option(None, help="profile id or file (default: the one in force)"),
    last_exposure: Optional[str] = typer.Option(None, "--last-exposure", help="the clock's start date"),
    clock: Optional[str] = typer.Option(None, help="the clock's start date for other categories"),
    fmt: str = Format,
) -> None:
    """The measures a category gets from a clock date: kinds, dates, test days and reasons."""
    from fangkong.errors import invalid
    from fangkong.policy.engine import measures_for
    from fangkong.policy.schema import CATEGORIES

    if category not in CATEGORIES:
        raise invalid("category", f"unknown category; expected one of {', '.join(CATEGORIES)}", category)
    when = last_exposure or clock
    if when is None:
        raise invalid("clock", "give --last-exposure (or --clock) YYYY-MM-DD")
    loaded = _load(profile) if profile else _active(_date(when, "clock"))
    ev = measures_for(loaded, category, _date(when, "clock"))
    out = {
        "profile": ev.profile_id,
        "version": ev.version,
        "checksum": ev.checksum,
        "category": category,
        "measures": [
            {k: v for k, v in s.as_dict().items() if k in ("kind", "start", "end", "test_dates")}
            for s in ev.plan
        ],
        "health_code": ev.color,
        "decisions": [
            {
                "rule_id": d.rule_id,
                "mode": d.mode,
                "kind": d.kind,
                "reason_zh": d.reason_zh,
                "reason_en": d.reason_en,
            }
            for d in ev.decisions
        ],
    }
    if fmt == "json":
        output(out, "json")
        return
    typer.echo(f"{ev.profile_id} v{ev.version} — {category}")
    for s in ev.plan:
        typer.echo(f"  {s.kind:<20} {s.start} … {s.end}  tests: {', '.join(map(str, s.test_dates)) or '-'}")
    for d in ev.decisions:
        typer.echo(f"  [{d.rule_id}] {d.reason_zh}")


def _active(on: dt.date) -> Any:
    from fangkong.policy_profile import service as profiles

    with unit_of_work() as session:
        return profiles.active(session, on)


@policy_app.command("activate")
def policy_activate(
    profile: str = typer.Argument(..., help="a shipped profile id or a profile file"),
    effective_from: str = typer.Option(..., "--from", help="YYYY-MM-DD"),
    preview: bool = typer.Option(False, "--preview", help="show what would change; store nothing"),
    note: Optional[str] = typer.Option(None, help="why (kept in the history)"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="evaluate as of this time (default now)"),
    as_user: Optional[str] = AsUser,
    fmt: str = Format,
) -> None:
    """Put a profile in force from a date. People under measures are re-planned at once when the
    date has come (use --preview first to see what would change)."""
    from fangkong.policy_profile import service as profiles

    loaded = _load(profile)
    start = _date(effective_from, "from")
    moment = _moment(as_of)
    source_text = Path(loaded.path).read_text("utf-8") if Path(loaded.path).exists() else ""
    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        if preview:
            would = profiles.preview(session=session, actor=actor, loaded=loaded, as_of=moment)
            session.rollback()
            if fmt == "json":
                output(would.as_dict(), "json")
            else:
                typer.echo(would.summary_zh() + "\n" + would.summary_en())
            return
        row, changes = profiles.activate(
            session=session,
            actor=actor,
            loaded=loaded,
            source_text=source_text,
            effective_from=start,
            as_of=moment,
            note=note,
        )
        typer.echo(f"{loaded.id} v{loaded.version} in force from {start} (activation {row.id})")
        if changes is not None:
            typer.echo(changes.summary_zh())
            typer.echo(changes.summary_en())


def _profile_or_active(profile: str | None, on: dt.date) -> Any:
    return _load(profile) if profile else _active(on)


def _show_decision(decision: Any, fmt: str) -> None:
    if fmt == "json":
        output(decision.as_dict(), "json")
    else:
        typer.echo(f"[{decision.rule_id}] {decision.reason_zh}\n{decision.reason_en}")


@policy_app.command("area")
def policy_area(
    level: str = typer.Option(..., help="the level the area was designated, e.g. high"),
    last_infection: str = typer.Option(..., "--last-infection", help="YYYY-MM-DD"),
    negative_round: list[str] = typer.Option([], "--round", help="a day with an all-negative round"),
    today: str | None = typer.Option(None, help="YYYY-MM-DD (default today)"),
    profile: str | None = typer.Option(None, help="profile id or file (default: the one in force)"),
    fmt: str = Format,
) -> None:
    """A risk area's level today and when it lifts, under the profile's lifting rules."""
    from fangkong.policy import rules

    day = _date(today, "today") if today else dt.datetime.now(settings().tz).date()
    status = rules.area_level(
        _profile_or_active(profile, day),
        level,
        _date(last_infection, "last_infection"),
        [_date(r, "round") for r in negative_round],
        day,
    )
    _show_decision(status.decision, fmt)


@policy_app.command("pool")
def policy_pool(
    group: str | None = typer.Option(None, help="e.g. quarantine_site, key_groups, close_contact"),
    area_level: str | None = typer.Option(None, "--area-level", help="e.g. high, medium, low"),
    profile: str | None = typer.Option(None, help="profile id or file (default: the one in force)"),
    fmt: str = Format,
) -> None:
    """How many swabs per tube for a group or a risk level."""
    from fangkong.policy import rules

    day = dt.datetime.now(settings().tz).date()
    _show_decision(rules.pool_size(_profile_or_active(profile, day), group=group, area_level=area_level), fmt)


@policy_app.command("investigation")
def policy_investigation(
    notified: str = typer.Option(..., help="when the case was notified (ISO time; naive = local)"),
    profile: str | None = typer.Option(None, help="profile id or file (default: the one in force)"),
    fmt: str = Format,
) -> None:
    """The investigation clock ("2+4+24") from a notification time."""
    from fangkong.policy import rules

    moment = _moment(notified)
    loaded = _profile_or_active(profile, moment.astimezone(settings().tz).date())
    _show_decision(rules.investigation_deadlines(loaded, moment), fmt)


@policy_app.command("apply-due")
def policy_apply_due(as_user: Optional[str] = AsUser) -> None:
    """Re-plan the people whose measures came from another profile than the one in force today
    (run daily, or by the worker)."""
    from fangkong.measure import service as measures

    with unit_of_work() as session:
        n = measures.apply_due(session, actor_for(session, as_user), dt.datetime.now(settings().tz))
    typer.echo(f"re-planned {n} person(s)")


def _person_id(session: Any, ref: str) -> int:
    from sqlalchemy import select

    from fangkong.errors import NotFound
    from fangkong.person.models import PersonIdentifier

    if ref.isdigit() and len(ref) < 12:
        return int(ref)
    pid = session.scalar(
        select(PersonIdentifier.person_id).where(PersonIdentifier.value == ref.strip().upper())
    )
    if pid is None:
        raise NotFound(f"no person with identifier {ref}")
    return int(pid)


@policy_app.command("explain")
def policy_explain(
    person: str = typer.Argument(..., help="person id or ID number"),
    as_of: Optional[str] = typer.Option(None, "--as-of"),
    as_user: Optional[str] = AsUser,
    fmt: str = Format,
) -> None:
    """Why this person has these measures and this health-code colour."""
    from fangkong.measure import service as measures

    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        pid = _person_id(session, person)
        cats, ev = measures.explain(session=session, actor=actor, person_id=pid, as_of=_moment(as_of))
        data = {
            "person_id": pid,
            **ev.as_dict(),
            "categories": [
                {
                    "id": c.id,
                    "category": c.category,
                    "clock_at": c.clock_at.astimezone(settings().tz).isoformat(),
                    "setting": c.setting,
                    "place": c.place,
                    "source": c.source,
                    "status": c.status,
                }
                for c in cats
            ],
        }
    if fmt == "json":
        output(data, "json")
        return
    typer.echo(f"person {pid} — {ev.profile_id} v{ev.version} — health code {ev.color}")
    for c in data["categories"]:
        typer.echo(f"  category {c['category']} since {c['clock_at']} ({c['status']})")
    for s in ev.plan:
        typer.echo(f"  {s.kind:<20} {s.start} … {s.end}  tests: {', '.join(map(str, s.test_dates)) or '-'}")
    for d in ev.decisions:
        typer.echo(f"  [{d.rule_id}{'' if d.mode == 'enforce' else ', ' + d.mode}] {d.reason_zh}")


@measure_app.command("assign")
def measure_assign(
    person: str = typer.Argument(..., help="person id or ID number"),
    category: str = typer.Option(...),
    at: str = typer.Option(..., help="the clock's start (date or ISO time; naive = local)"),
    setting: Optional[str] = typer.Option(None, help="household, venue, vehicle, workplace or named"),
    place: Optional[str] = None,
    source: Optional[str] = typer.Option(None, help="e.g. the case it came from"),
    as_user: Optional[str] = AsUser,
    fmt: str = Format,
) -> None:
    """Put a person in a category; the profile in force decides their measures."""
    from pydantic import ValidationError

    from fangkong.measure import service as measures
    from fangkong.measure.schemas import CategoryAssign
    from fangkong.validation import invalid_from

    try:
        data = CategoryAssign(
            category=category,
            clock_at=at,
            setting=setting,
            place=place,
            source=source,
        )
    except ValidationError as exc:
        raise invalid_from(exc) from None
    with unit_of_work() as session:
        actor = actor_for(session, as_user)
        pid = _person_id(session, person)
        row, ev = measures.assign(session=session, actor=actor, person_id=pid, data=data)
        out = {"person_id": pid, "person_category_id": row.id, **ev.as_dict()}
    if fmt == "json":
        output(out, "json")
        return
    for s in ev.plan:
        typer.echo(f"{s.kind:<20} {s.start} … {s.end}  tests: {', '.join(map(str, s.test_dates)) or '-'}")
    typer.echo(f"health code: {ev.color}")


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.add_typer(measure_app, name="measure")
