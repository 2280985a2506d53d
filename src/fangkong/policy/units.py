"""Quantities with explicit units, as written in profiles: `7d`, `24h`, `10min`, `800m`, `1.2km`.

A bare number is refused: every duration and distance says its unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|min|s)\s*$")
_DISTANCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|km)\s*$")
_SECONDS = {"d": 86400, "h": 3600, "min": 60, "s": 1}


@dataclass(frozen=True, order=True)
class Duration:
    """A non-negative length of time, kept in seconds; `text` is how the profile wrote it."""

    seconds: float
    text: str = field(default="", compare=False)  # how it was written; 24h == 1d

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def days(self) -> int:
        """Whole days (for lengths written in days)."""
        return int(self.seconds // 86400)

    def __str__(self) -> str:
        return self.text or f"{self.seconds:g}s"

    @classmethod
    def parse(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        if isinstance(value, bool) or not isinstance(value, str):
            raise ValueError(f"a duration needs a unit (d, h, min or s), e.g. '7d' or '10min'; got {value!r}")
        if value.strip().startswith("-"):
            raise ValueError(f"a duration cannot be negative: {value!r}")
        m = _DURATION.match(value)
        if not m:
            raise ValueError(
                f"not a duration: {value!r}; write a number and a unit (d, h, min, s), e.g. '7d'"
            )
        return cls(float(m.group(1)) * _SECONDS[m.group(2)], value.strip())

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


@dataclass(frozen=True, order=True)
class Distance:
    """A non-negative distance in metres; `text` is how the profile wrote it."""

    metres: float
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.text or f"{self.metres:g}m"

    @classmethod
    def parse(cls, value: Any) -> Distance:
        if isinstance(value, Distance):
            return value
        if isinstance(value, bool) or not isinstance(value, str):
            raise ValueError(f"a distance needs a unit (m or km), e.g. '800m'; got {value!r}")
        if value.strip().startswith("-"):
            raise ValueError(f"a distance cannot be negative: {value!r}")
        m = _DISTANCE.match(value)
        if not m:
            raise ValueError(f"not a distance: {value!r}; write a number and a unit (m, km), e.g. '800m'")
        factor = 1000 if m.group(2) == "km" else 1
        return cls(float(m.group(1)) * factor, value.strip())

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )
