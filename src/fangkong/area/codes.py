"""Area codes: levels, normalisation and subtree ranges (pure functions)."""

from __future__ import annotations

from typing import Any

from fangkong.errors import invalid

LEVELS: tuple[str, ...] = ("province", "city", "county", "township", "community", "grid")
LEVEL_LENGTH: dict[str, int] = {
    "province": 2,
    "city": 4,
    "county": 6,
    "township": 9,
    "community": 12,
    "grid": 15,
}
LENGTH_LEVEL: dict[int, str] = {v: k for k, v in LEVEL_LENGTH.items()}
# (kept length, padding width) from the finest level up, for padded codes.
_PADDING = ((9, 3), (6, 3), (4, 2), (2, 2))


def level_of(code: str) -> str:
    level = LENGTH_LEVEL.get(len(code))
    if level is None or not code.isdigit():
        raise invalid("area_code", f"{code!r} is not an area code of 2, 4, 6, 9, 12 or 15 digits", code)
    return level


def parent_of(code: str) -> str | None:
    level = level_of(code)
    index = LEVELS.index(level)
    if index == 0:
        return None
    return code[: LEVEL_LENGTH[LEVELS[index - 1]]]


def normalize(raw: Any, *, field: str = "area_code") -> str:
    """Accept an area code in any of its usual written forms and return the short form.

    Accepted: the short forms (2/4/6/9/12/15 digits), 6-digit GB/T 2260 codes padded with
    zeros (`510000` → `51`, `510100` → `5101`) and 12-digit statistical codes padded with
    zeros (`510104001000` → `510104001`, `510104000000` → `510104`).
    """
    code = str(raw).strip() if raw is not None else ""
    if code.endswith(".0") and code[:-2].isdigit():  # numbers read from spreadsheets
        code = code[:-2]
    if not code or not code.isdigit():
        raise invalid(field, f"area code must be digits, got {code!r}", raw)
    if len(code) in (6, 12):
        code = _strip_padding(code)
    if len(code) not in LENGTH_LEVEL:
        raise invalid(field, f"area code must have 2, 4, 6, 9, 12 or 15 digits, got {len(code)}", raw)
    return code


def _strip_padding(code: str) -> str:
    for kept, width in _PADDING:
        if len(code) == kept + width and code[kept:] == "0" * width:
            code = code[:kept]
    return code


def statistical_code(code: str) -> str:
    """The 12-digit padded form used by statistics offices (grids keep 15 digits)."""
    return code if len(code) >= 12 else code.ljust(12, "0")


def subtree_bounds(prefix: str) -> tuple[str, str | None]:
    """Half-open range [low, high) of codes that start with `prefix` (digits only)."""
    digits = list(prefix)
    for i in range(len(digits) - 1, -1, -1):
        if digits[i] != "9":
            digits[i] = str(int(digits[i]) + 1)
            return prefix, "".join(digits[: i + 1])
    return prefix, None


def in_subtree(code: str | None, root: str | None) -> bool:
    if root is None:
        return True
    return code is not None and code.startswith(root)
