"""Tubes and samples (采样): open a tube, register swabs into it by scanning a person's code,
ID card or passport, close it (by hand or when full), ship tubes to a lab in a transport box,
and receive the box at the lab.

Every step keeps its time and its account on the tube (or sample) row itself — that is the
audit trail of sampling, written in the same statement as the change.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, ErrorDetail, FangkongError, Forbidden, Invalid, NotFound, invalid
from fangkong.nat.intake import Registered, Swab, register_batch
from fangkong.nat.models import (
    Lab,
    LabMember,
    SamplingSite,
    Shipment,
    TestingRound,
    Tube,
)

BARCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{5,39}$")


def check_barcode(value: str, field_name: str = "barcode") -> str:
    value = value.strip()
    if not BARCODE.match(value):
        raise invalid(field_name, "6–40 letters, digits or '-', starting with a letter or digit", value)
    return value


def _site(session: Session, actor: Actor, site_id: int, *, open_only: bool = True) -> SamplingSite:
    site = session.get(SamplingSite, site_id)
    if site is None:
        raise NotFound(
            f"sampling site {site_id} not found", [ErrorDetail("site_id", "unknown site", site_id)]
        )
    authorize(actor, "nat.sample", site)
    if open_only and site.status != "open":
        raise Conflict(
            f"sampling site {site.code} is closed", [ErrorDetail("site_id", "site closed", site_id)]
        )
    return site


def tube_by_barcode(session: Session, barcode: str, field_name: str = "tube") -> Tube:
    tube = session.scalar(select(Tube).where(Tube.barcode == barcode.strip()))
    if tube is None:
        raise NotFound(f"unknown tube {barcode}", [ErrorDetail(field_name, "unknown tube barcode", barcode)])
    return tube


def open_tube(
    *,
    session: Session,
    actor: Actor,
    barcode: str,
    site_id: int,
    capacity: int | None = None,
    round_id: int | None = None,
    setting: str = "screening",
    now: dt.datetime | None = None,
) -> Tube:
    """Open a tube at a site (for a round, if given). Capacity defaults to the round's pool size;
    it must be one of the profile's allowed sizes."""
    from fangkong.nat import rounds

    now = now or utcnow()
    barcode = check_barcode(barcode)
    site = _site(session, actor, site_id)
    used = session.scalar(select(Tube).where(Tube.barcode == barcode))
    if used is not None:
        raise Conflict(
            f"tube {barcode} was already used ({used.status}, opened {used.opened_at:%Y-%m-%d %H:%M})",
            [ErrorDetail("barcode", "barcode already used", barcode)],
        )
    round_: TestingRound | None = None
    if round_id is not None:
        round_ = rounds.get_open(session, round_id)
    pooling = rounds.pooling_rules(session, now)
    size = capacity or (round_.default_pool_size if round_ else pooling.default_size)
    if size not in pooling.allowed_sizes:
        raise invalid("capacity", f"pool size must be one of {pooling.allowed_sizes} (policy profile)", size)
    tube = Tube(
        barcode=barcode,
        round_id=round_.id if round_ else None,
        site_id=site.id,
        capacity=size,
        setting=setting,
        opened_at=now,
        opened_by=actor.username,
    )
    session.add(tube)
    session.flush()
    return tube


def register(
    *,
    session: Session,
    actor: Actor,
    tube: str,
    scan: str,
    site_id: int,
    kind: str | None = None,
    now: dt.datetime | None = None,
) -> Registered:
    """One swab: the person (by scan) into the open tube (by barcode) at the sampler's site.
    A person sampled twice in one round is allowed (warned) but never twice in one tube.
    (The batch of one of `fangkong.nat.intake.register_batch`.)"""
    swab = Swab(tube=tube, scan=scan, site_id=site_id, at=now or utcnow(), actor=actor, kind=kind)
    (outcome,) = register_batch(session, [swab])
    if isinstance(outcome, FangkongError):
        raise outcome
    return outcome


def close_tube(*, session: Session, actor: Actor, barcode: str, now: dt.datetime | None = None) -> Tube:
    t = tube_by_barcode(session, barcode)
    _site(session, actor, t.site_id, open_only=False)
    if t.status != "open":
        raise Conflict(
            f"tube {t.barcode} is {t.status}", [ErrorDetail("tube", f"tube {t.status}", t.barcode)]
        )
    if t.members == 0:
        raise Conflict(f"tube {t.barcode} is empty", [ErrorDetail("tube", "no samples", t.barcode)])
    t.status, t.closed_at, t.closed_by = "closed", now or utcnow(), actor.username
    session.flush()
    return t


