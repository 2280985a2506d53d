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


_MASKERS = {
    "name": mask_name,
    "contact_name": mask_name,
    "phone": mask_phone,
    "contact_phone": mask_phone,
    "address": mask_address,
    "id_number": mask_id,
    "value": mask_id,
}
_DROP = {"lon", "lat"}


_PERSONAL = frozenset({"person", "household", "user"})
_CONTACT_KEYS = frozenset({"contact_name", "contact_phone", "phone"})


def mask_record(record: dict[str, object] | None, resource_type: str = "person") -> dict[str, object] | None:
    """Mask the personal fields of a stored snapshot (audit rows, merge history).

    For records about people (persons, households, accounts): names, phones, addresses and
    document numbers masked, coordinates dropped, birth dates cut to the year. For other
    records (venues, units, areas) only contact names and phones are masked."""
    if record is None:
        return None
    personal = resource_type in _PERSONAL
    out: dict[str, object] = {}
    for key, value in record.items():
        if not personal and key not in _CONTACT_KEYS:
            out[key] = value
            continue
        if key in _DROP:
            out[key] = None if value is not None else value
        elif key in _MASKERS and isinstance(value, str):
            out[key] = _MASKERS[key](value)
        elif key == "birth_date" and isinstance(value, str):
            out[key] = value[:4]
        elif key == "identifiers" and isinstance(value, list):
            out[key] = [_mask_identifier(v) for v in value]
        elif isinstance(value, dict):
            out[key] = mask_record(value, resource_type)
        else:
            out[key] = value
    return out


def _mask_identifier(value: object) -> object:
    if isinstance(value, str) and ":" in value:
        kind, _, number = value.partition(":")
        return f"{kind}:{mask_id(number)}"
    return value
