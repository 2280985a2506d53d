"""Movement data into the platform: validate a file (stays, check-ins, travel records, or raw
GPS points turned into stays), store its good rows in the day-partitioned Parquet store,
report the bad ones row by row, and audit the import."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.config import get_settings
from fangkong.errors import ErrorDetail
from fangkong.person.models import Person
from fangkong.place.models import Place
from fangkong.tracing import ingest

Kind = Literal["stays", "checkins", "travel", "gps"]
CHUNK = 20_000


def _known(session: Session, column: Any) -> Any:
    def lookup(ids: list[Any]) -> set[Any]:
        found: set[Any] = set()
        numbers = [i for i in ids if isinstance(i, int)]
        for start in range(0, len(numbers), CHUNK):
            found |= set(session.scalars(select(column).where(column.in_(numbers[start : start + CHUNK]))))
        return found

    return lookup


@dataclass
class MovementImport:
    kind: str
    rows_good: int = 0
    rows_written: int = 0
    duplicates: int = 0
    problems: list[ErrorDetail] = field(default_factory=list)
    stays_from_points: int | None = None
    stored: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows_good": self.rows_good,
            "rows_written": self.rows_written,
            "duplicates": self.duplicates,
            "rows_rejected": len({p.row for p in self.problems if p.row}),
            "problems": [p.as_dict() for p in self.problems[:1000]],
            "stays_from_points": self.stays_from_points,
            "stored": self.stored,
        }


def import_file(
    *,
    session: Session,
    actor: Actor,
    kind: Kind,
    source: Path | pa.Table,
    strict: bool = False,
    store_dir: Path | None = None,
) -> MovementImport:
    """Validate and store. With `strict`, a file with any bad row stores nothing."""
    authorize(actor, "movement.import")
    settings = get_settings()
    store = store_dir or settings.resolved_movement_dir
    persons = _known(session, Person.id)
    result = MovementImport(kind)
    if kind == "gps":
        good, problems = _gps(source, persons, settings.timezone)
        result.stays_from_points = good.num_rows
        store_kind = "stays"
    else:
        options: dict[str, Any] = {"known_persons": persons, "id_type": "int"}
        if kind != "travel":
            options["tz"] = settings.timezone
        if kind == "checkins":
            options["known_places"] = _known(session, Place.id)
            options["place_id_type"] = "int"
        validate = {
            "stays": ingest.validate_stays,
            "checkins": ingest.validate_checkins,
            "travel": ingest.validate_travel,
        }[kind]
        good, problems = validate(source, **options)
        store_kind = kind
    result.problems, result.rows_good = problems, good.num_rows
    if good.num_rows and not (strict and problems):
        batch = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        write = {
            "stays": ingest.store_stays,
            "checkins": ingest.store_checkins,
            "travel": ingest.store_travel,
        }[store_kind]
        stored = write(good, store, batch_id=batch)
        result.rows_written, result.duplicates, result.stored = stored.written, stored.duplicates, True
    audit.record(
        session,
        actor,
        "movement.import",
        "movement",
        kind,
        after={k: v for k, v in result.as_dict().items() if k != "problems"},
    )
    return result


def _gps(source: Path | pa.Table, persons: Any, tz: str) -> tuple[pa.Table, list[ErrorDetail]]:
    """Raw points (`person_id, time, lon, lat`, CSV or Parquet) → stays (the stay-point method of
    docs/movement-data.md) → the stays validation. Bad points are reported row by row."""
    import zoneinfo

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from fangkong.errors import Invalid
    from fangkong.tracing.staypoints import stays_from_points

    columns = ("person_id", "time", "lon", "lat")
    try:
        if isinstance(source, pa.Table):
            table = source
        elif source.suffix == ".parquet":
            table = pq.read_table(source)
        else:
            table = pacsv.read_csv(
                source, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string()))
            )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise Invalid(
            "the file cannot be read as CSV (UTF-8) or Parquet",
            [ErrorDetail("file", str(exc).splitlines()[0][:200])],
        ) from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise Invalid(
            f"missing required column(s): {', '.join(missing)}",
            [ErrorDetail(c, "required column missing") for c in missing],
        )
    if table.num_rows == 0:
        raise Invalid("the file has no points", [ErrorDetail("file", "no data rows")])
    zone = zoneinfo.ZoneInfo(tz)
    problems: list[ErrorDetail] = []
    good: dict[str, list[Any]] = {c: [] for c in columns}
    for row, values in enumerate(zip(*(table.column(c).to_pylist() for c in columns), strict=True), start=1):
        pid, time, lon, lat = values
        try:
            person = int(str(pid).strip())
        except ValueError:
            problems.append(ErrorDetail("person_id", "not an integer person id", pid, row))
            continue
        try:
            moment = time if isinstance(time, dt.datetime) else dt.datetime.fromisoformat(str(time).strip())
        except ValueError:
            problems.append(ErrorDetail("time", "not an ISO 8601 time", time, row))
            continue
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
        try:
            x, y = float(lon), float(lat)
        except (TypeError, ValueError):
            problems.append(ErrorDetail("lon", "not a number", lon, row))
            continue
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            problems.append(
                ErrorDetail(
                    "lon" if not -180 <= x <= 180 else "lat",
                    "outside the valid range",
                    lon if not -180 <= x <= 180 else lat,
                    row,
                )
            )
            continue
        for c, v in zip(columns, (person, moment.astimezone(dt.UTC), x, y), strict=True):
            good[c].append(v)
    points = pa.table(
        {
            "person_id": pa.array(good["person_id"], pa.int64()),
            "time": pa.array(good["time"], pa.timestamp("us", tz="UTC")),
            "lon": pa.array(good["lon"], pa.float64()),
            "lat": pa.array(good["lat"], pa.float64()),
        }
    )
    if points.num_rows == 0:
        return ingest.validate_stays(
            pa.table(
                {
                    "person_id": pa.array([], pa.int64()),
                    "start": pa.array([], pa.timestamp("us", tz="UTC")),
                    "end": pa.array([], pa.timestamp("us", tz="UTC")),
                    "lon": pa.array([], pa.float64()),
                    "lat": pa.array([], pa.float64()),
                }
            ),
            known_persons=persons,
            tz=tz,
            id_type="int",
        )[0], problems
    stays = stays_from_points(points)
    if stays.num_rows == 0:
        return stays.select(["person_id", "start", "end", "lon", "lat"]), problems
    good_stays, stay_problems = ingest.validate_stays(
        stays.select(["person_id", "start", "end", "lon", "lat"]), known_persons=persons, tz=tz, id_type="int"
    )
    # A stay's problems (e.g. an unknown person) name the stay row; say which points it came from.
    return good_stays, problems + [
        ErrorDetail(p.field, f"{p.reason} (stay made of GPS points)", p.value, None) for p in stay_problems
    ]
