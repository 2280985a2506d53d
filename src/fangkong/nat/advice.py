"""Pool-size advice for the API and CLI: `fangkong.analysis.pooling` as plain JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fangkong.analysis.pooling import advise_pool_size
from fangkong.errors import invalid


def advice_dict(
    prevalence: float,
    sensitivity: float = 1.0,
    specificity: float = 1.0,
    max_size: int = 20,
    allowed: list[int] | None = None,
) -> dict[str, Any]:
    try:
        advice = advise_pool_size(
            prevalence, sensitivity=sensitivity, specificity=specificity, max_size=max_size, allowed=allowed
        )
    except ValueError as exc:
        text = str(exc)
        field = next(
            (f for f in ("prevalence", "sensitivity", "specificity", "max_size", "allowed") if f in text),
            "input",
        )
        raise invalid(field, text) from None
    out = asdict(advice)
    for key in ("tests_per_person", "tests_per_pool", "pool_positive_probability", "efficiency"):
        out[key] = round(out[key], 4)
    out["allowed"] = list(advice.allowed) if advice.allowed is not None else None
    out["table"] = [
        {k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in out["table"]
    ]
    return out
