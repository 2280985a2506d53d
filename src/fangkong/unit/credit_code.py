"""统一社会信用代码 (unified social credit code, GB 32100-2015) validation."""

from __future__ import annotations

from fangkong.errors import invalid

_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_char(first17: str) -> str:
    total = sum(_CHARS.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHARS[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 18:
        raise invalid("credit_code", f"must be 18 characters, got {len(code)}", raw)
    for pos, ch in enumerate(code, start=1):
        if ch not in _CHARS:
            raise invalid(
                "credit_code",
                f"character {ch!r} at position {pos} is not allowed (I, O, S, V and Z are never used)",
                raw,
            )
    expected = check_char(code[:17])
    if code[17] != expected:
        raise invalid("credit_code", f"check character is {code[17]}, expected {expected}", raw)
    return code
