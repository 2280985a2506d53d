"""How each kind of sheet is checked against the database and stored (set-based lookups,
bulk inserts). Used by `fangkong.imports.service.import_file`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.auth.actor import Actor
from fangkong.db.base import utcnow
from fangkong.errors import ErrorDetail
from fangkong.imports import columns as cols
from fangkong.imports.reader import Sheet
from fangkong.person.models import Household, Person, PersonIdentifier, PersonKeyGroup
from fangkong.person.schemas import HouseholdCreate, PersonCreate
from fangkong.place.models import Place
from fangkong.place.schemas import PlaceCreate
from fangkong.place.service import new_venue_code
from fangkong.unit.models import Unit
from fangkong.unit.schemas import UnitCreate
from fangkong.validation import details_from

CHUNK = 5_000  # values per IN (...) lookup and rows per bulk insert


class Rows:
    """The rows of a sheet and the problems found so far, by row."""

    def __init__(self, sheet: Sheet, session: Session, actor: Actor, today: dt.date) -> None:
        self.sheet, self.session, self.actor, self.today = sheet, session, actor, today
        self.raw = dict(sheet.rows)
        self.errors: list[ErrorDetail] = list(sheet.errors)
        self.warnings: list[ErrorDetail] = list(sheet.warnings)
        self.bad: set[int] = set(sheet.unreadable)

    def reject(self, row: int, name: str, reason: str, value: Any = None) -> None:
        self.bad.add(row)
        raw = self.raw.get(row, {})
        self.errors.append(
            ErrorDetail(self.sheet.header_of(name) if name else "", reason, raw.get(name, value), row)
        )

    def warn(self, row: int, name: str, reason: str) -> None:
        raw = self.raw.get(row, {})
        self.warnings.append(
            ErrorDetail(self.sheet.header_of(name) if name else "", reason, raw.get(name), row)
        )


@dataclass
class Good:
    row: int
    data: Any  # the validated schema object
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- row validation


def _validate(rows: Rows, schema: type[BaseModel], rename: dict[str, str] | None = None) -> list[Good]:
    """Validate each readable row: required cells, then the cell conversions of
    `columns.prepare` (codes, dates, credit codes), then the schema. Returns the rows that
    passed."""
    kind = rows.sheet.kind
    required = [c.name for c in cols.COLUMNS[kind] if c.required]
    back = {v: k for k, v in (rename or {}).items()}
    context = {"today": rows.today}
    good: list[Good] = []
    for row, values in rows.sheet.rows:
        if row in rows.bad:
            continue
        before = len(rows.errors)
        for name in required:
            if name not in values:
                rows.reject(row, name, "required; the cell is empty")
        data, extra, problems = cols.prepare(kind, values)
        for name, reason in problems:
            rows.reject(row, name, reason)
        if rename:
            data = {rename.get(k, k): v for k, v in data.items()}
        try:
            obj = schema.model_validate(data, context=context)
        except ValidationError as exc:
            seen = {d.field for d in rows.errors[before:]}
            for d in details_from(exc, row=row):
                name = back.get(d.field, d.field)
                name = "" if name == "input" else name
                if rows.sheet.header_of(name) not in seen or not name:
                    rows.reject(row, name, d.reason, d.value)
            continue
        if row not in rows.bad:
            good.append(Good(row, obj, extra))
    return good


# ---------------------------------------------------------------- set-based checks


def _chunks(items: Iterable[Any]) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _lookup(session: Session, key: Any, values: Iterable[Any], *cols_: Any) -> list[Any]:
    """Rows of (key, *cols_) whose key is one of `values` (chunked IN lists)."""
    out: list[Any] = []
    for chunk in _chunks(sorted(set(values))):
        out.extend(session.execute(select(key, *cols_).where(key.in_(chunk))).all())
    return out


def _check_areas(rows: Rows, good: list[Good]) -> None:
    known = {r[0] for r in _lookup(rows.session, Area.code, (g.data.area_code for g in good))}
    root = rows.actor.area_code
    for g in good:
        code = g.data.area_code
        if code not in known:
            rows.reject(g.row, "area_code", f"unknown area code {code}")
        elif root and not code.startswith(root):
            rows.reject(g.row, "area_code", f"{code} is outside your jurisdiction ({root})")


def _unique(
    rows: Rows,
    good: list[Good],
    name: str,
    key: Callable[[Good], Any],
    existing: Callable[[list[Any]], dict[Any, int]],
    what: str,
) -> None:
    """Reject rows whose key repeats an earlier row or an existing record."""
    first: dict[Any, int] = {}
    for g in good:
        k = key(g)
        if k is None or g.row in rows.bad:
            continue
        if k in first:
            rows.reject(g.row, name, f"same {rows.sheet.header_of(name)} as row {first[k]}")
        else:
            first[k] = g.row
    found = existing(list(first))
    for k, row in first.items():
        if k in found:
            rows.reject(row, name, f"already registered as {what} {found[k]}")


def _unit_ids(rows: Rows, good: list[Good], name: str) -> None:
    codes = {g.extra[name] for g in good if name in g.extra}
    ids = {c: i for c, i in _lookup(rows.session, Unit.credit_code, codes, Unit.id)}
    for g in good:
        code = g.extra.get(name)
        if code is None:
            continue
        if code in ids:
            g.extra[name] = ids[code]
        else:
            rows.reject(g.row, name, "no unit with this credit code is registered; import the units first")
            g.extra.pop(name)


def _plan_persons(rows: Rows) -> list[Good]:
    good = _validate(rows, PersonCreate)
    for g in good:
        for warning in g.data.warnings:
            rows.warn(g.row, "id_number", warning)
    _check_areas(rows, good)

    def existing(keys: list[tuple[str, str]]) -> dict[Any, int]:
        found = _lookup(
            rows.session,
            PersonIdentifier.value,
            (v for _k, v in keys),
            PersonIdentifier.kind,
            PersonIdentifier.person_id,
        )
        return {(kind, value): pid for value, kind, pid in found}

    _unique(
        rows,
        good,
        "id_number",
        lambda g: (g.data.id_kind, g.data.id_number) if g.data.id_number else None,
        existing,
        "person",
    )
    _unit_ids(rows, good, "work_unit_credit_code")
    refs = {g.data.household_ref for g in good if g.data.household_ref}
    homes = {
        ref: (hid, area)
        for ref, hid, area in _lookup(
            rows.session, Household.external_ref, refs, Household.id, Household.area_code
        )
    }
    root = rows.actor.area_code
    for g in good:
        ref = g.data.household_ref
        if ref in homes:
            hid, area = homes[ref]
            if root and not area.startswith(root):
                rows.reject(
                    g.row,
                    "household_ref",
                    f"household {ref} belongs to area {area}, outside your jurisdiction ({root})",
                )
            g.extra["household_id"] = hid
    return good


def _plan_households(rows: Rows) -> list[Good]:
    good = _validate(rows, HouseholdCreate, rename={"household_ref": "external_ref"})
    _check_areas(rows, good)
    _unique(
        rows,
        good,
        "household_ref",
        lambda g: g.data.external_ref,
        lambda keys: {r: i for r, i in _lookup(rows.session, Household.external_ref, keys, Household.id)},
        "household",
    )
    return good


def _plan_venues(rows: Rows) -> list[Good]:
    good = _validate(rows, PlaceCreate)
    for g in good:
        g.data.venue_code = g.data.venue_code.upper() if g.data.venue_code else None
    _check_areas(rows, good)
    _unit_ids(rows, good, "responsible_unit_credit_code")
    _unique(
        rows,
        good,
        "venue_code",
        lambda g: g.data.venue_code,
        lambda keys: {c: i for c, i in _lookup(rows.session, Place.venue_code, keys, Place.id)},
        "venue",
    )
    return good


def _plan_units(rows: Rows) -> list[Good]:
    good = _validate(rows, UnitCreate)
    _check_areas(rows, good)
    _unique(
        rows,
        good,
        "credit_code",
        lambda g: g.data.credit_code,
        lambda keys: {c: i for c, i in _lookup(rows.session, Unit.credit_code, keys, Unit.id)},
        "unit",
    )
    return good


PLANS: dict[str, Callable[[Rows], list[Good]]] = {
    "persons": _plan_persons,
    "households": _plan_households,
    "venues": _plan_venues,
    "units": _plan_units,
}


# ---------------------------------------------------------------- storing


def _insert(session: Session, model: Any, values: list[dict[str, Any]], returning: bool = False) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        if returning:
            stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
            ids.extend(session.execute(stmt, chunk).scalars())
        else:
            session.execute(insert(model), chunk)
    return ids


def _store_persons(rows: Rows, good: list[Good], batch_id: int) -> None:
    now = utcnow()
    new_homes: dict[str, dict[str, Any]] = {}
    for g in good:
        ref = g.data.household_ref
        if ref and "household_id" not in g.extra and ref not in new_homes:
            new_homes[ref] = {
                "area_code": g.data.area_code,
                "address": g.data.address or "",
                "external_ref": ref,
                "import_batch_id": batch_id,
                "created_at": now,
                "updated_at": now,
            }
    home_ids = dict(
        zip(
            new_homes, _insert(rows.session, Household, list(new_homes.values()), returning=True), strict=True
        )
    )
    people = []
    for g in good:
        d = g.data
        people.append(
            {
                "name": d.name,
                "sex": d.sex or "unknown",
                "birth_date": d.birth_date,
                "nationality": d.nationality or "CHN",
                "phone": d.phone,
                "area_code": d.area_code,
                "address": d.address,
                "lon": d.lon,
                "lat": d.lat,
                "household_id": g.extra.get("household_id") or home_ids.get(d.household_ref or ""),
                "household_relation": d.household_relation,
                "work_unit_id": g.extra.get("work_unit_credit_code"),
                "status": "active",
                "import_batch_id": batch_id,
                "created_at": now,
                "updated_at": now,
            }
        )
    ids = _insert(rows.session, Person, people, returning=True)
    idents: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for pid, g in zip(ids, good, strict=True):
        if g.data.id_number:
            idents.append(
                {
                    "person_id": pid,
                    "kind": g.data.id_kind,
                    "value": g.data.id_number,
                    "is_primary": True,
                    "created_at": now,
                }
            )
        groups.extend({"person_id": pid, "key_group": k} for k in g.data.key_groups or [])
    _insert(rows.session, PersonIdentifier, idents)
    _insert(rows.session, PersonKeyGroup, groups)


def _store_households(rows: Rows, good: list[Good], batch_id: int) -> None:
    now = utcnow()
    _insert(
        rows.session,
        Household,
        [
            {
                "area_code": g.data.area_code,
                "address": g.data.address,
                "external_ref": g.data.external_ref,
                "import_batch_id": batch_id,
                "created_at": now,
                "updated_at": now,
            }
            for g in good
        ],
    )


def _store_venues(rows: Rows, good: list[Good], batch_id: int) -> None:
    now = utcnow()
    _insert(
        rows.session,
        Place,
        [
            {
                "name": g.data.name,
                "category": g.data.category,
                "area_code": g.data.area_code,
                "address": g.data.address,
                "lon": g.data.lon,
                "lat": g.data.lat,
                "capacity": g.data.capacity,
                "responsible_unit_id": g.extra.get("responsible_unit_credit_code"),
                "venue_code": g.data.venue_code or new_venue_code(),
                "import_batch_id": batch_id,
                "created_at": now,
                "updated_at": now,
            }
            for g in good
        ],
    )


def _store_units(rows: Rows, good: list[Good], batch_id: int) -> None:
    now = utcnow()
    _insert(
        rows.session,
        Unit,
        [
            {
                "name": g.data.name,
                "category": g.data.category,
                "area_code": g.data.area_code,
                "address": g.data.address,
                "lon": g.data.lon,
                "lat": g.data.lat,
                "credit_code": g.data.credit_code,
                "contact_name": g.data.contact_name,
                "contact_phone": g.data.contact_phone,
                "import_batch_id": batch_id,
                "created_at": now,
                "updated_at": now,
            }
            for g in good
        ],
    )


STORE: dict[str, Callable[[Rows, list[Good], int], None]] = {
    "persons": _store_persons,
    "households": _store_households,
    "venues": _store_venues,
    "units": _store_units,
}
