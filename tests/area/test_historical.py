from __future__ import annotations

import pytest

from fangkong.area import historical
from fangkong.area.historical import (
    CodeValidity,
    known_province,
    lookup,
    name_of,
    valid_in_year,
)


def test_table_size_matches_data_file() -> None:
    codes = historical.known_codes()
    # loc.dat: 6,928 lines = 9 comment lines + 34 province lines + 6,885 code lines.
    assert len(codes) == 6885
    assert sum(len(lookup(c)) for c in codes) == 7141  # 252 lines hold reused codes
    assert all(len(c) == 6 and c.isdigit() for c in codes)


def test_closed_code_chongwen() -> None:
    assert lookup("110103") == [CodeValidity("110103", "崇文区", None, 2010)]
    assert valid_in_year("110103", 1950)
    assert valid_in_year("110103", 2010)
    assert not valid_in_year("110103", 2011)
    assert name_of("110103", 2011) is None
    assert name_of("110103") == "崇文区"


def test_code_opened_later() -> None:
    assert lookup("110118") == [CodeValidity("110118", "密云区", 2015, None)]
    assert not valid_in_year("110118", 2014)
    assert valid_in_year("110118", 2015)
    assert valid_in_year("110118", 2100)


def test_reused_code_has_several_meanings() -> None:
    assert lookup("120110") == [
        CodeValidity("120110", "东郊区", None, 1991),
        CodeValidity("120110", "东丽区", 1992, None),
    ]
    assert name_of("120110", 1991) == "东郊区"
    assert name_of("120110", 1992) == "东丽区"
    assert name_of("120110") == "东丽区"
    assert valid_in_year("120110", 1985) and valid_in_year("120110", 2001)


def test_reused_code_with_closed_range_on_both_sides() -> None:
    assert lookup("130204") == [
        CodeValidity("130204", "东矿区", 1983, 1994),
        CodeValidity("130204", "古冶区", 1995, None),
    ]
    assert name_of("130204", 1982) is None
    assert not valid_in_year("130204", 1982)
    assert name_of("130204", 1994) == "东矿区"


def test_inverted_source_range_means_until_last_year() -> None:
    # Source line: 0311 county="[1983-1982]郊区,[1983-1995]旧堡区,[1996-]千山区"
    entries = lookup("210311")
    assert [e.name for e in entries] == ["郊区", "旧堡区", "千山区"]
    assert entries[0] == CodeValidity("210311", "郊区", None, 1982)
    assert name_of("210311", 1980) == "郊区"
    assert name_of("210311", 1990) == "旧堡区"


def test_province_and_prefecture_level_codes() -> None:
    assert lookup("110000") == [CodeValidity("110000", "北京市", None, None)]
    assert lookup("110100") == [CodeValidity("110100", "市辖区", None, None)]
    assert lookup("810000") == [CodeValidity("810000", "香港特别行政区", 1997, None)]
    assert known_province("11")
    assert known_province("71") and known_province("81") and known_province("82")
    assert not known_province("19")
    assert not known_province("83")
    assert not known_province("1")


@pytest.mark.parametrize("code", ["110199", "000000", "abcdef", "11010", "1101031", ""])
def test_unknown_or_malformed_codes(code: str) -> None:
    assert lookup(code) == []
    assert not valid_in_year(code, 2000)
    assert name_of(code) is None


def test_lookup_returns_a_fresh_list() -> None:
    lookup("120110").clear()
    assert len(lookup("120110")) == 2


def test_parser_on_small_text() -> None:
    text = (
        "# comment\n"
        '11 province="甲"\n'
        '  0000 county="甲"\n'
        '  0101 county="[-1991]乙,[1992-2000]丙,[2001-]丁"\n'
        '12 province="戊"\n'
        '  0102 county="[1990-]己"\n'
    )
    table = historical._parse(text)
    assert table.provinces == {"11": "甲", "12": "戊"}
    assert table.codes["110101"] == (
        CodeValidity("110101", "乙", None, 1991),
        CodeValidity("110101", "丙", 1992, 2000),
        CodeValidity("110101", "丁", 2001, None),
    )
    assert table.codes["120102"] == (CodeValidity("120102", "己", 1990, None),)


@pytest.mark.parametrize(
    "text",
    [
        '  0101 county="乙"\n',  # code line before any province line
        '11 province="甲"\n  01 county="乙"\n',  # wrong number of digits
        '11 province="甲"\n  0101 county="[19-]乙"\n',  # malformed year
    ],
)
def test_parser_rejects_malformed_lines(text: str) -> None:
    with pytest.raises(ValueError, match="loc.dat line"):
        historical._parse(text)
