from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangkong.errors import ErrorDetail, Invalid
from fangkong.person.identity import (
    IDENTIFIER_KINDS,
    MAINLAND_PROVINCES,
    ResidentId,
    check_digit,
    cross_check,
    make_resident_id,
    normalize_identifier,
    normalize_phone,
    parse_resident_id,
)

TODAY = date(2026, 3, 1)


def with_check(first17: str) -> str:
    return first17 + check_digit(first17)


def reason_of(raw: str, *, today: date = TODAY) -> str:
    with pytest.raises(Invalid) as info:
        parse_resident_id(raw, today=today)
    [detail] = info.value.details
    assert detail.field == "id_number"
    assert detail.value == raw
    return detail.reason


# --- check digit ---------------------------------------------------------------------------


def test_check_digit_gb11643_example() -> None:
    # 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2  x  7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
    # = 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2; "10X98765432"[2] = X
    assert check_digit("11010519491231002") == "X"


def test_check_digit_second_hand_computed_example() -> None:
    # 1 2 0 1 1 0 1 9 8 5 0 3 1 5 0 0 1  x  weights
    # = 7+18+0+5+8+0+2+9+48+15+0+27+10+25+0+0+2 = 176; 176 mod 11 = 0; "10X98765432"[0] = 1
    assert check_digit("12011019850315001") == "1"


def test_check_digit_third_hand_computed_example() -> None:
    # 1 2 0 1 1 0 2 0 0 1 0 1 0 1 0 0 2  x  weights
    # = 7+18+0+5+8+0+4+0+0+3+0+9+0+5+0+0+4 = 63; 63 mod 11 = 8; "10X98765432"[8] = 4
    assert check_digit("12011020010101002") == "4"


@pytest.mark.parametrize("bad", ["", "1101051949123100", "110105194912310021", "1101051949123100X"])
def test_check_digit_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        check_digit(bad)


# --- parse_resident_id: accepted numbers ---------------------------------------------------


def test_parse_standard_example() -> None:
    rid = parse_resident_id("11010519491231002X", today=TODAY)
    assert rid == ResidentId(
        number="11010519491231002X",
        birth_date=date(1949, 12, 31),
        sex="female",  # 17th digit 2 is even
        address_code="110105",
        warnings=(),
    )


def test_parse_male_and_lower_case_x_and_whitespace() -> None:
    assert parse_resident_id("120110198503150011", today=TODAY).sex == "male"
    rid = parse_resident_id("  11010519491231002x\t\n", today=TODAY)
    assert rid.number == "11010519491231002X"


def test_parse_full_width_characters() -> None:
    rid = parse_resident_id("１１０１０５１９４９１２３１００２ｘ", today=TODAY)
    assert rid.number == "11010519491231002X"
    rid = parse_resident_id("\u300011010519491231002Ｘ\u3000", today=TODAY)
    assert rid.number == "11010519491231002X"


def test_parse_legacy_15_digit_number() -> None:
    rid = parse_resident_id("110105491231002", today=TODAY)
    assert rid.number == "11010519491231002X"  # "19" inserted, check digit appended
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.sex == "female"
    assert rid.warnings == ("converted from 15-digit legacy number",)


def test_parse_legacy_15_digit_male() -> None:
    rid = parse_resident_id("120110850315001", today=TODAY)
    assert rid.number == "120110198503150011"
    assert rid.sex == "male"


def test_feb_29_in_leap_year_is_accepted() -> None:
    assert parse_resident_id(with_check("11010520000229001"), today=TODAY).birth_date == date(2000, 2, 29)
    assert parse_resident_id(with_check("11010519960229001"), today=TODAY).birth_date == date(1996, 2, 29)


@pytest.mark.parametrize(("prefix", "address"), [("81", "810000"), ("82", "820000"), ("83", "830000")])
def test_residence_permit_prefixes(prefix: str, address: str) -> None:
    rid = parse_resident_id(with_check(address + "19900101001"), today=TODAY)
    assert rid.address_code[:2] == prefix
    assert rid.warnings == ()  # not checked against the division table (830000 is absent)


@pytest.mark.parametrize("address", ["911560", "900000", "931234", "990000"])
def test_foreign_permanent_residence_prefix_9x(address: str) -> None:
    rid = parse_resident_id(with_check(address + "19900101002"), today=TODAY)
    assert rid.sex == "female"
    assert rid.warnings == ()


def test_today_itself_is_accepted() -> None:
    rid = parse_resident_id(with_check("11010520260301001"), today=TODAY)
    assert rid.birth_date == TODAY


def test_earliest_birth_date() -> None:
    assert parse_resident_id(with_check("11010518800101001"), today=TODAY).birth_date == date(1880, 1, 1)


# --- parse_resident_id: address-code warnings ----------------------------------------------


