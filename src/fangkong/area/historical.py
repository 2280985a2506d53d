"""Chinese administrative division codes, including abolished and reused ones.

The table comes from ``fangkong/area/data/loc.dat`` (python-stdnum's "numdb" text format,
see ``data/README-loc.md``)::

    11 province="北京市"
      0103 county="[-2010]崇文区"
      0110 county="[-1986]燕山区"

A province line gives a 2-digit prefix; each indented line below it gives the remaining
four digits of a 6-digit code. A ``county`` value holds one or more comma-separated
meanings, each optionally prefixed with an inclusive ``[first-last]`` year range where
either year may be missing (open-ended). Fourteen entries carry an inverted range such as
``[1983-1982]郊区`` (a name already gone when the 1983 list started); these are read as
"until 1982" (first year unknown) rather than as never valid. Province-level (``xx0000``)
and prefecture-level (``xxxx00``) lines are codes like any other.

The file is parsed once, on first use. All functions accept any string: anything that is
not a known 6-digit (or 2-digit) code is simply "unknown".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "CodeValidity",
    "known_codes",
    "known_province",
    "lookup",
    "name_of",
    "valid_in_year",
]

_PROVINCE_LINE = re.compile(r'(\d{2}) province="([^"]*)"')
_COUNTY_LINE = re.compile(r'\s+(\d{4}) county="([^"]*)"')
_FOREVER = 10_000
_ENTRY = re.compile(r"(?:\[(\d{4})?-(\d{4})?\])?([^\[\],]+)")


@dataclass(frozen=True)
class CodeValidity:
    """One meaning of a 6-digit division code; years are inclusive, None means open."""

    code: str
    name: str
    first_year: int | None
    last_year: int | None

    def valid_in(self, year: int) -> bool:
        return (self.first_year is None or self.first_year <= year) and (
            self.last_year is None or year <= self.last_year
        )


@dataclass(frozen=True)
class _Table:
    codes: dict[str, tuple[CodeValidity, ...]]
    provinces: dict[str, str]


def _parse_entries(code: str, value: str, lineno: int) -> list[CodeValidity]:
    out: list[CodeValidity] = []
    for part in value.split(","):
        m = _ENTRY.fullmatch(part.strip())
        if m is None:
            raise ValueError(f"loc.dat line {lineno}: cannot parse entry {part!r}")
        first, last, name = m.groups()
        first_year = int(first) if first else None
        last_year = int(last) if last else None
        if first_year is not None and last_year is not None and first_year > last_year:
            first_year = None  # inverted range in the source: start unknown
        out.append(CodeValidity(code, name.strip(), first_year, last_year))
    return out


def _parse(text: str) -> _Table:
    codes: dict[str, list[CodeValidity]] = {}
    provinces: dict[str, str] = {}
    prefix: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if m := _PROVINCE_LINE.fullmatch(line.rstrip()):
            prefix = m.group(1)
            provinces[prefix] = m.group(2)
            continue
        m = _COUNTY_LINE.fullmatch(line.rstrip())
        if m is None or prefix is None:
            raise ValueError(f"loc.dat line {lineno}: unexpected line {line!r}")
        code = prefix + m.group(1)
        codes.setdefault(code, []).extend(_parse_entries(code, m.group(2), lineno))
    return _Table({k: tuple(v) for k, v in codes.items()}, provinces)


@cache
def _table() -> _Table:
    text = resources.files("fangkong.area.data").joinpath("loc.dat").read_text("utf-8")
    return _parse(text)


def lookup(code6: str) -> list[CodeValidity]:
    """All known meanings of a 6-digit code, oldest first; empty if unknown."""
    return list(_table().codes.get(code6, ()))


def known_codes() -> frozenset[str]:
    """Every 6-digit code present in the table."""
    return frozenset(_table().codes)


def known_province(code2: str) -> bool:
    """True if the 2-digit province prefix is present in the table."""
    return code2 in _table().provinces


def valid_in_year(code6: str, year: int) -> bool:
    """True if any meaning of ``code6`` was in use in ``year``."""
    return any(entry.valid_in(year) for entry in _table().codes.get(code6, ()))


def name_of(code6: str, year: int | None = None) -> str | None:
    """Name of ``code6`` in ``year``; without a year, its most recent name.

    Returns None for an unknown code or one not in use in ``year``.
    """
    entries = _table().codes.get(code6, ())
    if year is not None:
        entries = tuple(e for e in entries if e.valid_in(year))
    if not entries:
        return None
    latest = max(entries, key=lambda e: _FOREVER if e.last_year is None else e.last_year)
    return latest.name
