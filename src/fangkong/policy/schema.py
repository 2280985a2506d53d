"""The profile format: strict pydantic models (unknown keys are refused) for every rule type.

See docs/policy-profiles.md for the meaning of every key. A profile has:

    profile_id, version, title, effective_from, extends, source, unconfirmed,
    day_counting, contacts, measures, risk_areas, health_code, testing, investigation

Every rule block has a `mode`: `enforce` (decisions are acted on), `shadow` (decisions are
made and logged but not acted on) or `off` (no decisions).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from fangkong.policy.units import Distance, Duration

Mode = Literal["enforce", "shadow", "off"]

CATEGORIES: tuple[str, ...] = (
    "confirmed",
    "asymptomatic",
    "close_contact",
    "secondary_contact",
    "companion",
    "arrival_high_risk",
    "arrival_medium_risk",
    "arrival_low_risk",
    "inbound_traveller",
    "high_risk_post",
    "positive_pool_member",
)
Category = Literal[
    "confirmed",
    "asymptomatic",
    "close_contact",
    "secondary_contact",
    "companion",
    "arrival_high_risk",
    "arrival_medium_risk",
    "arrival_low_risk",
    "inbound_traveller",
    "high_risk_post",
    "positive_pool_member",
]
# What starts a category's clock.
ClockEvent = Literal[
    "last_exposure",  # close, secondary contacts, companions
    "arrival",  # arrivals, inbound travellers
    "positive_sampling",  # cases: first positive sample
    "onset",  # cases with symptoms
    "pool_result",  # positive-pool members: when the pool result came
    "leaving_post",  # high-risk posts: end of closed-loop work
    "discharge",  # cases: release from hospital or isolation
]
MeasureKind = Literal[
    "hospital",
    "central_quarantine",
    "home_quarantine",
    "home_monitoring",
    "stay_in_place",
    "test_schedule",
    "self_monitoring",
]
# Stronger measures first; when two categories overlap in time, the stronger one applies.
MEASURE_STRENGTH: tuple[str, ...] = (
    "hospital",
    "central_quarantine",
    "home_quarantine",
    "stay_in_place",
    "home_monitoring",
    "test_schedule",
    "self_monitoring",
)
ContactSetting = Literal["household", "venue", "vehicle", "workplace", "named"]
Color = Literal["red", "yellow", "green"]
Gene = Literal["N", "ORF"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text in both languages."""

    zh_CN: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- contacts


class VehicleRule(Strict):
    """Who on a conveyance counts as a close contact of a case on board."""

    aircraft_rows: int = Field(ge=0, le=50, description="rows in front of and behind the case")
    sealed_train: Literal["carriage", "rows"] = "carriage"
    train_rows: int = Field(default=0, ge=0, le=50)
    coach: Literal["vehicle", "rows"] = "vehicle"
    coach_rows: int = Field(default=3, ge=0, le=50)


class CloseContactRule(Strict):
    mode: Mode = "enforce"
    lookback: Duration = Field(description="before onset (or first positive sampling when no onset)")
    settings: list[ContactSetting] = Field(min_length=1)
    venue_min_overlap: Duration = Field(description="overlapping presence in one venue that makes a contact")
    venue_default_dwell: Duration = Field(description="assumed stay when only a check-in time is known")
    venue_dwell_by_category: dict[str, Duration] = Field(
        default_factory=dict, description="the assumed stay per venue category (place_category codes)"
    )
    workplace_max_group: int = Field(
        default=30,
        ge=0,
        le=10_000,
        description="colleagues are listed only in units this small; larger ones by investigation",
    )
    vehicle: VehicleRule


SecondarySetting = Literal["household", "workplace"]
_SECONDARY_SETTINGS: tuple[SecondarySetting, ...] = ("household", "workplace")


class SecondaryContactRule(Strict):
    mode: Mode = "enforce"
    settings: list[SecondarySetting] = Field(default_factory=lambda: list(_SECONDARY_SETTINGS))
    upgrade_on_positive: bool = Field(
        default=True,
        description="a secondary contact whose close contact turns positive becomes a close contact",
    )


class CompanionRule(Strict):
    mode: Mode = "enforce"
    cell_size: Distance
    min_co_presence: Duration
    window: Duration
    min_dwell: Duration = Field(
        description="either person's cumulative stay in the cell; 0h disables this test"
    )


class Contacts(Strict):
    close_contact: CloseContactRule
    secondary_contact: SecondaryContactRule | None = None
    companion: CompanionRule | None = None
    locate_within: Duration = Field(
        default=Duration.parse("12h"),
        description="the deadline of the task to locate and control (落位) each listed person",
    )


# ---------------------------------------------------------------- measures


class Phase(Strict):
    kind: MeasureKind
    length: Duration
    test_days: list[int] = Field(default_factory=list, description="day numbers within this phase")
    tests: int | None = Field(default=None, ge=1, le=30, description="test_schedule: N tests …")
    min_interval: Duration | None = Field(default=None, description="… at least this far apart")

    @field_validator("length")
    @classmethod
    def _whole_days(cls, v: Duration) -> Duration:
        if v.seconds <= 0 or v.seconds % 86400:
            raise ValueError(f"a measure lasts a whole number of days, e.g. '7d'; got {v}")
        return v

    @model_validator(mode="after")
    def _test_days_inside(self) -> Phase:
        for day in self.test_days:
            if not 1 <= day <= self.length.days:
                raise ValueError(f"test day {day} lies outside the phase (days 1..{self.length.days})")
        if sorted(set(self.test_days)) != self.test_days:
            raise ValueError("test_days must be increasing, without repeats")
        if self.kind == "test_schedule" and self.tests is None and not self.test_days:
            raise ValueError("a test_schedule needs test_days or tests")
        if self.tests is not None and self.tests > self.length.days:
            raise ValueError(f"{self.tests} tests do not fit in {self.length.days} days (one a day at most)")
        return self


class CtRelease(Strict):
    """Release when `consecutive` tests, `min_interval` apart, have Ct ≥ `ct_at_least` on `genes`."""

    ct_at_least: float = Field(ge=0, le=45)
    genes: list[Gene] = Field(min_length=1)
    consecutive: int = Field(ge=1, le=5)
    min_interval: Duration


class Release(Strict):
    negative_tests: Literal["all_scheduled", "last", "none"] = "all_scheduled"
    ct: CtRelease | None = None
    dual_sampling: bool = Field(default=False, description="双采双检: two swabs, two reagents")
    transfer: Literal["point_to_point", "none"] = "none"


class CategoryMeasures(Strict):
    mode: Mode = "enforce"
    clock: ClockEvent
    phases: list[Phase] = Field(default_factory=list)
    release: Release = Field(default_factory=Release)
    note: Text | None = None


# ---------------------------------------------------------------- risk areas


class LiftStep(Strict):
    to: str
    days_without_infection: int = Field(ge=1, le=60)
    negative_round_on_day: int | None = Field(default=None, ge=1, le=60)

    @model_validator(mode="after")
    def _round_inside(self) -> LiftStep:
        if (
            self.negative_round_on_day is not None
            and self.negative_round_on_day > self.days_without_infection
        ):
            raise ValueError("the negative round must fall within the days without infection")
        return self


class AreaLevel(Strict):
    label: Text
    designation: Text
    measures: Text
    resident_category: Category | None = Field(
        default=None, description="the person category of people who stayed in such an area"
    )
    lift: list[LiftStep] = Field(default_factory=list)


class RiskAreas(Strict):
    mode: Mode = "enforce"
    levels: dict[str, AreaLevel] = Field(min_length=1)
    order: list[str] = Field(min_length=1, description="levels from the strictest to the mildest")

    @model_validator(mode="after")
    def _consistent(self) -> RiskAreas:
        if sorted(self.order) != sorted(self.levels):
            raise ValueError("order must list each level exactly once")
        for name, level in self.levels.items():
            last = 0
            for step in level.lift:
                if step.to not in self.levels:
                    raise ValueError(f"level {name} lifts to unknown level {step.to!r}")
                if self.order.index(step.to) <= self.order.index(name):
                    raise ValueError(f"level {name} can only lift to a milder level, not {step.to}")
                if step.days_without_infection <= last:
                    raise ValueError(f"lift steps of {name} must come in increasing order of days")
                last = step.days_without_infection
        return self


# ---------------------------------------------------------------- health code


class ReturnToGreen(Strict):
    negative_tests: int = Field(ge=1, le=10)
    within: Duration
    min_interval: Duration | None = None


class ColorTrigger(Strict):
    categories: list[Category] = Field(default_factory=list)
    # while: the category's measures run; or until the return-to-green condition is met
    until: Literal["measures_end", "negative_tests"] = "measures_end"
    return_to_green: ReturnToGreen | None = None

    @model_validator(mode="after")
    def _needs_condition(self) -> ColorTrigger:
        if self.until == "negative_tests" and self.return_to_green is None:
            raise ValueError("until: negative_tests needs a return_to_green condition")
        return self


class HealthCode(Strict):
    mode: Mode = "enforce"
    red: ColorTrigger
    yellow: ColorTrigger


# ---------------------------------------------------------------- testing and investigation


