"""What happens when a case opens or is reclassified: the investigation opens with its clock
and the person gets the category (and so the measures) of the profile in force."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.auth.actor import system_actor
from fangkong.case.models import Case
from fangkong.errors import PolicyError
from fangkong.events.models import DomainEvent
from fangkong.events.service import handler

WORKER = system_actor("worker")


@handler("case.open_investigation", "case.opened")
def open_investigation(session: Session, event: DomainEvent) -> None:
    from fangkong.investigation import service as investigations

    case = session.get(Case, int(event.aggregate_id))
    if case is not None:
        investigations.open_for(session, WORKER, case)


@handler("case.categorise", "case.opened", "case.reclassified")
def categorise(session: Session, event: DomainEvent) -> None:
    """Confirmed and asymptomatic cases are persons under measures (hospital, isolation …)."""
    from fangkong.measure import service as measures
    from fangkong.measure.models import PersonCategory
    from fangkong.measure.schemas import CategoryAssign

    case = session.get(Case, int(event.aggregate_id))
    if case is None or case.classification not in ("confirmed", "asymptomatic"):
        return
    clock = case.first_positive_at or case.anchor
    if clock is None:
        return
    current = session.scalars(
        select(PersonCategory).where(
            PersonCategory.person_id == case.person_id,
            PersonCategory.status == "active",
            PersonCategory.category.in_(("confirmed", "asymptomatic")),
        )
    ).all()
    if any(c.category == case.classification for c in current):
        return  # already done (the handler may run again)
    for old in current:
        old.status = "withdrawn"  # asymptomatic → confirmed: the new category replaces the old
    try:
        measures.assign(
            session=session,
            actor=WORKER,
            person_id=case.person_id,
            data=CategoryAssign(
                category=case.classification,
                clock_at=clock,
                source=case.case_no,
            ),
            as_of=max(clock, dt.datetime.now(dt.UTC)),
        )
    except PolicyError:
        return  # no profile in force: nothing to decide (activating one re-plans everyone)
