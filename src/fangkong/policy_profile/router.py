"""/api/v1/policy: profiles, the engine, activations; /api/v1/persons/{id}/… categories,
measures and explanations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path as Path_
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.auth.authorize import authorize
from fangkong.errors import invalid
from fangkong.measure import service as measures
from fangkong.measure.schemas import CategoryAssign, CategoryOut, Explanation, MeasureOut, WithdrawRequest
from fangkong.policy import loader, rules
from fangkong.policy.engine import measures_for
from fangkong.policy.schema import CATEGORIES
from fangkong.policy_profile import service as profiles
from fangkong.types import MAX_ID

router = APIRouter(tags=["policy"])
ProfileId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")]
PersonId = Annotated[int, Path(ge=1, le=MAX_ID)]


class ProfileSummary(BaseModel):
    profile_id: str
    version: int
    title_zh: str
    title_en: str
    effective_from: dt.date
    effective_until: dt.date | None
    checksum: str
    extends: str | None
    unconfirmed: list[str]


class ActivationOut(BaseModel):
    id: int
    profile_id: str
    version: int
    checksum: str
    effective_from: dt.date
    note: str | None
    actor_name: str
    activated_at: dt.datetime


class ActivationRequest(BaseModel):
    profile_id: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,40}$", description="a shipped profile; or give `text`"
    )
    text: str | None = Field(default=None, max_length=200_000, description="a profile's YAML text")
    effective_from: dt.date
    note: str | None = Field(default=None, max_length=500)
    preview: bool = Field(default=False, description="only say what would change")


def _summary(p: loader.LoadedProfile) -> ProfileSummary:
    return ProfileSummary(
        profile_id=p.id,
        version=p.version,
        title_zh=p.profile.title.zh_CN,
        title_en=p.profile.title.en,
        effective_from=p.profile.effective_from,
        effective_until=p.profile.effective_until,
        checksum=p.checksum,
        extends=p.profile.extends,
        unconfirmed=p.profile.unconfirmed,
    )


@router.get("/policy/profiles", response_model=list[ProfileSummary])
def list_profiles(actor: CurrentActor) -> list[ProfileSummary]:
    authorize(actor, "policy.read")
    return [_summary(loader.load_shipped(pid)) for pid in loader.shipped_ids()]


@router.get("/policy/profiles/{profile_id}")
def get_profile(profile_id: ProfileId, actor: CurrentActor) -> dict[str, Any]:
    """The resolved profile (after extends) and its checksum."""
    authorize(actor, "policy.read")
    p = loader.load_shipped(profile_id)
    return {
        "checksum": p.checksum,
        "profile": p.profile.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


@router.post("/policy/validate", response_model=ProfileSummary)
def validate_profile(
    actor: CurrentActor, text: Annotated[str, Body(media_type="text/plain", max_length=200_000)]
) -> ProfileSummary:
    """Validate a profile's YAML; errors name the line and the reason."""
    authorize(actor, "policy.read")
    return _summary(loader.loads(text))


@router.get("/policy/measures")
def policy_measures(
    session: DbSession,
    actor: CurrentActor,
    category: Annotated[str, Query(max_length=32, json_schema_extra={"enum": list(CATEGORIES)})],
    clock: Annotated[dt.date, Query(description="the clock's start date (e.g. last exposure)")],
    profile: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")] = None,
) -> dict[str, Any]:
    """What a category gets from a clock date under a profile (default: the one in force then)."""
    authorize(actor, "policy.read")
    if category not in CATEGORIES:
        raise invalid("category", "unknown category", category)
    loaded = loader.load_shipped(profile) if profile else profiles.active(session, clock)
    ev = measures_for(loaded, category, clock)
    return {
        "profile": ev.profile_id,
        "version": ev.version,
        "checksum": ev.checksum,
        "category": category,
        "measures": [
            {k: v for k, v in s.as_dict().items() if k in ("kind", "start", "end", "test_dates")}
            for s in ev.plan
        ],
        "health_code": ev.color,
        "decisions": [d.as_dict() for d in ev.decisions],
    }


def _profile(session: Any, profile: str | None, on: dt.date) -> loader.LoadedProfile:
    return loader.load_shipped(profile) if profile else profiles.active(session, on)


ProfileQ = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")]


@router.get("/policy/area-level")
def area_level(
    session: DbSession,
    actor: CurrentActor,
    level: Annotated[str, Query(max_length=16)],
    last_infection: dt.date,
    rounds: Annotated[
        list[dt.date], Query(max_length=60, description="days with an all-negative round")
    ] = [],  # noqa: B006
    today: dt.date | None = None,
    profile: ProfileQ = None,
) -> dict[str, Any]:
    """A risk area's level today and when it lifts."""
    authorize(actor, "policy.read")
    day = today or measures.local_day(dt.datetime.now(dt.UTC))
    return rules.area_level(
        _profile(session, profile, day), level, last_infection, rounds, day
    ).decision.as_dict()


