"""Round progress and coverage (应检尽检): per community, expected, sampled, missing, results
pending and positive; late tubes against the profile's result deadlines and stage limits; who is
missing (masked per role), exportable to .xlsx for community workers; a resident's own records."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, can
from fangkong.db.base import utcnow
from fangkong.errors import Forbidden
from fangkong.nat import rounds
from fangkong.nat.models import RoundMember, Sample, SamplingSite, Tube
from fangkong.person.models import Person
from fangkong.privacy import mask_address, mask_name, mask_phone


@dataclass
class CommunityProgress:
    area_code: str
    area_name: str
    expected: int
    sampled: int
    missing: int
    pending: int  # sampled, result not reported yet
    positive: int  # sampled into a positive tube

    @property
    def share(self) -> float:
        return self.sampled / self.expected if self.expected else 0.0


@dataclass
class RoundProgress:
    round_id: int
    name: str
    status: str
    expected: int
    sampled: int
    missing: int
    unexpected: int  # sampled in the round but not expected (lives elsewhere …)
    tubes: dict[str, int]
    late_tubes: int
    communities: list[CommunityProgress]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for c, row in zip(out["communities"], self.communities, strict=True):
            c["share"] = round(row.share, 4)
        out["share"] = round(self.sampled / self.expected, 4) if self.expected else 0.0
        return out


def progress(
    *,
    session: Session,
    actor: Actor,
    round_id: int,
    area_code: str | None = None,
    now: dt.datetime | None = None,
) -> RoundProgress:
    r = rounds.get(session, actor, round_id)
    now = now or utcnow()
    member = and_(RoundMember.round_id == r.id)
    if area_code:
        member = and_(member, RoundMember.area_code.startswith(area_code))
    if actor.area_code:
        member = and_(member, RoundMember.area_code.startswith(actor.area_code))
    # One pass: each sampled person's state in the round, then members grouped by community.
    per_person = (
        select(
            Sample.person_id.label("pid"),
            func.max(case((Tube.status != "reported", 1), else_=0)).label("pending"),
            func.max(case((Tube.result == "positive", 1), else_=0)).label("positive"),
        )
        .join(Tube, Tube.id == Sample.tube_id)
        .where(Sample.round_id == r.id)
        .group_by(Sample.person_id)
        .subquery()
    )
    expected: dict[str, int] = {}
    sampled: dict[str, int] = {}
    pending: dict[str, int] = {}
    positive: dict[str, int] = {}
    for code, n, got, pend, pos in session.execute(
        select(
            RoundMember.area_code,
            func.count(),
            func.count(per_person.c.pid),
            func.coalesce(func.sum(per_person.c.pending), 0),
            func.coalesce(func.sum(per_person.c.positive), 0),
        )
        .outerjoin(per_person, per_person.c.pid == RoundMember.person_id)
        .where(member)
        .group_by(RoundMember.area_code)
    ):
        expected[code], sampled[code], pending[code], positive[code] = int(n), int(got), int(pend), int(pos)
    unexpected = (
        session.scalar(
            select(func.count(func.distinct(Sample.person_id)))
            .outerjoin(
                RoundMember,
                and_(RoundMember.round_id == Sample.round_id, RoundMember.person_id == Sample.person_id),
            )
            .where(Sample.round_id == r.id, RoundMember.person_id.is_(None))
        )
        or 0
    )
    tubes = dict(
        session.execute(
            select(Tube.status, func.count()).where(Tube.round_id == r.id).group_by(Tube.status)
        ).all()
    )
    names = dict(session.execute(select(Area.code, Area.name).where(Area.code.in_(list(expected)))).all())
    rows = [
        CommunityProgress(
            area_code=code,
            area_name=names.get(code, code),
            expected=n,
            sampled=sampled.get(code, 0),
            missing=n - sampled.get(code, 0),
            pending=pending.get(code, 0),
            positive=positive.get(code, 0),
        )
        for code, n in sorted(expected.items())
    ]
    return RoundProgress(
        round_id=r.id,
        name=r.name,
        status=r.status,
        expected=sum(expected.values()),
        sampled=sum(sampled.values()),
        missing=sum(c.missing for c in rows),
        unexpected=int(unexpected),
        tubes={k: int(v) for k, v in tubes.items()},
        late_tubes=late_tubes(session, r.id, now),
        communities=rows,
    )


def late_tubes(session: Session, round_id: int | None, now: dt.datetime) -> int:
    """Tubes without a result that are late (`fangkong.nat.turnaround`): past the profile's
    deadline for their setting (counted from when they were closed, or opened), or over the
    profile's limit for the stage they are in."""
    from fangkong.nat.turnaround import count_late

    return count_late(session, now, round_id=round_id)


