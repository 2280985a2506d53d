"""Masking of personal data (shown by default everywhere; unmasking is audited)."""

from __future__ import annotations


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜; Latin names keep initials only."""
    if not name:
        return name
    if name.isascii():
        return " ".join(p[0] + "*" * (len(p) - 1) for p in name.split() if p)
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id(value: str | None) -> str | None:
    """1101**********1234: first 4 and last 4 characters of long numbers."""
    if not value:
        return value
    if len(value) >= 12:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    if len(value) > 4:
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return "*" * len(value)


def mask_phone(value: str | None) -> str | None:
    """138****5678."""
    if not value:
        return value
    if len(value) == 11:
        return value[:3] + "****" + value[-4:]
    return mask_id(value)


def mask_address(value: str | None) -> str | None:
    """Keep the first 6 characters (street or compound), hide the door number."""
    if not value:
        return value
    keep = min(6, max(1, len(value) // 2))
    return value[:keep] + "****"