def ship(
    *,
    session: Session,
    actor: Actor,
    code: str,
    site_id: int,
    lab_code: str,
    barcodes: list[str],
    carrier: str | None = None,
    now: dt.datetime | None = None,
) -> Shipment:
    """Put closed tubes of a site into a transport box for a lab (采 → 送). Open tubes with
    samples are closed on the way; every problem is reported per barcode and nothing ships."""
    now = now or utcnow()
    code = check_barcode(code, "code")
    site = _site(session, actor, site_id, open_only=False)
    lab = lab_by_code(session, lab_code)
    if session.scalar(select(Shipment.id).where(Shipment.code == code)) is not None:
        raise Conflict(f"shipment {code} exists", [ErrorDetail("code", "shipment code already used", code)])
    if not barcodes:
        raise invalid("barcodes", "a shipment needs at least one tube")
    tubes = {t.barcode: t for t in session.scalars(select(Tube).where(Tube.barcode.in_(set(barcodes))))}
    problems: list[ErrorDetail] = []
    for n, b in enumerate(barcodes):
        t = tubes.get(b)
        where = f"barcodes[{n}]"
        if t is None:
            problems.append(ErrorDetail(where, "unknown tube barcode", b))
        elif t.site_id != site.id:
            problems.append(ErrorDetail(where, "tube of another site", b))
        elif t.members == 0:
            problems.append(ErrorDetail(where, "empty tube (never collected)", b))
        elif t.status not in ("open", "closed"):
            problems.append(ErrorDetail(where, f"tube already {t.status}", b))
    if len(set(barcodes)) != len(barcodes):
        problems.append(ErrorDetail("barcodes", "a tube is listed twice", None))
    if problems:
        raise Invalid(f"shipment {code} refused: {len(problems)} problem(s)", problems)
    box = Shipment(
        code=code, site_id=site.id, lab_id=lab.id, carrier=carrier, shipped_at=now, shipped_by=actor.username
    )
    session.add(box)
    session.flush()
    for t in tubes.values():
        if t.status == "open":
            t.closed_at, t.closed_by = now, actor.username
        t.status, t.shipment_id, t.shipped_at, t.lab_id = "shipped", box.id, now, lab.id
    session.flush()
    return box


def lab_by_code(session: Session, code: str) -> Lab:
    lab = session.scalar(select(Lab).where(Lab.code == code))
    if lab is None:
        raise NotFound(f"unknown lab {code}", [ErrorDetail("lab", "unknown lab code", code)])
    return lab


def check_lab_member(session: Session, actor: Actor, lab: Lab) -> None:
    """Lab staff act only for their own lab (admins and system jobs for any)."""
    authorize(actor, "nat.lab")
    if actor.is_system or "admin" in actor.roles:
        return
    member = session.scalar(
        select(LabMember.user_id).where(LabMember.lab_id == lab.id, LabMember.user_id == actor.user_id)
    )
    if member is None:
        raise Forbidden(f"you do not work for lab {lab.code}")


def receive(
    *, session: Session, actor: Actor, lab_code: str, shipment: str, now: dt.datetime | None = None
) -> int:
    """The lab receives a transport box (送 → 检): its tubes are received. Returns how many."""
    now = now or utcnow()
    lab = lab_by_code(session, lab_code)
    check_lab_member(session, actor, lab)
    box = session.scalar(select(Shipment).where(Shipment.code == shipment.strip()))
    if box is None:
        raise NotFound(
            f"unknown shipment {shipment}", [ErrorDetail("shipment", "unknown shipment", shipment)]
        )
    if box.lab_id != lab.id:
        raise Forbidden(f"shipment {box.code} is addressed to another lab")
    if box.received_at is not None:
        return 0  # received already: receiving twice changes nothing
    box.received_at, box.received_by = now, actor.username
    received = 0
    for t in session.scalars(select(Tube).where(Tube.shipment_id == box.id, Tube.status == "shipped")):
        t.status, t.received_at, t.received_by = "received", now, actor.username
        received += 1
    session.flush()
    return received