MISSING_HEADER = {
    "zh-CN": ["人员编号", "姓名", "手机号", "住址", "所属社区", "指定采样点", "距离(米)"],
    "en": ["Person ID", "Name", "Phone", "Address", "Community", "Assigned site", "Distance (m)"],
}


def missing(
    *,
    session: Session,
    actor: Actor,
    round_id: int,
    area_code: str | None = None,
    unmask_reason: str | None = None,
    limit: int | None = None,
) -> list[list[Any]]:
    """Who is expected and not yet sampled, with phone (masked unless the actor may read
    personal data and gives a reason — then audited)."""
    r = rounds.get(session, actor, round_id)
    unmasked = False
    if unmask_reason:
        if not can(actor, "person.read_pii"):
            raise Forbidden("your role may not read unmasked personal data")
        unmasked = True
    sampled = select(Sample.person_id).where(
        Sample.round_id == r.id, Sample.person_id == RoundMember.person_id
    )
    stmt = (
        select(
            Person.id,
            Person.name,
            Person.phone,
            Person.address,
            RoundMember.area_code,
            SamplingSite.name,
            RoundMember.distance_m,
        )
        .join(Person, Person.id == RoundMember.person_id)
        .outerjoin(SamplingSite, SamplingSite.id == RoundMember.site_id)
        .where(RoundMember.round_id == r.id, ~sampled.exists())
        .order_by(RoundMember.area_code, Person.id)
    )
    if area_code:
        stmt = stmt.where(RoundMember.area_code.startswith(area_code))
    if actor.area_code:
        stmt = stmt.where(RoundMember.area_code.startswith(actor.area_code))
    if limit:
        stmt = stmt.limit(limit)
    out = []
    for pid, name, phone, address, community, site, distance in session.execute(stmt):
        out.append(
            [
                pid,
                name if unmasked else mask_name(name),
                (phone if unmasked else mask_phone(phone)) if phone else "",
                (address or "") if unmasked else (mask_address(address) or ""),
                community,
                site or "",
                round(distance) if distance is not None else "",
            ]
        )
    if unmasked:
        audit.record(
            session,
            actor,
            "nat.missing_unmasked",
            "nat_round",
            r.id,
            reason=unmask_reason,
            after={"area_code": area_code, "rows": len(out)},
            area_code=area_code or r.area_code,
        )
    return out


def missing_xlsx(rows: list[list[Any]], lang: str = "zh-CN") -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("未检人员" if lang != "en" else "Missing")
    ws.append(MISSING_HEADER["en" if lang == "en" else "zh-CN"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def own_records(*, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """A resident's own sampling records with the tube's state and result."""
    authorize(actor, "nat.own")
    if actor.person_id is None:
        raise Forbidden("this account is not linked to a person")
    rows = session.execute(
        select(
            Sample.collected_at, SamplingSite.name, Tube.capacity, Tube.status, Tube.result, Tube.reported_at
        )
        .join(Tube, Tube.id == Sample.tube_id)
        .join(SamplingSite, SamplingSite.id == Sample.site_id)
        .where(Sample.person_id == actor.person_id)
        .order_by(Sample.collected_at.desc())
        .limit(100)
    ).all()
    return [
        {
            "collected_at": at,
            "site": site,
            "pooled": capacity > 1,
            "status": status,
            "result": result if status == "reported" else None,
            "reported_at": reported,
        }
        for at, site, capacity, status, result, reported in rows
    ]