def test_abolished_code_before_and_after_abolition() -> None:
    # 110103 崇文区 was in use until 2010.
    assert parse_resident_id(with_check("11010319850315001"), today=TODAY).warnings == ()
    assert parse_resident_id(with_check("11010320100315001"), today=TODAY).warnings == ()
    rid = parse_resident_id(with_check("11010320110315001"), today=TODAY)
    assert rid.warnings == ("address code 110103 was not in use in 2011",)


def test_reused_code_is_valid_in_both_periods() -> None:
    # 120110 was 东郊区 up to 1991 and 东丽区 from 1992: in use both in 1985 and in 2001.
    assert parse_resident_id("120110198503150011", today=TODAY).warnings == ()
    assert parse_resident_id("120110200101010024", today=TODAY).warnings == ()


def test_code_introduced_later_warns_for_earlier_birth() -> None:
    # 110118 密云区 exists from 2015 only.
    rid = parse_resident_id(with_check("11011820000101001"), today=TODAY)
    assert rid.warnings == ("address code 110118 was not in use in 2000",)
    assert parse_resident_id(with_check("11011820150101001"), today=TODAY).warnings == ()


def test_unknown_code_warns() -> None:
    rid = parse_resident_id(with_check("11019919900101001"), today=TODAY)
    assert rid.warnings == ("address code 110199 is not a known division code",)
    rid = parse_resident_id(with_check("71010019900101001"), today=TODAY)
    assert rid.warnings == ("address code 710100 is not a known division code",)


def test_legacy_conversion_and_address_warning_together() -> None:
    rid = parse_resident_id("110199900101001", today=TODAY)
    assert rid.warnings == (
        "converted from 15-digit legacy number",
        "address code 110199 is not a known division code",
    )


# --- parse_resident_id: rejections ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("11010519491231002", "must be 18 characters (or 15 legacy digits), got 17"),
        ("11010519491231002X1", "must be 18 characters (or 15 legacy digits), got 19"),
        ("1101051949", "must be 18 characters (or 15 legacy digits), got 10"),
        ("   ", "must not be empty"),
        ("1101a519491231002X", "contains a non-digit character at position 5"),
        ("X1010519491231002X", "contains a non-digit character at position 1"),
        ("1101051949123100XX", "contains a non-digit character at position 17"),
        ("11010549123100X", "contains a non-digit character at position 15"),
        ("11010519491231002Y", "check character at position 18 must be a digit or X, got 'Y'"),
        (
            "110105 19491231002X",
            "contains a space at position 7; the number must be written without spaces or dashes",
        ),
        (
            "110105-19491231-002X",
            "contains a dash at position 7; the number must be written without spaces or dashes",
        ),
        ("11010519491231005X", "check digit is X, expected 4"),
        ("110105194912310025", "check digit is 5, expected X"),
    ],
)
def test_rejections(raw: str, reason: str) -> None:
    assert reason_of(raw) == reason


def test_wrong_check_digit_five_expected_three() -> None:
    first17 = next(
        f"110105199001010{n:02d}" for n in range(100) if check_digit(f"110105199001010{n:02d}") == "3"
    )
    assert reason_of(first17 + "5") == "check digit is 5, expected 3"


@pytest.mark.parametrize("province", ["00", "10", "16", "19", "20", "24", "30", "38", "40", "47", "55"])
def test_unknown_province_codes(province: str) -> None:
    raw = with_check(province + "010519900101001")
    assert reason_of(raw) == f"province code {province} does not exist"


@pytest.mark.parametrize("province", ["60", "66", "70", "72", "80", "84", "89"])
def test_more_unknown_province_codes(province: str) -> None:
    assert reason_of(with_check(province + "000019900101001")) == (f"province code {province} does not exist")


def test_legacy_number_with_unknown_province() -> None:
    assert reason_of("190105491231002") == "province code 19 does not exist"


@pytest.mark.parametrize(
    "birth", ["19990230", "19000229", "20010229", "19991301", "19990001", "19990100", "19990431"]
)
def test_birth_date_not_a_calendar_date(birth: str) -> None:
    raw = with_check("110105" + birth + "001")
    assert reason_of(raw) == f"birth date {birth} is not a calendar date"


def test_legacy_birth_date_not_a_calendar_date() -> None:
    assert reason_of("110105990230001") == "birth date 19990230 is not a calendar date"


def test_birth_date_in_future() -> None:
    assert reason_of(with_check("11010520310101001")) == "birth date 2031-01-01 is in the future"
    assert reason_of(with_check("11010520260302001")) == "birth date 2026-03-02 is in the future"
    # the same number is fine once that day has come
    assert parse_resident_id(with_check("11010520310101001"), today=date(2031, 1, 1))


def test_birth_date_before_1880() -> None:
    assert reason_of(with_check("11010518791231001")) == "birth date 1879-12-31 is before 1880-01-01"


