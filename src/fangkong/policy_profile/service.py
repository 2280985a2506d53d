"""Activating policy profiles (from a date), finding the one in force, and previewing what a
switch would change for the people under measures."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.errors import ErrorDetail, PolicyError
from fangkong.events import service as events
from fangkong.policy.loader import LoadedProfile, checksum
from fangkong.policy.schema import Profile
from fangkong.policy_profile.models import PolicyActivation


def active(session: Session, on: dt.date) -> LoadedProfile:
    """The profile in force on `on`: the newest activation effective on or before that day."""
    row = session.scalar(
        select(PolicyActivation)
        .where(PolicyActivation.effective_from <= on)
        .order_by(PolicyActivation.effective_from.desc(), PolicyActivation.id.desc())
        .limit(1)
    )
    if row is None:
        raise PolicyError(
            f"no policy profile is in force on {on.isoformat()}; activate one, e.g. "
            "`fangkong policy activate cn-9th --from 2022-06-28`",
            [ErrorDetail("profile", "no active profile", on.isoformat())],
            code="no_active_profile",
            status=409,
        )
    return from_activation(row)


_LOADED: dict[tuple[int, str, str], LoadedProfile] = {}


def from_activation(row: PolicyActivation) -> LoadedProfile:
    """The activation's profile, validated and checked against its checksum — once per
    activation and process (activations are never edited; validating a profile costs
    milliseconds, and the flows ask for it on every decision)."""
    stored = hashlib.sha256(json.dumps(row.resolved, sort_keys=True).encode()).hexdigest()
    key = (row.id, row.checksum, stored)  # a changed stored copy is validated (and refused) again
    cached = _LOADED.get(key)
    if cached is not None:
        return cached
    loaded = _validate_activation(row)
    if len(_LOADED) > 64:
        _LOADED.clear()
    _LOADED[key] = loaded
    return loaded


def _validate_activation(row: PolicyActivation) -> LoadedProfile:
    try:
        profile = Profile.model_validate(row.resolved)
    except ValidationError as exc:  # the stored copy no longer validates: say so, never guess
        raise PolicyError(
            f"stored activation {row.id} of {row.profile_id} no longer validates: {exc}"
        ) from None
    digest = checksum(profile)
    if digest != row.checksum:
        raise PolicyError(f"stored activation {row.id} of {row.profile_id} does not match its checksum")
    return LoadedProfile(profile, digest, f"activation:{row.id}", (row.profile_id,))


def history(session: Session) -> list[PolicyActivation]:
    return list(
        session.scalars(
            select(PolicyActivation).order_by(PolicyActivation.effective_from, PolicyActivation.id)
        )
    )


@dataclass
class SwitchPreview:
    """What a switch would change for the people under measures on `as_of`."""

    profile_id: str
    version: int
    as_of: dt.date
    people: int = 0
    released_early: int = 0
    extended: int = 0
    released_now: int = 0
    unchanged: int = 0
    kind_changes: dict[str, int] = field(default_factory=dict)  # "central_quarantine→home_quarantine"
    examples: list[dict[str, Any]] = field(default_factory=list)

    def summary_en(self) -> str:
        parts = [
            f"{self.released_early} people would be released early",
            f"{self.extended} would have their measures extended",
        ]
        if self.released_now:
            parts.append(f"{self.released_now} would be released today")
        for change, n in sorted(self.kind_changes.items()):
            old, new = change.split("→")
            parts.append(f"{n} would change from {old.replace('_', ' ')} to {new.replace('_', ' ')}")
        return (
            f"Of {self.people} people under measures: " + ", ".join(parts) + f"; {self.unchanged} unchanged."
        )

    def summary_zh(self) -> str:
        from fangkong.i18n import t

        parts = [f"{self.released_early}人将提前解除", f"{self.extended}人管控期延长"]
        if self.released_now:
            parts.append(f"{self.released_now}人今日即解除")
        for change, n in sorted(self.kind_changes.items()):
            old, new = change.split("→")
            parts.append(f"{n}人由{t(f'measure_kind.{old}')}改为{t(f'measure_kind.{new}')}")
        return f"在管{self.people}人中：" + "，".join(parts) + f"；{self.unchanged}人不变。"

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile_id,
            "version": self.version,
            "as_of": self.as_of.isoformat(),
            "people": self.people,
            "released_early": self.released_early,
            "extended": self.extended,
            "released_now": self.released_now,
            "unchanged": self.unchanged,
            "kind_changes": dict(sorted(self.kind_changes.items())),
            "examples": self.examples,
            "summary_zh": self.summary_zh(),
            "summary_en": self.summary_en(),
        }


def preview(*, session: Session, actor: Actor, loaded: LoadedProfile, as_of: dt.datetime) -> SwitchPreview:
    """Compare every current plan with the plan the new profile would give (nothing changes)."""
    authorize(actor, "policy.read")
    from fangkong.measure import service as measures

    today = measures.local_day(as_of)
    out = SwitchPreview(loaded.id, loaded.version, today)
    for person_id, old, new in measures.compare_plans(session, loaded, as_of):
        out.people += 1
        old_end = max((m.end for m in old), default=None)
        new_end = max((s.end for s in new), default=None)
        old_today = next((m.kind for m in old if m.start <= today <= m.end), None)
        new_today = next((s.kind for s in new if s.start <= today <= s.end), None)
        changed = False
        if old_end and (new_end is None or new_end < old_end):
            out.released_early += 1
            changed = True
        elif old_end and new_end and new_end > old_end:
            out.extended += 1
            changed = True
        if old_today and new_today is None:
            out.released_now += 1
            changed = True
        elif old_today and new_today and old_today != new_today:
            key = f"{old_today}→{new_today}"
            out.kind_changes[key] = out.kind_changes.get(key, 0) + 1
            changed = True
        if not changed:
            out.unchanged += 1
        elif len(out.examples) < 20:
            out.examples.append(
                {
                    "person_id": person_id,
                    "old": [[m.kind, m.start.isoformat(), m.end.isoformat()] for m in old],
                    "new": [[s.kind, s.start.isoformat(), s.end.isoformat()] for s in new],
                }
            )
    return out


def activate(
    *,
    session: Session,
    actor: Actor,
    loaded: LoadedProfile,
    source_text: str,
    effective_from: dt.date,
    as_of: dt.datetime,
    note: str | None = None,
) -> tuple[PolicyActivation, SwitchPreview | None]:
    """Record the activation. When it is in force on `as_of`'s day, re-plan everyone under
    measures in the same transaction and return what changed."""
    authorize(actor, "policy.manage")
    from fangkong.measure import service as measures

    today = measures.local_day(as_of)
    changes = (
        preview(session=session, actor=actor, loaded=loaded, as_of=as_of) if effective_from <= today else None
    )
    row = PolicyActivation(
        profile_id=loaded.id,
        version=loaded.version,
        checksum=loaded.checksum,
        effective_from=effective_from,
        resolved=json.loads(json.dumps(loaded.profile.model_dump(mode="json", by_alias=True))),
        source_text=source_text,
        note=note,
        actor_id=actor.user_id,
        actor_name=actor.username,
    )
    session.add(row)
    session.flush()
    if changes is not None and active(session, today).checksum == loaded.checksum:
        measures.replan_all(session, actor, loaded, as_of)
    audit.record(
        session,
        actor,
        "policy.activate",
        "policy_activation",
        row.id,
        after={
            "profile_id": loaded.id,
            "version": loaded.version,
            "checksum": loaded.checksum,
            "effective_from": effective_from.isoformat(),
            "note": note,
            "changes": changes.as_dict() if changes else None,
        },
    )
    events.emit(
        session,
        "policy.activated",
        "policy_activation",
        row.id,
        {"profile_id": loaded.id, "effective_from": effective_from.isoformat()},
        actor=actor,
    )
    return row, changes
