"""Small read-only lists for the testing pages: rounds of a jurisdiction, the labs an account
works for, the open tubes of a site and those waiting to be shipped."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.nat.models import Lab, LabMember, SamplingSite, TestingRound, Tube

AREA_LENGTHS = (2, 4, 6, 9, 12, 15)


def list_rounds(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    covering: bool = False,
    limit: int = 200,
) -> list[TestingRound]:
    """Rounds of the actor's jurisdiction, newest first. With `covering`, also the rounds of the
    areas above it (a city-wide round is sampled by a district's samplers)."""
    authorize(actor, "nat.read")
    where = jurisdiction_filter(actor, TestingRound.area_code)
    if covering and actor.area_code:
        code = actor.area_code
        above = [code[:n] for n in AREA_LENGTHS if n < len(code)]
        where = or_(where, TestingRound.area_code.in_(above))
    stmt = select(TestingRound).where(where)
    if status:
        stmt = stmt.where(TestingRound.status == status)
    return list(
        session.scalars(stmt.order_by(TestingRound.start_at.desc(), TestingRound.id.desc()).limit(limit))
    )


def labs_of(session: Session, actor: Actor) -> list[Lab]:
    """The labs the account works for (admins and system jobs: every active lab)."""
    authorize(actor, "nat.lab")
    stmt = select(Lab).where(Lab.active.is_(True))
    if not (actor.is_system or "admin" in actor.roles):
        stmt = stmt.join(LabMember, LabMember.lab_id == Lab.id).where(LabMember.user_id == actor.user_id)
    return list(session.scalars(stmt.order_by(Lab.code)))


def open_tubes(session: Session, actor: Actor, site: SamplingSite, limit: int = 50) -> list[Tube]:
    """The site's open tubes, newest first."""
    authorize(actor, "nat.sample", site)
    return list(
        session.scalars(
            select(Tube)
            .where(Tube.site_id == site.id, Tube.status == "open")
            .order_by(Tube.opened_at.desc(), Tube.id.desc())
            .limit(limit)
        )
    )


def tubes_to_ship(session: Session, actor: Actor, site: SamplingSite, limit: int = 500) -> list[Tube]:
    """The site's tubes that can go into a transport box: closed ones and open ones with swabs
    (closed on the way), not shipped yet; oldest first."""
    authorize(actor, "nat.sample", site)
    return list(
        session.scalars(
            select(Tube)
            .where(
                Tube.site_id == site.id,
                Tube.shipment_id.is_(None),
                or_(Tube.status == "closed", (Tube.status == "open") & (Tube.members > 0)),
            )
            .order_by(Tube.opened_at, Tube.id)
            .limit(limit)
        )
    )


def active_labs(session: Session, actor: Actor) -> list[Lab]:
    """The labs a sampler can send a transport box to."""
    authorize(actor, "nat.sample")
    return list(session.scalars(select(Lab).where(Lab.active.is_(True)).order_by(Lab.code)))