def test_error_message_and_code() -> None:
    with pytest.raises(Invalid) as info:
        parse_resident_id("123", today=TODAY)
    assert info.value.code == "invalid"
    assert info.value.status == 422
    assert "id_number" in str(info.value)


# --- make_resident_id + property tests -----------------------------------------------------

addresses = st.builds(
    lambda p, rest: p + rest,
    st.sampled_from(sorted(MAINLAND_PROVINCES | {"81", "82", "83", "91", "95"})),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)
birth_dates = st.dates(min_value=date(1880, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=499)
sexes = st.sampled_from(["male", "female"])


@given(addresses, birth_dates, sequences, sexes)
def test_make_then_parse_round_trips(address: str, born: date, seq: int, sex: str) -> None:
    assert sex in ("male", "female")
    number = make_resident_id(address, born, seq, sex="male" if sex == "male" else "female")
    assert len(number) == 18
    assert number[-1] == check_digit(number[:17])  # arithmetic path agrees with plain one
    rid = parse_resident_id(number, today=TODAY)
    assert rid.number == number
    assert rid.birth_date == born
    assert rid.sex == sex
    assert rid.address_code == address
    assert int(number[14:17]) // 2 == seq


@given(
    addresses,
    birth_dates,
    sequences,
    sexes,
    st.integers(min_value=0, max_value=16),
    st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_substitution_is_detected(
    address: str, born: date, seq: int, sex: str, position: int, delta: int
) -> None:
    number = make_resident_id(address, born, seq, sex="male" if sex == "male" else "female")
    new_digit = str((int(number[position]) + delta) % 10)
    mutated = number[:position] + new_digit + number[position + 1 :]
    assert mutated != number
    assert check_digit(mutated[:17]) != number[17]
    with pytest.raises(Invalid):
        parse_resident_id(mutated, today=TODAY)


def test_make_resident_id_sequence_and_sex_parity() -> None:
    assert make_resident_id("110105", date(1949, 12, 31), 1, sex="female") == "11010519491231002X"
    assert make_resident_id("120110", date(1985, 3, 15), 0, sex="male") == "120110198503150011"
    assert make_resident_id("110105", date(1990, 1, 1), 499, sex="male")[14:17] == "999"
    assert make_resident_id("110105", date(1990, 1, 1), 0, sex="female")[14:17] == "000"


@pytest.mark.parametrize(
    ("address", "seq", "sex"),
    [
        ("11010", 0, "male"),
        ("1101051", 0, "male"),
        ("11010a", 0, "male"),
        ("110105", -1, "male"),
        ("110105", 500, "female"),
        ("110105", 0, "other"),
    ],
)
def test_make_resident_id_rejects_bad_arguments(address: str, seq: int, sex: str) -> None:
    with pytest.raises(ValueError):
        make_resident_id(address, date(1990, 1, 1), seq, sex=sex)  # type: ignore[arg-type]


# --- cross_check ---------------------------------------------------------------------------


def test_cross_check_matches() -> None:
    rid = parse_resident_id("11010519491231002X", today=TODAY)
    assert cross_check(rid, sex="female", birth_date=date(1949, 12, 31)) == []
    assert cross_check(rid, sex="女", birth_date=None) == []
    assert cross_check(rid, sex=" F ", birth_date=None) == []
    assert cross_check(rid, sex=None, birth_date=None) == []


def test_cross_check_mismatches() -> None:
    rid = parse_resident_id("11010519491231002X", today=TODAY)
    problems = cross_check(rid, sex="male", birth_date=date(1949, 12, 30))
    assert problems == [
        ErrorDetail("sex", "declared sex male does not match the ID number (female)", "male"),
        ErrorDetail(
            "birth_date",
            "declared birth date 1949-12-30 does not match the ID number (1949-12-31)",
            "1949-12-30",
        ),
    ]
    assert [p.field for p in cross_check(rid, sex="男", birth_date=None)] == ["sex"]


def test_cross_check_unknown_sex_value() -> None:
    rid = parse_resident_id("11010519491231002X", today=TODAY)
    [problem] = cross_check(rid, sex="unknown", birth_date=None)
    assert problem.field == "sex"
    assert "unknown sex 'unknown'" in problem.reason


# --- normalize_identifier ------------------------------------------------------------------


def detail_of(kind: str, raw: str) -> ErrorDetail:
    with pytest.raises(Invalid) as info:
        normalize_identifier(kind, raw, today=TODAY)
    [detail] = info.value.details
    return detail


def test_identifier_kinds() -> None:
    assert IDENTIFIER_KINDS == (
        "resident_id",
        "passport",
        "hk_macao_permit",
        "taiwan_permit",
        "foreign_permanent_id",
        "other",
    )


def test_normalize_resident_id() -> None:
    assert normalize_identifier("resident_id", "11010519491231002x", today=TODAY) == (
        "11010519491231002X",
        (),
    )
    assert normalize_identifier("resident_id", "110105491231002", today=TODAY) == (
        "11010519491231002X",
        ("converted from 15-digit legacy number",),
    )
    assert detail_of("resident_id", "123").field == "id_number"


def test_normalize_passport() -> None:
    assert normalize_identifier("passport", " e12345678 ", today=TODAY) == ("E12345678", ())
    assert normalize_identifier("passport", "AB123", today=TODAY) == ("AB123", ())
    assert normalize_identifier("passport", "A" * 20, today=TODAY) == ("A" * 20, ())
    short = detail_of("passport", "AB12")
    assert short.field == "passport"
    assert short.reason == "must be 5-20 letters or digits, got 4 characters"
    assert detail_of("passport", "A" * 21).reason == ("must be 5-20 letters or digits, got 21 characters")
    assert detail_of("passport", "E1234-678").reason == (
        "only letters A-Z and digits are allowed (position 6)"
    )
    assert detail_of("passport", "E1234 678").field == "passport"


def test_normalize_hk_macao_permit() -> None:
    assert normalize_identifier("hk_macao_permit", "h12345678", today=TODAY) == ("H12345678", ())
    assert normalize_identifier("hk_macao_permit", "M1234567890", today=TODAY)[0] == "M1234567890"
    for bad in ["H1234567", "H123456789", "X12345678", "12345678", "H12345678901"]:
        detail = detail_of("hk_macao_permit", bad)
        assert detail.field == "hk_macao_permit"
        assert "H or M followed by 8 or 10 digits" in detail.reason


def test_normalize_taiwan_permit() -> None:
    assert normalize_identifier("taiwan_permit", " 12345678 ", today=TODAY) == ("12345678", ())
    assert normalize_identifier("taiwan_permit", "1234567890", today=TODAY)[0] == "1234567890"
    for bad in ["1234567", "123456789", "T12345678", "12345678901"]:
        detail = detail_of("taiwan_permit", bad)
        assert detail.field == "taiwan_permit"
        assert "8 or 10 digits" in detail.reason


def test_normalize_foreign_permanent_id() -> None:
    new = with_check("91156019900101002")
    assert normalize_identifier("foreign_permanent_id", new, today=TODAY) == (new, ())
    assert normalize_identifier("foreign_permanent_id", "usa110090123456", today=TODAY) == (
        "USA110090123456",
        (),
    )
    bad_check = new[:17] + ("0" if new[17] != "0" else "1")
    detail = detail_of("foreign_permanent_id", bad_check)
    assert detail.field == "foreign_permanent_id"
    assert detail.reason.startswith("check digit is")
    for bad in ["US1100901234567", "USA11009012345", "11010519491231002X"]:
        assert detail_of("foreign_permanent_id", bad).field == "foreign_permanent_id"


def test_normalize_other() -> None:
    assert normalize_identifier("other", "  军官证 No.123 ", today=TODAY) == ("军官证 No.123", ())
    assert detail_of("other", "   ").reason == "must be 1-64 characters, got 0"
    assert detail_of("other", "x" * 65).reason == "must be 1-64 characters, got 65"
    assert detail_of("other", "ab\x00cd").field == "other"


def test_unknown_identifier_kind() -> None:
    detail = detail_of("xyz", "123")
    assert detail.field == "id_kind"
    assert detail.reason.startswith("unknown identifier kind 'xyz'; expected one of resident_id,")


# --- normalize_phone -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "8613812345678",
        "008613812345678",
        "0086 138 1234 5678",
        "１３８１２３４５６７８",
    ],
)
def test_phone_accepted_formats(raw: str) -> None:
    assert normalize_phone(raw) == "13812345678"


def test_phone_all_mobile_prefixes() -> None:
    for second in "3456789":
        assert normalize_phone(f"1{second}012345678") == f"1{second}012345678"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("1381234567", "must have 11 digits, got 10"),
        ("138123456789", "must have 11 digits, got 12"),
        ("+86138123456", "must have 11 digits, got 9"),
        ("12812345678", "12812345678 is not a mainland mobile number (must start with 13-19)"),
        ("23812345678", "23812345678 is not a mainland mobile number (must start with 13-19)"),
        ("+1 415 555 0100", "only mainland China (+86) mobile numbers are accepted"),
        ("138a2345678", "contains 'a'; only digits, spaces, dashes and +86 are allowed"),
        ("(138)12345678", "contains '('; only digits, spaces, dashes and +86 are allowed"),
    ],
)
def test_phone_rejections(raw: str, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        normalize_phone(raw)
    assert info.value.details == [ErrorDetail("phone", reason, raw)]
