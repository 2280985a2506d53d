"""Differences between two profiles, key by key (pure)."""

from __future__ import annotations

from typing import Any

from fangkong.policy.loader import LoadedProfile


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def diff(a: LoadedProfile, b: LoadedProfile) -> list[tuple[str, Any, Any]]:
    """(key, value in a, value in b) for every key whose value differs; absent = None."""
    fa = flatten(a.profile.model_dump(mode="json", by_alias=True, exclude_none=True))
    fb = flatten(b.profile.model_dump(mode="json", by_alias=True, exclude_none=True))
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
