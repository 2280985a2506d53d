"""Importing registry sheets (persons, households, venues, units).

`import_file` reads a sheet, validates every row with the same pydantic schemas as the API,
checks the rows against the database with set-based queries (area codes and jurisdiction,
identifiers already registered, duplicates within the file, household references, credit
codes, venue codes) and stores the good rows with bulk inserts, all in the caller's
transaction (it flushes, never commits).

Modes: all-or-nothing (default: any rejected row → nothing is stored), `partial=True`
(the good rows are stored) and `dry_run=True` (nothing is stored; the report is produced).
A stored import leaves one `ImportBatch` row (every stored row points to it), one audit row
and one domain event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.errors import Conflict, ErrorDetail
from fangkong.events import service as events
from fangkong.imports import columns as cols
from fangkong.imports.models import ImportBatch
from fangkong.imports.plans import PLANS, STORE, Rows
from fangkong.imports.reader import read_sheet

ACTION = {
    "persons": "person.import",
    "households": "person.import",
    "venues": "place.manage",
    "units": "unit.manage",
}
RESOURCE = {"persons": "person", "households": "household", "venues": "place", "units": "unit"}


@dataclass
class ImportResult:
    kind: str
    filename: str
    sha256: str
    partial: bool
    dry_run: bool
    rows_total: int = 0
    rows_stored: int = 0
    rows_rejected: int = 0
    stored: bool = False
    batch_id: int | None = None
    errors: list[ErrorDetail] = field(default_factory=list)
    warnings: list[ErrorDetail] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return "partial" if self.partial else "all_or_nothing"

    def summary(self, max_problems: int | None = None) -> dict[str, Any]:
        def rows(items: list[ErrorDetail]) -> list[dict[str, Any]]:
            return [
                {"row": d.row, "column": d.field, "value": d.value, "reason": d.reason}
                for d in items[:max_problems]
            ]

        return {
            "kind": self.kind,
            "filename": self.filename,
            "batch_id": self.batch_id,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "rows_total": self.rows_total,
            "rows_stored": self.rows_stored,
            "rows_rejected": self.rows_rejected,
            "stored": self.stored,
            "errors_total": len(self.errors),
            "errors": rows(self.errors),
            "warnings": rows(self.warnings),
        }


# ---------------------------------------------------------------- entry point


def import_file(
    *,
    session: Session,
    actor: Actor,
    kind: str,
    path: Path | str,
    filename: str | None = None,
    partial: bool = False,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> ImportResult:
    kind = cols.canonical_kind(kind)
    authorize(actor, ACTION[kind])
    path = Path(path)
    filename = filename or path.name
    result = ImportResult(
        kind=kind, filename=filename, sha256=_sha256(path), partial=partial, dry_run=dry_run
    )
    sheet = read_sheet(path, kind, filename=filename)
    if today is None:
        from fangkong.timeutil import local_today

        today = local_today()
    rows = Rows(sheet, session, actor, today)
    previous = session.execute(
        select(ImportBatch.id, ImportBatch.created_at)
        .where(ImportBatch.sha256 == result.sha256, ImportBatch.kind == kind)
        .order_by(ImportBatch.id)
        .limit(1)
    ).first()
    if previous is not None:
        rows.warnings.insert(
            0,
            ErrorDetail(
                "file", f"this file was already imported as batch {previous[0]} on {previous[1]:%Y-%m-%d}"
            ),
        )
    good = PLANS[kind](rows)
    good = [g for g in good if g.row not in rows.bad]
    order = {c.name: i for i, c in enumerate(cols.COLUMNS[kind])}
    heads = {sheet.header_of(n): i for n, i in order.items()}
    result.errors = sorted(rows.errors, key=lambda d: (d.row or 0, heads.get(d.field, 99)))
    result.warnings = sorted(rows.warnings, key=lambda d: (d.row or 0, heads.get(d.field, 99)))
    result.rows_total = sheet.total
    result.rows_rejected = len(rows.bad)
    if dry_run or not good or (rows.bad and not partial):
        return result
    try:
        batch = ImportBatch(
            kind=kind,
            filename=filename[:300],
            sha256=result.sha256,
            mode=result.mode,
            rows_total=result.rows_total,
            rows_stored=len(good),
            rows_rejected=result.rows_rejected,
            actor_id=actor.user_id,
        )
        session.add(batch)
        session.flush()
        STORE[kind](rows, good, batch.id)
        session.flush()
    except IntegrityError:
        raise Conflict(
            "the registry changed while the file was being imported (for example "
            "someone registered one of these persons meanwhile); nothing was stored; "
            "import the file again"
        ) from None
    result.batch_id, result.stored, result.rows_stored = batch.id, True, len(good)
    resource = RESOURCE[kind]
    audit.record(
        session,
        actor,
        f"{resource}.import",
        "import_batch",
        batch.id,
        after={
            "kind": kind,
            "filename": filename,
            "sha256": result.sha256,
            "mode": result.mode,
            "rows_total": result.rows_total,
            "rows_stored": result.rows_stored,
            "rows_rejected": result.rows_rejected,
        },
        area_code=actor.area_code,
    )
    events.emit(
        session,
        f"{resource}.imported",
        "import_batch",
        batch.id,
        {"kind": kind, "rows_stored": result.rows_stored},
        actor=actor,
    )
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
