"""Demo accounts: one per role, with generated passwords shown once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.auth import service as auth
from fangkong.auth.actor import system_actor
from fangkong.person.models import Person

CITY = "5101"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    area_code: str | None
    person_id: int | None


def create_accounts(session: Session, *, city: str = CITY) -> list[DemoAccount]:
    """Create one account per role. Field roles get the city (community workers one community,
    samplers one district); the admin and auditor are nationwide; the resident is a real
    person of the demo city."""
    actor = system_actor("demo")
    # The community worker and the resident share the community of the first resident.
    first = session.execute(
        select(Person.id, Person.area_code)
        .where(Person.area_code.startswith(city), Person.birth_date.is_not(None))
        .order_by(Person.id)
        .limit(1)
    ).first()
    resident = first[0] if first else None
    community = (
        first[1][:12]
        if first
        else session.scalar(
            select(Area.code).where(Area.level == "community", Area.code.startswith(city)).order_by(Area.code)
        )
    )
    district = community[:6] if community else city
    plan: list[tuple[str, str | None, int | None]] = [
        ("commander", city, None),
        ("epidemiologist", city, None),
        ("tracer", city, None),
        ("community_worker", community or city, None),
        ("checkpoint_staff", city, None),
        ("sampler", district, None),
        ("lab_staff", city, None),
        ("quarantine_manager", city, None),
        ("supply_officer", city, None),
        ("auditor", None, None),
        ("admin", None, None),
    ]
    if resident is not None:
        plan.append(("resident", None, resident))
    out = []
    for role, area, person in plan:
        password = secrets.token_urlsafe(9) + "-7"
        auth.create_user(
            session=session,
            actor=actor,
            data=auth.NewUser(
                username=role,
                display_name=role,
                password=password,
                roles=(role,),
                area_code=area,
                person_id=person,
            ),
        )
        out.append(DemoAccount(role, password, role, area, person))
    return out