class Pooling(Strict):
    default_size: int = Field(ge=1, le=20)
    allowed_sizes: list[int] = Field(min_length=1)
    single_tube_for: list[str] = Field(default_factory=list, description="groups always tested singly")
    by_area_level: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sizes(self) -> Pooling:
        for size in [self.default_size, *self.by_area_level.values()]:
            if size not in self.allowed_sizes:
                raise ValueError(f"pool size {size} is not among allowed_sizes {self.allowed_sizes}")
        if any(s < 1 or s > 20 for s in self.allowed_sizes):
            raise ValueError("pool sizes are 1..20")
        return self


class StopRule(Strict):
    clear_rounds: int = Field(ge=1, le=10)
    then_wait: Duration | None = None
    final_round: bool = False


class MassTesting(Strict):
    mode: Mode = "enforce"
    cadence: Duration
    stop_rule: StopRule


class Interpretation(Strict):
    positive_ct_below: float = Field(ge=0, le=45)
    genes: list[Gene] = Field(min_length=1)


# A tube's stages before its result, by the time that starts each one: collected (closed, or
# opened while still open, → shipped), shipped (→ received by the lab), received (→ reported).
TUBE_STAGES: tuple[str, ...] = ("collected", "shipped", "received")


class StageLimits(Strict):
    """The longest time a tube may spend in each stage before its result (optional; the
    national documents give only end-to-end result times, so no shipped profile sets it)."""

    collected: Duration | None = Field(default=None, description="closed (or opened) → shipped")
    shipped: Duration | None = Field(default=None, description="shipped → received by the lab")
    received: Duration | None = Field(default=None, description="received → result reported")

    @field_validator("collected", "shipped", "received")
    @classmethod
    def _positive(cls, value: Duration | None) -> Duration | None:
        if value is not None and value.seconds <= 0:
            raise ValueError(f"a stage limit must be longer than zero; got {value}")
        return value

    @model_validator(mode="after")
    def _some(self) -> StageLimits:
        if all(getattr(self, stage) is None for stage in TUBE_STAGES):
            raise ValueError("give a limit for at least one stage (collected, shipped, received)")
        return self

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}

    def given(self) -> list[tuple[str, Duration]]:
        """(stage, limit) for the stages that have one, in stage order."""
        return [(s, d) for s in TUBE_STAGES if (d := getattr(self, s)) is not None]


class Testing(Strict):
    mode: Mode = "enforce"
    pooling: Pooling
    result_deadlines: dict[str, Duration] = Field(min_length=1)
    stage_limits: StageLimits | None = Field(
        default=None, description="per-stage limits of a tube's turnaround, besides result_deadlines"
    )
    mass_testing: MassTesting | None = None
    interpretation: Interpretation

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Left out when absent, so the canonical form (and the checksum) of every profile
        # written before stage_limits existed stays the same.
        data: dict[str, Any] = handler(self)
        if self.stage_limits is None:
            data.pop("stage_limits", None)
        return data


class Investigation(Strict):
    mode: Mode = "enforce"
    on_site: Duration
    core_facts: Duration
    report: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Investigation:
        if not (self.on_site <= self.core_facts <= self.report):
            raise ValueError("deadlines must be in order: on_site ≤ core_facts ≤ report")
        return self


class DayCounting(Strict):
    day_one: Literal["after_start", "start_day"] = Field(
        default="after_start",
        description="after_start: day 1 is the first calendar day after the start date",
    )


# ---------------------------------------------------------------- the profile


class Profile(Strict):
    profile_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")]
    version: int = Field(ge=1)
    title: Text
    effective_from: dt.date
    effective_until: dt.date | None = None
    extends: str | None = None
    source: list[str] = Field(default_factory=list, description="the documents this profile encodes")
    unconfirmed: list[str] = Field(
        default_factory=list, description="paths whose values were chosen without a confirmed source"
    )
    day_counting: DayCounting = Field(default_factory=DayCounting)
    contacts: Contacts | None = None
    measures: dict[Category, CategoryMeasures] = Field(default_factory=dict)
    risk_areas: RiskAreas | None = None
    health_code: HealthCode | None = None
    testing: Testing | None = None
    investigation: Investigation | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if self.effective_until is not None and self.effective_until <= self.effective_from:
            raise ValueError("effective_until must come after effective_from")
        code = self.health_code
        if code is not None:
            for color, trigger in (("red", code.red), ("yellow", code.yellow)):
                unknown = [c for c in trigger.categories if c not in self.measures]
                if unknown and trigger.until == "measures_end":
                    raise ValueError(
                        f"health_code.{color} refers to categories without measures: {', '.join(unknown)}"
                    )
        if self.risk_areas is not None:
            for name, level in self.risk_areas.levels.items():
                if level.resident_category and level.resident_category not in self.measures:
                    raise ValueError(
                        f"risk_areas.levels.{name}.resident_category {level.resident_category} "
                        "has no measures"
                    )
        return self
