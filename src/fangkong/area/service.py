"""Areas: load the national division list, add communities and grids, read the tree."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from fangkong.area import codes
from fangkong.area.models import Area
from fangkong.area.schemas import AreaCreate
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.errors import Conflict, ErrorDetail, Invalid, NotFound, invalid
from fangkong.events import service as events

# Province-level regions the statistical list leaves out (names only upstream).
_EXTRA_PROVINCES = (("71", "台湾省"), ("81", "香港特别行政区"), ("82", "澳门特别行政区"))
_FILES = (
    ("provinces.csv", "province"),
    ("cities.csv", "city"),
    ("areas.csv", "county"),
    ("streets.csv", "township"),
)


def iter_national(source: Path | None = None) -> Iterator[tuple[str, str, str]]:
    """Yield (code, name, level) from the division CSVs, provinces first."""
    for name, level in _FILES:
        if source is None:
            text = resources.files("fangkong.area.data").joinpath(name).read_text("utf-8")
        else:
            path = source / name
            if not path.exists():
                raise invalid("source", f"{path} not found (expected {', '.join(f for f, _ in _FILES)})")
            text = path.read_text("utf-8")
        for lineno, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            code, area_name = (row.get("code") or "").strip(), (row.get("name") or "").strip()
            if not code.isdigit() or len(code) != codes.LEVEL_LENGTH[level] or not area_name:
                raise Invalid(f"bad row in {name}", [ErrorDetail("code", "malformed row", code, lineno)])
            yield code, area_name, level
        if level == "province":
            yield from ((c, n, "province") for c, n in _EXTRA_PROVINCES)


def load_national(
    *, session: Session, actor: Actor, source: Path | None = None, provinces: Iterable[str] = ()
) -> dict[str, int]:
    """Insert the national list (or only some provinces); rename changed names. Idempotent."""
    authorize(actor, "area.manage")
    only = {p.strip() for p in provinces if p.strip()}
    existing = dict(session.execute(select(Area.code, Area.name)).all())
    new_rows: list[dict[str, object]] = []
    renamed = 0
    for code, name, level in iter_national(source):
        if only and code[:2] not in only:
            continue
        if code in existing:
            if existing[code] != name:
                session.execute(update(Area).where(Area.code == code).values(name=name))
                renamed += 1
            continue
        parent = codes.parent_of(code)
        new_rows.append({"code": code, "name": name, "level": level, "parent_code": parent, "local": False})
        existing[code] = name
    for start in range(0, len(new_rows), 5000):
        session.execute(insert(Area), new_rows[start : start + 5000])
    result = {"inserted": len(new_rows), "renamed": renamed, "total": len(existing)}
    audit.record(session, actor, "area.load", "area", None, after=result)
    return result


def get(*, session: Session, code: str) -> Area:
    area = session.get(Area, codes.normalize(code))
    if area is None:
        raise NotFound(f"area {code} not found", [ErrorDetail("area_code", "unknown area code", code)])
    return area


def require_existing(session: Session, code: str, *, field: str = "area_code") -> str:
    """Normalise `code` and check that the area exists; return the short code."""
    short = codes.normalize(code, field=field)
    if session.get(Area, short) is None:
        raise Invalid(f"unknown area {code}", [ErrorDetail(field, "unknown area code", code)])
    return short


def children(*, session: Session, actor: Actor, code: str | None) -> list[Area]:
    authorize(actor, "area.read")
    q = select(Area).order_by(Area.code)
    q = (
        q.where(Area.parent_code.is_(None))
        if code is None
        else q.where(Area.parent_code == codes.normalize(code))
    )
    return list(session.scalars(q))


def search(
    *,
    session: Session,
    actor: Actor,
    q: str | None = None,
    level: str | None = None,
    within: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[Area]:
    """Areas by name fragment / level / subtree, keyset-paginated by code."""
    authorize(actor, "area.read")
    stmt = select(Area).order_by(Area.code).limit(limit)
    if q:
        stmt = stmt.where(Area.name.contains(q, autoescape=True))
    if level:
        if level not in codes.LEVELS:
            raise invalid("level", f"unknown level; expected one of {', '.join(codes.LEVELS)}", level)
        stmt = stmt.where(Area.level == level)
    if within:
        root = codes.normalize(within, field="within")
        stmt = stmt.where(Area.code.startswith(root, autoescape=True))
    if after:
        stmt = stmt.where(Area.code > after)
    return list(session.scalars(stmt))


def visible(*, session: Session, actor: Actor, code: str) -> Area:
    authorize(actor, "area.read")
    area = get(session=session, code=code)
    if actor.area_code and not (
        area.code.startswith(actor.area_code) or actor.area_code.startswith(area.code)
    ):
        # Ancestors of the jurisdiction stay readable (for breadcrumbs); other branches do not.
        authorize(actor, "area.read", area)
    return area


def create_local(*, session: Session, actor: Actor, data: AreaCreate) -> Area:
    """Add a community under a township or a grid under a community."""
    parent = get(session=session, code=data.parent_code)
    authorize(actor, "area.manage", parent)
    child_level = {"township": "community", "community": "grid"}.get(parent.level)
    if child_level is None:
        raise invalid(
            "parent_code",
            f"communities go under a township and grids under a community, not under a {parent.level}",
            data.parent_code,
        )
    width = codes.LEVEL_LENGTH[child_level] - len(parent.code)
    if data.code:
        code = codes.normalize(data.code, field="code")
        if not code.startswith(parent.code) or len(code) != codes.LEVEL_LENGTH[child_level]:
            raise invalid(
                "code",
                f"a {child_level} code under {parent.code} has "
                f"{codes.LEVEL_LENGTH[child_level]} digits and starts with {parent.code}",
                data.code,
            )
        if session.get(Area, code) is not None:
            raise Conflict(f"area {code} already exists", [ErrorDetail("code", "already exists", code)])
    else:
        last = session.scalar(select(func.max(Area.code)).where(Area.parent_code == parent.code))
        seq = int(last[len(parent.code) :]) + 1 if last else 1
        if seq >= 10**width:
            raise Conflict(f"no free {child_level} code left under {parent.code}")
        code = parent.code + str(seq).zfill(width)
    dup = session.scalar(select(Area.code).where(Area.parent_code == parent.code, Area.name == data.name))
    if dup:
        raise Conflict(
            f"{parent.name} already has a {child_level} named {data.name} ({dup})",
            [ErrorDetail("name", "duplicate name under the same parent", data.name)],
        )
    area = Area(
        code=code,
        name=data.name,
        level=child_level,
        parent_code=parent.code,
        local=True,
        lon=data.lon,
        lat=data.lat,
    )
    session.add(area)
    session.flush()
    audit.record(session, actor, "area.create", "area", code, after=_snapshot(area), area_code=code)
    events.emit(session, "area.created", "area", code, {"level": child_level}, actor=actor)
    return area


def path(*, session: Session, code: str) -> list[Area]:
    """The area and its ancestors, root first."""
    chain: list[str] = []
    current: str | None = codes.normalize(code)
    while current is not None:
        chain.append(current)
        current = codes.parent_of(current)
    found = {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(chain)))}
    return [found[c] for c in reversed(chain) if c in found]


def full_name(*, session: Session, code: str) -> str:
    return "".join(a.name for a in path(session=session, code=code) if a.name != "市辖区")


def in_jurisdiction_count(*, session: Session, actor: Actor) -> int:
    return (
        session.scalar(select(func.count()).select_from(Area).where(jurisdiction_filter(actor, Area.code)))
        or 0
    )


def _snapshot(area: Area) -> dict[str, object]:
    return {
        "code": area.code,
        "name": area.name,
        "level": area.level,
        "parent_code": area.parent_code,
        "lon": area.lon,
        "lat": area.lat,
    }
