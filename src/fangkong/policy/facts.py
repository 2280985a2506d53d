"""What the engine is told about a person, and what it answers (plain, immutable values)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

TestResult = Literal["positive", "negative", "invalid"]


@dataclass(frozen=True)
class CategoryFact:
    """The person belongs to `category` since the clock event at `at`.

    `at` is a date (local calendar day) or an aware datetime. `setting`, `place` and `source`
    explain why (e.g. setting "venue", place "春熙路商场", source "病例 3"); `close_contact_positive`
    tells, for a secondary contact, that their close contact has since turned positive.
    """

    category: str
    at: dt.date | dt.datetime
    setting: str | None = None
    place: str | None = None
    source: str | None = None
    close_contact_positive: bool = False


@dataclass(frozen=True)
class TestFact:
    sampled_at: dt.datetime
    result: TestResult
    ct: dict[str, float] = field(default_factory=dict)  # gene -> Ct value


@dataclass(frozen=True)
class Facts:
    categories: tuple[CategoryFact, ...] = ()
    tests: tuple[TestFact, ...] = ()
    person: str | None = None  # a label for messages only


@dataclass(frozen=True)
class Segment:
    """One measure of the person's plan: from the start of `start` to the end of `end`."""

    kind: str
    start: dt.date
    end: dt.date
    test_dates: tuple[dt.date, ...]
    category: str
    rule_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "test_dates": [d.isoformat() for d in self.test_dates],
            "category": self.category,
            "rule_id": self.rule_id,
        }


@dataclass(frozen=True)
class Decision:
    rule_id: str
    profile_id: str
    version: int
    checksum: str
    mode: str  # enforce | shadow
    kind: str  # measure | health_code | upgrade | release
    category: str | None
    reason_zh: str
    reason_en: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "profile_id": self.profile_id,
            "version": self.version,
            "checksum": self.checksum,
            "mode": self.mode,
            "kind": self.kind,
            "category": self.category,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
            "data": self.data,
        }


@dataclass(frozen=True)
class Evaluation:
    """The answer: the measures to apply (non-overlapping, enforce mode only), the health-code
    colour at `as_of`, and every decision with its rule and reason (shadow ones included)."""

    profile_id: str
    version: int
    checksum: str
    as_of: dt.datetime
    plan: tuple[Segment, ...]
    color: str
    decisions: tuple[Decision, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile_id,
            "version": self.version,
            "checksum": self.checksum,
            "as_of": self.as_of.isoformat(),
            "measures": [s.as_dict() for s in self.plan],
            "health_code": self.color,
            "decisions": [d.as_dict() for d in self.decisions],
        }
