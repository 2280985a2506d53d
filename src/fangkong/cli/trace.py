"""`fangkong trace …`: contact finding on movement files (see docs/tracing.md).

`fangkong trace companions --stays FILE --cases FILE --out FILE` lists the spatiotemporal
companions (时空伴随者) of the cases: one row per (case, companion). Parameters come from the
options, else from `--profile`'s `contacts.companion`, else the defaults (800 m, 10 min, 14 days,
30 h). The UTM zone of the cells is `--utm-zone`, else the zone of the city centre in the settings
(`FANGKONG_CITY_LON`), else the zone of the stays' median longitude.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from pathlib import Path
from typing import Any, Optional

import typer

from fangkong.errors import ErrorDetail, Invalid

trace_app = typer.Typer(
    help="Tracing (流调溯源): contacts, companions, reports and chains.", no_args_is_help=True
)

DEFAULTS = {"cell_size": 800.0, "min_overlap": 10.0, "window_days": 14.0, "min_dwell_hours": 30.0}
OUTPUT_SUFFIXES = (".parquet", ".pq", ".csv")


def _profile_params(ref: str) -> dict[str, float]:
    """The companion parameters of a profile (a shipped id or a profile file)."""
    from fangkong.errors import PolicyError
    from fangkong.policy import loader

    path = Path(ref)
    loaded = (
        loader.load(path) if path.suffix in (".yaml", ".yml") or path.exists() else loader.load_shipped(ref)
    )
    contacts = loaded.profile.contacts
    rule = contacts.companion if contacts else None
    if rule is None:
        raise PolicyError(
            f"profile {loaded.id} defines no companion rule (contacts.companion)",
            [ErrorDetail("profile", "no contacts.companion", loaded.id)],
        )
    if rule.mode == "off":
        raise PolicyError(
            f"profile {loaded.id} turns companions off (contacts.companion.mode: off)",
            [ErrorDetail("profile", "companion rule is off", loaded.id)],
        )
    return {
        "cell_size": rule.cell_size.metres,
        "min_overlap": rule.min_co_presence.minutes,
        "window_days": rule.window.seconds / 86400,
        "min_dwell_hours": rule.min_dwell.hours,
    }


def read_cases(path: Path, tz: dt.tzinfo) -> list[Any]:
    """Cases CSV `person_id,anchor_time` (headers ignoring case; naive times are local)."""
    from fangkong.tracing.ports import CaseAnchor

    if not path.is_file():
        raise Invalid(f"{path}: file not found", [ErrorDetail("cases", "file not found", str(path))])
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(
            f"{path}: not UTF-8 text ({exc.reason})", [ErrorDetail("cases", "not UTF-8", str(path))]
        ) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("person_id", "anchor_time") if c not in header]
    if missing:
        raise Invalid(
            f"{path}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)};"
            f" found: {', '.join(header) or 'none'}",
            [ErrorDetail(c, "missing required column", str(path)) for c in missing],
        )
    ip, ia = header.index("person_id"), header.index("anchor_time")
    cases = []
    for n, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue
        pid = row[ip].strip() if ip < len(row) else ""
        when = row[ia].strip() if ia < len(row) else ""
        if not pid:
            raise Invalid(
                f"{path}: row {n}: person_id is empty", [ErrorDetail("person_id", "required", None, n)]
            )
        try:
            anchor = dt.datetime.fromisoformat(when)
        except ValueError:
            raise Invalid(
                f"{path}: row {n}: anchor_time is not an ISO 8601 time: {when!r}",
                [ErrorDetail("anchor_time", "not an ISO 8601 time", when, n)],
            ) from None
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=tz)
        cases.append(CaseAnchor(pid, anchor))
    return cases


def _centre(settings: Any, stays: Path) -> tuple[float, float] | None:
    """The city centre of the settings, else the stays' median position."""
    lon, lat = getattr(settings, "city_lon", None), getattr(settings, "city_lat", None)
    if lon is not None:
        return float(lon), float(lat if lat is not None else 0.0)
    from fangkong.tracing.sources import median_position

    return median_position(str(stays), timezone=settings.timezone)


def _write(table: Any, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if out.suffix.lower() in (".parquet", ".pq"):
        pq.write_table(table, out)
        return
    columns = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):  # ISO 8601 in UTC; fractions only when there are any
            secs = col.cast(pa.timestamp("s", tz="UTC"), safe=False)
            whole = pc.all(pc.equal(col, secs.cast(col.type))).as_py() is not False
            col = pc.strftime(secs if whole else col, format="%Y-%m-%dT%H:%M:%SZ")
        columns.append(col)
    pacsv.write_csv(pa.Table.from_arrays(columns, names=table.column_names), out)


