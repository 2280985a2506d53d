"""One error hierarchy for the whole platform.

Every adapter maps these once: the API to one JSON error shape, the CLI to one line on
stderr and a non-zero exit code, the web to an error page. Anything else that escapes a
service is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    """One problem with one input field (or one row and column of a file)."""

    field: str
    reason: str
    value: Any = None
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "reason": self.reason}
        if self.value is not None:
            plain = isinstance(self.value, str | int | float | bool)
            out["value"] = self.value if plain else str(self.value)
        if self.row is not None:
            out["row"] = self.row
        return out


@dataclass
class FangkongError(Exception):
    """Base of every expected error. `code` is a stable lower_snake identifier."""

    message: str
    details: list[ErrorDetail] = field(default_factory=list)
    code: str = "error"
    status: int = 400

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        if not self.details:
            return self.message
        parts = "; ".join(
            (f"row {d.row} " if d.row is not None else "") + f"{d.field}: {d.reason}"
            for d in self.details[:5]
        )
        more = f" (+{len(self.details) - 5} more)" if len(self.details) > 5 else ""
        return f"{self.message}: {parts}{more}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [d.as_dict() for d in self.details],
            }
        }


@dataclass
class Invalid(FangkongError):
    code: str = "invalid"
    status: int = 422


@dataclass
class NotFound(FangkongError):
    code: str = "not_found"
    status: int = 404


@dataclass
class Conflict(FangkongError):
    code: str = "conflict"
    status: int = 409


@dataclass
class Unauthenticated(FangkongError):
    code: str = "unauthenticated"
    status: int = 401


@dataclass
class Forbidden(FangkongError):
    code: str = "forbidden"
    status: int = 403


@dataclass
class TooManyRequests(FangkongError):
    code: str = "too_many_requests"
    status: int = 429


@dataclass
class PolicyError(FangkongError):
    code: str = "policy_error"
    status: int = 422


@dataclass
class ConfigError(FangkongError):
    code: str = "config_error"
    status: int = 500


def invalid(field_name: str, reason: str, value: Any = None, *, message: str | None = None) -> Invalid:
    """Shorthand for a single-field validation error."""
    return Invalid(message or f"invalid {field_name}", [ErrorDetail(field_name, reason, value)])