@router.get("/policy/pool-size")
def pool_size(
    session: DbSession,
    actor: CurrentActor,
    group: Annotated[str | None, Query(max_length=32)] = None,
    area_level: Annotated[str | None, Query(max_length=16)] = None,
    profile: ProfileQ = None,
) -> dict[str, Any]:
    authorize(actor, "policy.read")
    day = measures.local_day(dt.datetime.now(dt.UTC))
    return rules.pool_size(_profile(session, profile, day), group=group, area_level=area_level).as_dict()


@router.get("/policy/investigation-deadlines")
def investigation_deadlines(
    session: DbSession,
    actor: CurrentActor,
    notified_at: dt.datetime,
    profile: ProfileQ = None,
) -> dict[str, Any]:
    """The "2+4+24" clock from a notification time (naive times are UTC)."""
    authorize(actor, "policy.read")
    at = notified_at if notified_at.tzinfo else notified_at.replace(tzinfo=dt.UTC)
    return rules.investigation_deadlines(_profile(session, profile, measures.local_day(at)), at).as_dict()


@router.get("/policy/activations", response_model=list[ActivationOut])
def activations(session: DbSession, actor: CurrentActor) -> list[ActivationOut]:
    authorize(actor, "policy.read")
    return [ActivationOut.model_validate(a, from_attributes=True) for a in profiles.history(session)]


@router.get("/policy/active", response_model=ProfileSummary)
def active_profile(
    session: DbSession,
    actor: CurrentActor,
    on: Annotated[dt.date | None, Query(description="default today")] = None,
) -> ProfileSummary:
    authorize(actor, "policy.read")
    day = on or measures.local_day(dt.datetime.now(dt.UTC))
    return _summary(profiles.active(session, day))


@router.post("/policy/activations")
def activate(body: ActivationRequest, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """Put a profile in force from a date (or, with `preview`, say what it would change)."""
    if (body.profile_id is None) == (body.text is None):
        raise invalid("profile_id", "give either profile_id or text")
    if body.profile_id is not None:
        loaded = loader.load_shipped(body.profile_id)
        source = Path_(loaded.path).read_text("utf-8")
    else:
        assert body.text is not None
        loaded, source = loader.loads(body.text), body.text
    now = dt.datetime.now(dt.UTC)
    if body.preview:
        return {"preview": profiles.preview(session=session, actor=actor, loaded=loaded, as_of=now).as_dict()}
    row, changes = profiles.activate(
        session=session,
        actor=actor,
        loaded=loaded,
        source_text=source,
        effective_from=body.effective_from,
        as_of=now,
        note=body.note,
    )
    return {
        "activation": ActivationOut.model_validate(row, from_attributes=True).model_dump(mode="json"),
        "changes": changes.as_dict() if changes else None,
    }


# ---------------------------------------------------------------- persons under measures


@router.post(
    "/persons/{person_id}/categories", response_model=Explanation, status_code=201, tags=["measures"]
)
def assign_category(
    person_id: PersonId, body: CategoryAssign, session: DbSession, actor: CurrentActor
) -> Explanation:
    """Put a person in a category; the profile in force decides their measures."""
    measures.assign(session=session, actor=actor, person_id=person_id, data=body)
    return _explain(session, actor, person_id)


@router.post(
    "/persons/{person_id}/categories/{category_id}/withdraw", response_model=Explanation, tags=["measures"]
)
def withdraw_category(
    person_id: PersonId,
    category_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: WithdrawRequest,
    session: DbSession,
    actor: CurrentActor,
) -> Explanation:
    measures.withdraw(
        session=session, actor=actor, person_id=person_id, category_id=category_id, reason=body.reason
    )
    return _explain(session, actor, person_id)


@router.get("/persons/{person_id}/measures", response_model=list[MeasureOut], tags=["measures"])
def person_measures(person_id: PersonId, session: DbSession, actor: CurrentActor) -> list[MeasureOut]:
    return [
        MeasureOut.model_validate(m)
        for m in measures.measures_of(session=session, actor=actor, person_id=person_id)
    ]


@router.get("/persons/{person_id}/explain", response_model=Explanation, tags=["measures"])
def explain(person_id: PersonId, session: DbSession, actor: CurrentActor) -> Explanation:
    """Why this person has these measures and this health-code colour."""
    return _explain(session, actor, person_id)


def _explain(session: Any, actor: Any, person_id: int) -> Explanation:
    cats, ev = measures.explain(session=session, actor=actor, person_id=person_id)
    data = ev.as_dict()
    return Explanation(
        person_id=person_id,
        as_of=ev.as_of,
        profile=ev.profile_id,
        version=ev.version,
        checksum=ev.checksum,
        categories=[CategoryOut.model_validate(c) for c in cats],
        measures=data["measures"],
        health_code=ev.color,
        decisions=data["decisions"],
    )