@trace_app.command("companions")
def companions(
    stays: Path = typer.Option(
        ...,
        "--stays",
        help="stays: Parquet file/folder/glob or CSV (person_id, start, end, lon, lat | cell_id)",
    ),
    cases: Path = typer.Option(
        ..., "--cases", help="cases CSV: person_id,anchor_time (onset or first positive sampling)"
    ),
    out: Path = typer.Option(..., "--out", help="output .parquet or .csv"),
    engine: Optional[str] = typer.Option(None, "--engine", help="duckdb or spark [FANGKONG_TRACING_ENGINE]"),
    profile: Optional[str] = typer.Option(
        None, "--profile", help="policy profile id or file: parameters from contacts.companion"
    ),
    cell_size: Optional[float] = typer.Option(None, "--cell-size", help="cell size in metres [800]"),
    min_overlap: Optional[float] = typer.Option(
        None, "--min-overlap", help="minimum co-presence in a cell, minutes [10]"
    ),
    window_days: Optional[float] = typer.Option(None, "--window-days", help="days before the anchor [14]"),
    min_dwell_hours: Optional[float] = typer.Option(
        None, "--min-dwell-hours", help="either person's stay in the cell, hours; 0 disables [30]"
    ),
    utm_zone: Optional[int] = typer.Option(
        None, "--utm-zone", help="UTM zone of the cells [the city centre's, FANGKONG_CITY_LON]"
    ),
    memory_limit: Optional[str] = typer.Option(None, "--memory-limit", help="DuckDB memory limit, e.g. 8GB"),
) -> None:
    """Spatiotemporal companions (时空伴随者) of the cases: one row per (case, companion)."""
    from fangkong.config import get_settings
    from fangkong.tracing import ports, projection

    started = time.perf_counter()
    settings = get_settings()
    engine = engine or str(getattr(settings, "tracing_engine", "duckdb"))
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise Invalid(
            f"--out must end in .parquet or .csv: {out}", [ErrorDetail("out", "unknown format", str(out))]
        )
    if not out.parent.is_dir():
        raise Invalid(
            f"--out: folder {out.parent} does not exist", [ErrorDetail("out", "no such folder", str(out))]
        )
    if engine not in ("duckdb", "spark"):
        raise Invalid(
            f"--engine must be duckdb or spark, not {engine}", [ErrorDetail("engine", "unknown", engine)]
        )
    if memory_limit and engine != "duckdb":
        raise Invalid(
            "--memory-limit applies to the duckdb engine only", [ErrorDetail("memory_limit", "duckdb only")]
        )
    params = dict(DEFAULTS)
    if profile:
        params.update(_profile_params(profile))
    explicit = {
        "cell_size": cell_size,
        "min_overlap": min_overlap,
        "window_days": window_days,
        "min_dwell_hours": min_dwell_hours,
    }
    params.update({k: v for k, v in explicit.items() if v is not None})
    anchors = read_cases(cases, settings.tz)
    south = False
    if utm_zone is None:
        centre = _centre(settings, stays)
        utm_zone = projection.zone_of(centre[0]) if centre else 48
        south = bool(centre and centre[1] < 0)
    elif not 1 <= utm_zone <= 60:
        raise Invalid(
            f"--utm-zone must be 1…60, not {utm_zone}", [ErrorDetail("utm_zone", "out of range", utm_zone)]
        )
    options: dict[str, object] = {}
    if engine == "duckdb":
        options = {"timezone": settings.timezone, "memory_limit": memory_limit}
    tracer = ports.engine(engine, **options)
    grid = ports.Grid(cell_size_m=params["cell_size"], utm_zone=utm_zone, south=south)
    companion_params = ports.CompanionParams(
        grid=grid,
        min_overlap_min=params["min_overlap"],
        window_days=params["window_days"],
        min_dwell_h=params["min_dwell_hours"],
    )
    result = tracer.companions(str(stays), anchors, companion_params)
    _write(result, out)
    persons = len(set(result.column("person_id").to_pylist())) if result.num_rows else 0
    listed = len(set(result.column("case_person_id").to_pylist())) if result.num_rows else 0
    without = getattr(tracer, "last_cases_without_stays", None)
    no_data = f", {len(without)} without stays in their window" if without else ""
    typer.echo(
        f"cases: {len(anchors)} ({listed} with companions{no_data}); companions: {result.num_rows} rows,"
        f" {persons} persons; UTM zone {utm_zone}; {time.perf_counter() - started:.1f} s → {out}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(trace_app, name="trace")
