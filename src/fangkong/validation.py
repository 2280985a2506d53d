"""Turning pydantic validation errors into the platform's error details."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from fangkong.errors import ErrorDetail, Invalid

_FIELD = re.compile(r"[a-z_][a-z0-9_]*")


def details_from(exc: ValidationError, *, row: int | None = None) -> list[ErrorDetail]:
    out: list[ErrorDetail] = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or "input"
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        value: Any = err.get("input")
        if isinstance(value, dict | list):
            value = value.get(field) if isinstance(value, dict) else None
        if not loc:
            # Model-level checks name their field as "field: reason" (several joined by "; ").
            for part in msg.split("; "):
                name, sep, reason = part.partition(": ")
                if sep and _FIELD.fullmatch(name):
                    raw = err.get("input")
                    given = raw.get(name) if isinstance(raw, dict) else None
                    out.append(ErrorDetail(name, reason, given, row))
                else:
                    out.append(ErrorDetail(field, part, None, row))
            continue
        out.append(ErrorDetail(field, msg, value, row))
    return out


def invalid_from(exc: ValidationError, message: str = "invalid input") -> Invalid:
    return Invalid(message, details_from(exc))
