"""Who was in a tube and where they are now: for the testing group and community workers after
a positive pool (masked names; residence, the sampling site, active categories, the retest task,
the latest venue check-in from the movement store)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.measure.models import PersonCategory
from fangkong.nat.flows import last_checkins
from fangkong.nat.models import Sample, SamplingSite
from fangkong.nat.tubes import tube_by_barcode
from fangkong.person.models import Person
from fangkong.place.models import Place
from fangkong.privacy import mask_name
from fangkong.task.models import Task


def members(*, session: Session, actor: Actor, barcode: str) -> dict[str, Any]:
    tube = tube_by_barcode(session, barcode)
    site = session.get(SamplingSite, tube.site_id)
    authorize(actor, "nat.read", site)
    samples = list(session.scalars(select(Sample).where(Sample.tube_id == tube.id).order_by(Sample.id)))
    pids = [s.person_id for s in samples]
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(pids)))}
    areas: dict[str, str] = {
        code: name
        for code, name in session.execute(
            select(Area.code, Area.name).where(Area.code.in_({p.area_code for p in people.values()}))
        )
    }
    categories: dict[int, list[str]] = {}
    for pid, category in session.execute(
        select(PersonCategory.person_id, PersonCategory.category).where(
            PersonCategory.person_id.in_(pids), PersonCategory.status == "active"
        )
    ):
        categories.setdefault(pid, []).append(category)
    tasks = {
        t.person_id: t
        for t in session.scalars(
            select(Task).where(Task.kind == "retest", Task.dedupe_key.startswith(f"retest:{tube.id}:"))
        )
    }
    seen = last_checkins(pids)
    places = dict(
        session.execute(
            select(Place.id, Place.name).where(
                Place.id.in_([int(c["place_id"]) for c in seen.values() if c["place_id"].isdigit()])
            )
        ).all()
    )
    out = []
    for s in samples:
        p = people.get(s.person_id)
        if p is None:
            continue
        task = tasks.get(p.id)
        last = seen.get(p.id)
        out.append(
            {
                "person_id": p.id,
                "name": mask_name(p.name),
                "residence_area": p.area_code,
                "residence_area_name": areas.get(p.area_code),
                "sampled_at": s.collected_at,
                "categories": sorted(categories.get(p.id, [])),
                "retest_task": None
                if task is None
                else {"id": task.id, "status": task.status, "due_at": task.due_at},
                "last_checkin": None
                if last is None
                else last
                | {"place": places.get(int(last["place_id"])) if last["place_id"].isdigit() else None},
            }
        )
    return {
        "barcode": tube.barcode,
        "result": tube.result,
        "capacity": tube.capacity,
        "site": site.name if site else None,
        "members": out,
    }
