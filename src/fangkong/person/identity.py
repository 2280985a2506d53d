"""Validation and normalisation of person identifiers (pure functions, no I/O).

Resident ID numbers (居民身份证号码) follow GB 11643-1999: a 6-digit address code, an
8-digit birth date (YYYYMMDD), a 3-digit order code whose last digit is odd for men and
even for women, and an ISO 7064 MOD 11-2 check character (0-9 or X). First-generation
15-digit numbers (YYMMDD birth date, no check character) are converted to 18 digits.

The same layout is used by Hong Kong / Macao residents' residence permits (prefix 81 / 82),
Taiwan residents' residence permits (83) and the 2023 foreigners' permanent residence ID
card (prefix 9x), so those numbers are accepted by :func:`parse_resident_id` too.

Every rejection raises :class:`fangkong.errors.Invalid` with one
:class:`~fangkong.errors.ErrorDetail` naming the field and the precise problem.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal, get_args

from fangkong.area import historical
from fangkong.errors import ErrorDetail, Invalid

__all__ = [
    "IdentifierKind",
    "ResidentId",
    "Sex",
    "check_digit",
    "cross_check",
    "make_resident_id",
    "normalize_identifier",
    "normalize_phone",
    "parse_resident_id",
]

Sex = Literal["male", "female"]
IdentifierKind = Literal[
    "resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id", "other"
]
IDENTIFIER_KINDS: tuple[str, ...] = get_args(IdentifierKind)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_DIGITS = frozenset("0123456789")
_EARLIEST_BIRTH = date(1880, 1, 1)
_FIELD = "id_number"

#: Province-level prefixes of the mainland plus 71 (Taiwan, as used on mainland IDs).
MAINLAND_PROVINCES = frozenset(
    str(n)
    for lo, hi in ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71))
    for n in range(lo, hi + 1)
)
#: Residence permits: 81 Hong Kong, 82 Macao, 83 Taiwan residents (台湾居民居住证).
PERMIT_PREFIXES = frozenset({"81", "82", "83"})


@dataclass(frozen=True)
class ResidentId:
    """A validated 18-character resident ID number and what it encodes."""

    number: str
    birth_date: date
    sex: Sex
    address_code: str
    warnings: tuple[str, ...] = ()


def _reject(raw: str, reason: str) -> Invalid:
    return Invalid("invalid resident ID number", [ErrorDetail(_FIELD, reason, raw)])


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for 17 ASCII digits.

    Raises ValueError if ``first17`` is not exactly 17 ASCII digits (a programming error).
    """
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError(f"check_digit needs 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _clean(raw: str) -> str:
    """NFKC (full-width digits and letters to ASCII) and strip surrounding whitespace."""
    return unicodedata.normalize("NFKC", raw).strip()


def _reject_separators(raw: str, text: str) -> None:
    for i, ch in enumerate(text, start=1):
        if ch.isspace() or ch == "-" or unicodedata.category(ch) == "Pd":
            what = "a space" if ch.isspace() else "a dash"
            raise _reject(
                raw,
                f"contains {what} at position {i}; the number must be written without spaces or dashes",
            )


def _birth_date(raw: str, digits: str, today: date) -> date:
    try:
        born = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise _reject(raw, f"birth date {digits} is not a calendar date") from None
    if born > today:
        raise _reject(raw, f"birth date {born.isoformat()} is in the future")
    if born < _EARLIEST_BIRTH:
        raise _reject(raw, f"birth date {born.isoformat()} is before 1880-01-01")
    return born


def _address_warnings(address_code: str, year: int) -> list[str]:
    """Warnings about the address code; only mainland (and 71) prefixes are checked.

    Codes 81xxxx, 82xxxx and 83xxxx (residence permits: 810000, 820000, 830000) and 9xxxxx
    (foreigners' permanent residence IDs) are not birthplace division codes, or are absent
    from the division table, so they are not checked.
    """
    if address_code[:2] not in MAINLAND_PROVINCES:
        return []
    if not historical.lookup(address_code):
        return [f"address code {address_code} is not a known division code"]
    if not historical.valid_in_year(address_code, year):
        return [f"address code {address_code} was not in use in {year}"]
    return []


def parse_resident_id(raw: str, *, today: date) -> ResidentId:
    """Validate an 18-character (or legacy 15-digit) resident ID number.

    Surrounding whitespace is stripped and full-width characters are normalised (NFKC);
    a lower-case ``x`` check character becomes ``X``. Internal spaces or dashes are
    rejected. The province prefix must be a mainland code (11-65 as listed in
    :data:`MAINLAND_PROVINCES`), 71, a residence-permit prefix 81/82/83 or 9x (foreigners'
    permanent residence ID). An unknown or out-of-period mainland address code only adds a
    warning (see :func:`_address_warnings`); a 15-digit number is converted and warned about.
    """
    text = _clean(raw)
    if not text:
        raise _reject(raw, "must not be empty")
    _reject_separators(raw, text)
    if len(text) not in (15, 18):
        raise _reject(raw, f"must be 18 characters (or 15 legacy digits), got {len(text)}")
    for i, ch in enumerate(text[:17], start=1):
        if ch not in _DIGITS:
            raise _reject(raw, f"contains a non-digit character at position {i}")
    if len(text) == 18 and text[17] not in _DIGITS and text[17] not in "Xx":
        raise _reject(raw, f"check character at position 18 must be a digit or X, got {text[17]!r}")
    warnings: list[str] = []
    if len(text) == 15:
        first17 = text[:6] + "19" + text[6:]
        number = first17 + check_digit(first17)
        warnings.append("converted from 15-digit legacy number")
    else:
        number = text[:17] + text[17].upper()
    province = number[:2]
    known = province in MAINLAND_PROVINCES or province in PERMIT_PREFIXES
    if not known and province[0] != "9":
        raise _reject(raw, f"province code {province} does not exist")
    born = _birth_date(raw, number[6:14], today)
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise _reject(raw, f"check digit is {number[17]}, expected {expected}")
    warnings.extend(_address_warnings(number[:6], born.year))
    return ResidentId(
        number=number,
        birth_date=born,
        sex="male" if int(number[16]) % 2 else "female",
        address_code=number[:6],
        warnings=tuple(warnings),
    )


_SEX_WORDS: dict[str, Sex] = {
    "male": "male",
    "m": "male",
    "男": "male",
    "female": "female",
    "f": "female",
    "女": "female",
}


def cross_check(resident_id: ResidentId, *, sex: str | None, birth_date: date | None) -> list[ErrorDetail]:
    """Mismatches between declared sex / birth date and those encoded in the ID number.

    ``sex`` may be "male"/"female", "m"/"f" or "男"/"女" (case-insensitive); None skips the
    check. An unrecognised sex value is reported as a problem too.
    """
    problems: list[ErrorDetail] = []
    if sex is not None:
        declared = _SEX_WORDS.get(sex.strip().lower())
        if declared is None:
            problems.append(ErrorDetail("sex", f"unknown sex {sex!r}; expected male or female", sex))
        elif declared != resident_id.sex:
            problems.append(
                ErrorDetail(
                    "sex",
                    f"declared sex {declared} does not match the ID number ({resident_id.sex})",
                    sex,
                )
            )
    if birth_date is not None and birth_date != resident_id.birth_date:
        problems.append(
            ErrorDetail(
                "birth_date",
                f"declared birth date {birth_date.isoformat()} does not match the ID number "
                f"({resident_id.birth_date.isoformat()})",
                birth_date.isoformat(),
            )
        )
    return problems


@lru_cache(maxsize=8192)
def _address_weighted_sum(address_code: str) -> int:
    if len(address_code) != 6 or not _DIGITS.issuperset(address_code):
        raise ValueError(f"address_code must be 6 ASCII digits, got {address_code!r}")
    return sum(int(c) * w for c, w in zip(address_code, _WEIGHTS[:6], strict=True))


def make_resident_id(address_code: str, birth_date: date, sequence: int, *, sex: Sex) -> str:
    """Build a valid 18-character number; ``sequence`` 0..499 picks the order code.

    The order code is ``2 * sequence + 1`` for men and ``2 * sequence`` for women, so its
    last digit has the right parity. Raises ValueError on out-of-range arguments. Meant for
    synthetic data and tests: it does no division-table lookups, and it computes the check
    character arithmetically (weights 2,1,6,3 | 7,9 | 10,5 | 8,4,2 for year, month, day,
    order) with the address part cached, about 1 µs per call.
    """
    total = _address_weighted_sum(address_code)
    if not 0 <= sequence <= 499:
        raise ValueError(f"sequence must be in 0..499, got {sequence}")
    if sex == "male":
        order = 2 * sequence + 1
    elif sex == "female":
        order = 2 * sequence
    else:
        raise ValueError(f"sex must be 'male' or 'female', got {sex!r}")
    y, m, d = birth_date.year, birth_date.month, birth_date.day
    total += (y // 1000) * 2 + (y // 100 % 10) + (y // 10 % 10) * 6 + (y % 10) * 3
    total += (m // 10) * 7 + (m % 10) * 9 + (d // 10) * 10 + (d % 10) * 5
    total += (order // 100) * 8 + (order // 10 % 10) * 4 + (order % 10) * 2
    return f"{address_code}{y:04d}{m:02d}{d:02d}{order:03d}{_CHECK_CHARS[total % 11]}"


# --- other identity documents -------------------------------------------------------------

_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
_HK_MACAO = re.compile(r"[HM](?:\d{8}|\d{10})", re.ASCII)
_TAIWAN = re.compile(r"\d{8}|\d{10}", re.ASCII)
_FOREIGN_OLD = re.compile(r"[A-Z]{3}\d{12}", re.ASCII)
_PHONE = re.compile(r"1[3-9]\d{9}", re.ASCII)


def _invalid(field: str, reason: str, raw: str) -> Invalid:
    return Invalid(f"invalid {field.replace('_', ' ')}", [ErrorDetail(field, reason, raw)])


def normalize_identifier(kind: str, raw: str, *, today: date) -> tuple[str, tuple[str, ...]]:
    """Normalise an identity document number of the given kind; returns (value, warnings).

    Errors name the field ``id_kind`` (unknown kind), ``id_number`` (resident_id) or the
    kind itself (``passport``, ``hk_macao_permit``, ``taiwan_permit``,
    ``foreign_permanent_id``, ``other``).
    """
    if kind not in IDENTIFIER_KINDS:
        raise _invalid(
            "id_kind",
            f"unknown identifier kind {kind!r}; expected one of {', '.join(IDENTIFIER_KINDS)}",
            kind,
        )
    if kind == "resident_id":
        rid = parse_resident_id(raw, today=today)
        return rid.number, rid.warnings
    if kind == "other":
        text = raw.strip()
        if not 1 <= len(text) <= 64:
            raise _invalid(kind, f"must be 1-64 characters, got {len(text)}", raw)
        if not text.isprintable():
            raise _invalid(kind, "contains a control or non-printable character", raw)
        return text, ()
    text = _clean(raw).upper()
    if kind == "foreign_permanent_id":
        if len(text) == 18 and text.startswith("9"):
            try:
                rid = parse_resident_id(text, today=today)
            except Invalid as exc:
                reason = exc.details[0].reason
                raise _invalid(kind, reason, raw) from None
            return rid.number, rid.warnings
        if _FOREIGN_OLD.fullmatch(text) is None:
            raise _invalid(
                kind,
                "must be 18 characters starting with 9 (2023 format) or 3 letters followed "
                f"by 12 digits (old format), got {text!r}",
                raw,
            )
        return text, ()
    if kind == "passport":
        if not 5 <= len(text) <= 20:
            raise _invalid(kind, f"must be 5-20 letters or digits, got {len(text)} characters", raw)
        if _PASSPORT.fullmatch(text) is None:
            bad = next(i for i, c in enumerate(text, 1) if not ("A" <= c <= "Z" or c in _DIGITS))
            raise _invalid(kind, f"only letters A-Z and digits are allowed (position {bad})", raw)
        return text, ()
    if kind == "hk_macao_permit":
        if _HK_MACAO.fullmatch(text) is None:
            raise _invalid(kind, f"must be H or M followed by 8 or 10 digits, got {text!r}", raw)
        return text, ()
    # taiwan_permit
    if _TAIWAN.fullmatch(text) is None:
        raise _invalid(kind, f"must be 8 or 10 digits, got {text!r}", raw)
    return text, ()


def normalize_phone(raw: str) -> str:
    """Normalise a mainland China mobile number to its 11 digits.

    Accepts an optional ``+86`` / ``0086`` / ``86`` country prefix, spaces and dashes.
    """
    text = _clean(raw)
    compact = "".join(ch for ch in text if not (ch.isspace() or ch == "-"))
    if not compact:
        raise _invalid("phone", "must not be empty", raw)
    if compact.startswith("+"):
        if not compact.startswith("+86"):
            raise _invalid("phone", "only mainland China (+86) mobile numbers are accepted", raw)
        compact = compact[3:]
    elif compact.startswith("0086"):
        compact = compact[4:]
    elif compact.startswith("86") and len(compact) == 13:
        compact = compact[2:]
    for ch in compact:
        if ch not in _DIGITS:
            raise _invalid("phone", f"contains {ch!r}; only digits, spaces, dashes and +86 are allowed", raw)
    if len(compact) != 11:
        raise _invalid("phone", f"must have 11 digits, got {len(compact)}", raw)
    if _PHONE.fullmatch(compact) is None:
        raise _invalid(
            "phone",
            f"{compact} is not a mainland mobile number (must start with 13-19)",
            raw,
        )
    return compact
