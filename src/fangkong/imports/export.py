"""Exports of the registry lists (persons, households, venues, units) to .xlsx and .csv, and
of the export-only lists (areas, the audit trail; see `fangkong.imports.export_lists`).

Rows are read in id order (areas: code order), 5,000 at a time (keyset pagination, plain
rows rather than ORM objects), and written as they come: openpyxl's write-only workbook or a
CSV writer, so a list of a million persons is exported with bounded memory. The filters are those of the
search services, and the actor's jurisdiction always applies.

Personal data (persons: name, ID number, phone, address, coordinates, birth date; households:
address) is masked unless the actor may `person.read_pii` and states a reason. Every export
leaves one audit row: `<resource>.export`, or `person.export_pii` / `household.export_pii`
for an unmasked one, with the filters, the row count and the reason. The audit trail's own
snapshots are always masked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fangkong import crud
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.errors import invalid
from fangkong.imports import columns as cols
from fangkong.imports import export_lists
from fangkong.person import service as persons
from fangkong.person.models import Household, Person, PersonIdentifier, PersonKeyGroup
from fangkong.place.models import Place
from fangkong.place.service import PLACE
from fangkong.privacy import mask_address, mask_id, mask_name, mask_phone
from fangkong.unit.models import Unit
from fangkong.unit.service import UNIT

CHUNK = 5_000
FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
READ_ACTION = {
    "persons": "person.export",
    "households": "person.export",
    "venues": "place.read",
    "units": "unit.read",
    "areas": "area.read",
    "audit": "audit.read",
}
RESOURCE = {
    "persons": "person",
    "households": "household",
    "venues": "place",
    "units": "unit",
    "areas": "area",
    "audit": "audit",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Query = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class ExportFilters:
    """The search filters; each applies only to the kinds whose search service has it."""

    q: str | None = None
    area_code: str | None = None
    key_group: str | None = None
    category: str | None = None
    id_number: str | None = None
    phone: str | None = None
    venue_code: str | None = None
    level: str | None = None  # areas
    user: str | None = None  # audit: the account's login name
    action: str | None = None  # audit
    resource_type: str | None = None  # audit
    resource_id: str | None = None  # audit
    since: str | None = None  # audit: first local date, YYYY-MM-DD
    until: str | None = None  # audit: last local date, YYYY-MM-DD

    def given(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


@dataclass
class ExportResult:
    kind: str
    fmt: str
    rows: int
    masked: bool


def headers(kind: str, lang: str = "zh-CN") -> list[str]:
    return [c.header(lang) for c in cols.export_columns(kind)]


def export(
    *,
    session: Session,
    actor: Actor,
    kind: str,
    fmt: str,
    out: IO[bytes],
    filters: ExportFilters | None = None,
    unmask_reason: str | None = None,
    lang: str = "zh-CN",
) -> ExportResult:
    """Write the list to `out` (a binary stream) and record the audit row."""
    kind = cols.export_kind(kind)
    if fmt not in FORMATS:
        raise invalid("format", f"unknown format; expected {' or '.join(FORMATS)}", fmt)
    if lang not in ("zh-CN", "en"):
        raise invalid("lang", "expected zh-CN or en", lang)
    authorize(actor, READ_ACTION[kind])
    filters = filters or ExportFilters()
    reason = (unmask_reason or "").strip()
    masked = True
    if reason:
        if kind not in ("persons", "households"):
            raise invalid("unmask_reason", "only person and household lists can be unmasked")
        authorize(actor, "person.read_pii")
        if len(reason) < 4:
            raise invalid(
                "unmask_reason", "state why you need the unmasked data (at least 4 characters)", reason
            )
        masked = False
    stmt, cells = _QUERIES[kind](actor, filters)
    rows = (cells(chunk, session, masked, lang) for chunk in _keyset(session, stmt))
    count = (_write_xlsx if fmt == "xlsx" else _write_csv)(out, headers(kind, lang), rows)
    resource = RESOURCE[kind]
    audit.record(
        session,
        actor,
        f"{resource}.export" if masked else f"{resource}.export_pii",
        resource,
        None,
        reason=reason or None,
        area_code=actor.area_code,
        after={
            "kind": kind,
            "format": fmt,
            "filters": filters.given(),
            "rows": count,
            "masked": masked,
            "lang": lang,
        },
    )
    session.flush()
    return ExportResult(kind=kind, fmt=fmt, rows=count, masked=masked)


def _keyset(session: Session, stmt: Query) -> Iterator[Sequence[Any]]:
    """Chunks in the order of the first selected column (an id, or an area's code)."""
    key = stmt.selected_columns[0]
    last: Any = None
    while True:
        page = stmt if last is None else stmt.where(key > last)
        chunk = session.execute(page.order_by(key).limit(CHUNK)).all()
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


# ---------------------------------------------------------------- writers


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write_csv(out: IO[bytes], header: list[str], chunks: Iterator[list[list[Any]]]) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for chunk in chunks:
        writer.writerows([["" if v is None else _safe(v) for v in row] for row in chunk])
        count += len(chunk)
    text.flush()
    text.detach()
    return count


def _write_xlsx(out: IO[bytes], header: list[str], chunks: Iterator[list[list[Any]]]) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("export")
    ws.freeze_panes = "A2"
    for i, title in enumerate(header):
        ws.column_dimensions[_letter(i)].width = max(10, min(40, len(title.encode()) + 4))
    bold = Font(bold=True)
    head = []
    for title in header:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        head.append(cell)
    ws.append(head)
    count = 0
    for chunk in chunks:
        for row in chunk:
            values: list[Any] = []
            for v in row:
                if isinstance(v, str):
                    v = ILLEGAL_CHARACTERS_RE.sub("", v)
                    if v.startswith("="):  # text, never a formula
                        cell = WriteOnlyCell(ws, value=v)
                        cell.data_type = "s"
                        v = cell
                values.append(v)
            ws.append(values)
        count += len(chunk)
    wb.save(out)
    return count


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


# ---------------------------------------------------------------- queries and rows


Cells = Callable[[Sequence[Any], Session, bool, str], list[list[Any]]]


def _persons(actor: Actor, f: ExportFilters) -> tuple[Query, Cells]:
    stmt = (
        select(
            Person.id,
            Person.name,
            Person.sex,
            Person.birth_date,
            Person.phone,
            Person.area_code,
            Person.address,
            Person.lon,
            Person.lat,
            Household.external_ref,
            Person.household_relation,
            Unit.credit_code,
            Person.nationality,
        )
        .outerjoin(Household, Household.id == Person.household_id)
        .outerjoin(Unit, Unit.id == Person.work_unit_id)
        .where(
            *persons.conditions(
                actor,
                q=f.q,
                id_number=f.id_number,
                phone=f.phone,
                area_code=f.area_code,
                key_group=f.key_group,
            )
        )
    )
    return stmt, _person_cells


def _person_cells(chunk: Sequence[Any], session: Session, masked: bool, lang: str) -> list[list[Any]]:
    ids = [r[0] for r in chunk]
    idents: dict[int, tuple[str, str]] = {}
    for pid, id_kind, value in session.execute(
        select(PersonIdentifier.person_id, PersonIdentifier.kind, PersonIdentifier.value)
        .where(PersonIdentifier.person_id.in_(ids))
        .order_by(PersonIdentifier.is_primary.desc(), PersonIdentifier.id)
    ):
        idents.setdefault(pid, (id_kind, value))
    groups: dict[int, list[str]] = {}
    for pid, group in session.execute(
        select(PersonKeyGroup.person_id, PersonKeyGroup.key_group)
        .where(PersonKeyGroup.person_id.in_(ids))
        .order_by(PersonKeyGroup.key_group)
    ):
        groups.setdefault(pid, []).append(group)
    out = []
    for pid, name, sex, birth, phone, area, address, lon, lat, ref, relation, credit, nationality in chunk:
        kind: str | None = None
        number: str | None = None
        if pid in idents:
            kind, number = idents[pid]
        if masked:
            name, number, phone = mask_name(name), mask_id(number), mask_phone(phone)
            address, lon, lat = mask_address(address), None, None
            birth = birth.year if birth else None
        out.append(
            [
                pid,
                name,
                cols.label_of("id_kind", kind, lang),
                number,
                cols.label_of("sex", sex, lang),
                birth.isoformat() if hasattr(birth, "isoformat") else birth,
                phone,
                area,
                address,
                lon,
                lat,
                ref,
                cols.label_of("household_relation", relation, lang),
                credit,
                cols.join_key_groups(groups.get(pid, []), lang),
                nationality,
            ]
        )
    return out


def _households(actor: Actor, f: ExportFilters) -> tuple[Query, Cells]:
    stmt = select(Household.id, Household.external_ref, Household.area_code, Household.address).where(
        jurisdiction_filter(actor, Household.area_code),
        *([crud.within_area(Household.area_code, f.area_code)] if f.area_code else []),
    )

    def cells(chunk: Sequence[Any], session: Session, masked: bool, lang: str) -> list[list[Any]]:
        return [
            [hid, ref, area, mask_address(address) if masked else address]
            for hid, ref, area, address in chunk
        ]

    return stmt, cells


def _venues(actor: Actor, f: ExportFilters) -> tuple[Query, Cells]:
    stmt = (
        select(
            Place.id,
            Place.name,
            Place.category,
            Place.area_code,
            Place.address,
            Place.lon,
            Place.lat,
            Place.capacity,
            Unit.credit_code,
            Place.venue_code,
        )
        .outerjoin(Unit, Unit.id == Place.responsible_unit_id)
        .where(*crud.conditions(PLACE, actor, q=f.q, category=f.category, area_code=f.area_code))
    )
    if f.venue_code:
        stmt = stmt.where(Place.venue_code == f.venue_code.strip().upper())

    def cells(chunk: Sequence[Any], session: Session, masked: bool, lang: str) -> list[list[Any]]:
        return [[r[0], r[1], cols.label_of("place_category", r[2], lang), *r[3:]] for r in chunk]

    return stmt, cells


def _units(actor: Actor, f: ExportFilters) -> tuple[Query, Cells]:
    stmt = select(
        Unit.id,
        Unit.name,
        Unit.category,
        Unit.area_code,
        Unit.address,
        Unit.lon,
        Unit.lat,
        Unit.credit_code,
        Unit.contact_name,
        Unit.contact_phone,
    ).where(*crud.conditions(UNIT, actor, q=f.q, category=f.category, area_code=f.area_code))

    def cells(chunk: Sequence[Any], session: Session, masked: bool, lang: str) -> list[list[Any]]:
        return [[r[0], r[1], cols.label_of("unit_category", r[2], lang), *r[3:]] for r in chunk]

    return stmt, cells


_QUERIES: dict[str, Callable[[Actor, ExportFilters], tuple[Query, Cells]]] = {
    "persons": _persons,
    "households": _households,
    "venues": _venues,
    "units": _units,
    "areas": export_lists.areas,
    "audit": export_lists.audit_trail,
}


def filename(kind: str, fmt: str, when: Any = None) -> str:
    import datetime as dt

    stamp: str = (when or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    canonical = cols.export_kind(kind)
    name = "places" if canonical == "venues" else canonical
    return f"{name}-{stamp}.{fmt}"
