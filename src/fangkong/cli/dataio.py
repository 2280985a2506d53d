"""`fangkong import …` and `fangkong export …`: registry sheets in and lists out.

Import exit codes: 0 everything was stored (or a dry run found no problem; or --partial
stored the good rows), 1 rows were rejected and nothing was stored, 2 the file itself could
not be used (encoding, not a workbook, missing columns, empty) or the command failed
(permissions, unknown account). The error report is always written: FILE.errors.csv next to
the input (or in the current directory when that folder is not writable), or --report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from fangkong.cli.common import AsUser, Format, actor_for, output, unit_of_work
from fangkong.errors import ErrorDetail, FangkongError

KINDS = ("persons", "households", "venues", "units")
EXPORT_ONLY = ("areas", "audit")  # exported, never imported
import_app = typer.Typer(
    help="Import registry sheets (.csv UTF-8/GB18030 or .xlsx); see docs/import-formats.md.",
    no_args_is_help=True,
)
export_app = typer.Typer(
    help="Export registry lists, areas or the audit trail to .xlsx or .csv "
    "(personal data masked unless --unmask-reason).",
    no_args_is_help=True,
)


def default_report(file: Path) -> Path:
    return file.with_name(file.name + ".errors.csv")


def _write_report(path: Path, errors: list[ErrorDetail], warnings: list[ErrorDetail]) -> Path:
    from fangkong.imports import report

    try:
        return report.write(path, errors, warnings)
    except OSError:
        fallback = Path.cwd() / path.name
        return report.write(fallback, errors, warnings)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def run_import(
    kind: str, file: Path, *, partial: bool, dry_run: bool, report: Path | None, as_user: str | None, fmt: str
) -> int:
    """Run one import; returns the exit code."""
    from fangkong.imports import service

    report_path = report or default_report(file)
    if not file.is_file():
        written = _write_report(report_path, [ErrorDetail("file", f"{file} not found")], [])
        typer.echo(f"error: {file} not found (report: {written})", err=True)
        return 2
    try:
        with unit_of_work() as session:
            actor = actor_for(session, as_user)
            result = service.import_file(
                session=session, actor=actor, kind=kind, path=file, partial=partial, dry_run=dry_run
            )
    except FangkongError as exc:
        details = [ErrorDetail(d.field or "file", d.reason, d.value, d.row) for d in exc.details]
        written = _write_report(report_path, details or [ErrorDetail("file", exc.message)], [])
        typer.echo(f"error: {exc}", err=True)
        typer.echo(f"nothing stored; report: {written}", err=True)
        return 2
    # The report lists the problems that kept rows out; warnings (rows stored anyway) are
    # printed and are in --format json.
    written = _write_report(report_path, result.errors, [])
    code = 0 if result.stored or not result.rows_rejected else 1
    if fmt == "json":
        summary = result.summary()
        summary["report"] = str(written)
        summary["exit_code"] = code
        output(summary, "json")
        return code
    verb = "checked (dry run)" if dry_run else ("stored" if result.stored else "not stored")
    typer.echo(
        f"{file.name}: {result.rows_total} rows, {result.rows_stored} stored, "
        f"{result.rows_rejected} rejected — {verb}"
        + (f" (batch {result.batch_id})" if result.batch_id else "")
    )
    for d in result.errors[:10]:
        where = f"row {d.row}" if d.row is not None else "file"
        typer.echo(f"  {where} {d.field}: {d.reason}", err=True)
    if len(result.errors) > 10:
        typer.echo(f"  … {len(result.errors) - 10} more problems in the report", err=True)
    if result.rows_rejected and not result.stored and not dry_run:
        hint = "" if partial else " (all-or-nothing; --partial stores the good rows)"
        typer.echo(f"nothing stored: {result.rows_rejected} row(s) rejected{hint}", err=True)
    elif result.rows_rejected and result.stored:
        typer.echo(f"{result.rows_rejected} row(s) rejected and not stored", err=True)
    for w in result.warnings[:10]:
        where = f"row {w.row}" if w.row is not None else "file"
        typer.echo(f"  warning: {where} {w.field}: {w.reason}")
    if len(result.warnings) > 10:
        typer.echo(f"  … {len(result.warnings) - 10} more warnings (--format json lists them all)")
    typer.echo(f"report: {written} ({len(result.errors)} problems)")
    return code


def _import_command(kind: str) -> Callable[..., None]:
    def command(
        file: Path = typer.Argument(..., help="the sheet: .csv (UTF-8 or GB18030) or .xlsx"),
        partial: bool = typer.Option(
            False, "--partial", help="store the good rows even if some are rejected"
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="check only; store nothing"),
        report: Path | None = typer.Option(
            None, "--report", help="error report CSV (default: FILE.errors.csv)"
        ),
        as_user: str | None = AsUser,
        fmt: str = Format,
    ) -> None:
        code = run_import(
            kind, file, partial=partial, dry_run=dry_run, report=report, as_user=as_user, fmt=fmt
        )
        if code:
            raise typer.Exit(code)

    command.__doc__ = (
        f"Import {kind} from FILE. All-or-nothing unless --partial; "
        "exit 0 stored, 1 rows rejected, 2 unusable file."
    )
    command.__name__ = f"import_{kind}"
    return command


def run_export(
    kind: str,
    out: Path,
    *,
    fmt: str | None,
    filters: dict[str, Any],
    unmask_reason: str | None,
    lang: str,
    as_user: str | None,
) -> int:
    from fangkong.imports import export

    fmt = fmt or out.suffix.lower().lstrip(".")
    if fmt not in export.FORMATS:
        typer.echo(
            f"error: cannot tell the format from {out.name}; give --format csv or --format xlsx", err=True
        )
        return 2
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with unit_of_work() as session, tmp.open("wb") as fh:
            result = export.export(
                session=session,
                actor=actor_for(session, as_user),
                kind=kind,
                fmt=fmt,
                out=fh,
                filters=export.ExportFilters(**filters),
                unmask_reason=unmask_reason,
                lang=lang,
            )
        os.replace(tmp, out)
    except FangkongError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc.strerror or exc}", err=True)
        return 2
    finally:
        if tmp.exists():
            tmp.unlink()
    masked = "masked" if result.masked else "UNMASKED (audited)"
    note = fmt if result.kind == "areas" else f"{fmt}, {masked}"
    typer.echo(f"wrote {result.rows} {kind} to {out} ({note})")
    return 0


def _export_command(kind: str) -> Callable[..., None]:
    def command(
        out: Path = typer.Option(..., "--out", help="the file to write (.xlsx or .csv)"),
        fmt: str | None = typer.Option(
            None, "--format", help="csv or xlsx (default: from the extension of --out)"
        ),
        area: str | None = typer.Option(None, "--area", help="only this area and below"),
        q: str | None = typer.Option(
            None, "--q", help="persons: name starts with; venues, units: name contains"
        ),
        category: str | None = typer.Option(None, "--category", help="venues, units: category code"),
        key_group: str | None = typer.Option(None, "--key-group", help="persons: key group code"),
        unmask_reason: str | None = typer.Option(
            None,
            "--unmask-reason",
            help="persons, households: export unmasked (needs person.read_pii; the reason is audited)",
        ),
        lang: str = typer.Option("zh-CN", "--lang", help="headers and labels: zh-CN or en"),
        as_user: str | None = AsUser,
    ) -> None:
        code = run_export(
            kind,
            out,
            fmt=fmt,
            unmask_reason=unmask_reason,
            lang=lang,
            as_user=as_user,
            filters={"area_code": area, "q": q, "category": category, "key_group": key_group},
        )
        if code:
            raise typer.Exit(code)

    command.__doc__ = f"Export the {kind} in your jurisdiction to --out."
    command.__name__ = f"export_{kind}"
    return command


for _kind in KINDS:
    import_app.command(_kind)(_import_command(_kind))
    export_app.command(_kind)(_export_command(_kind))


_OUT = typer.Option(..., "--out", help="the file to write (.xlsx or .csv)")
_FMT = typer.Option(None, "--format", help="csv or xlsx (default: from the extension of --out)")
_LANG = typer.Option("zh-CN", "--lang", help="headers and labels: zh-CN or en")


@export_app.command("areas")
def export_areas(
    out: Path = _OUT,
    fmt: str | None = _FMT,
    q: str | None = typer.Option(None, "--q", help="name contains"),
    area: str | None = typer.Option(None, "--area", help="only this area and below"),
    level: str | None = typer.Option(
        None, "--level", help="province, city, county, township, community or grid"
    ),
    lang: str = _LANG,
    as_user: str | None = AsUser,
) -> None:
    """Export the areas in your jurisdiction to --out (code, name, level, parent, local)."""
    code = run_export(
        "areas",
        out,
        fmt=fmt,
        unmask_reason=None,
        lang=lang,
        as_user=as_user,
        filters={"q": q, "area_code": area, "level": level},
    )
    if code:
        raise typer.Exit(code)


@export_app.command("audit")
def export_audit(
    out: Path = _OUT,
    fmt: str | None = _FMT,
    user: str | None = typer.Option(None, "--user", help="only this account's actions"),
    action: str | None = typer.Option(None, "--action", help="e.g. person.read_pii"),
    resource: str | None = typer.Option(None, "--resource", help="TYPE or TYPE:ID, e.g. person:42"),
    since: str | None = typer.Option(None, "--since", help="from this local date (YYYY-MM-DD)"),
    until: str | None = typer.Option(None, "--until", help="up to this local date, included"),
    lang: str = _LANG,
    as_user: str | None = AsUser,
) -> None:
    """Export the audit trail to --out (needs audit.read; before/after always masked)."""
    rtype, _, rid = (resource or "").partition(":")
    code = run_export(
        "audit",
        out,
        fmt=fmt,
        unmask_reason=None,
        lang=lang,
        as_user=as_user,
        filters={
            "user": user,
            "action": action,
            "resource_type": rtype or None,
            "resource_id": rid or None,
            "since": since,
            "until": until,
        },
    )
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
