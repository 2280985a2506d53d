"""`fangkong movement import stays|checkins|travel|gps FILE`."""

from __future__ import annotations

from pathlib import Path

import typer

from fangkong.cli.common import AsUser, Format, actor_for, output, unit_of_work

movement_app = typer.Typer(
    help="Movement data: stays, check-ins, travel records, GPS points.", no_args_is_help=True
)


@movement_app.command("import")
def movement_import(
    kind: str = typer.Argument(..., help="stays, checkins, travel or gps (raw points → stays)"),
    file: Path = typer.Argument(..., help="CSV (UTF-8) or Parquet; naive times are local time"),
    strict: bool = typer.Option(False, help="store nothing when any row is bad"),
    report: Path | None = typer.Option(
        None, help="row report CSV (default FILE.errors.csv when there are problems)"
    ),
    as_user: str | None = AsUser,
    fmt: str = Format,
) -> None:
    """Validate a movement file, store its good rows (idempotently: an overlapping upload adds
    only new rows) and write a row-level report of the bad ones. Exit 1 when any row was bad."""
    from fangkong.errors import invalid
    from fangkong.movement import service
    from fangkong.tracing.ingest import write_report

    if kind not in ("stays", "checkins", "travel", "gps"):
        raise invalid("kind", "expected stays, checkins, travel or gps", kind)
    if not file.is_file():
        raise invalid("file", "file not found", str(file))
    with unit_of_work() as session:
        result = service.import_file(
            session=session,
            actor=actor_for(session, as_user),
            kind=kind,  # type: ignore[arg-type]
            source=file,
            strict=strict,
        )
    written = None
    if result.problems:
        written = write_report(report or file.with_name(file.name + ".errors.csv"), result.problems)
    if fmt == "json":
        output({**result.as_dict(), "report": str(written) if written else None}, "json")
    else:
        typer.echo(
            f"{file.name}: {result.rows_good:,} good rows, {result.rows_written:,} stored, "
            f"{result.duplicates:,} already stored, {len(result.problems):,} problem(s)"
            + (f" — report: {written}" if written else "")
        )
    if result.problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(movement_app, name="movement")
