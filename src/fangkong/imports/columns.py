"""Column specifications of the import and export sheets, and the value conversions they need.

Each kind (`persons`, `households`, `venues`, `units`) has one list of columns; `areas` and
`audit` are export-only lists with their own columns (`EXPORT_ONLY_COLUMNS`). A column has a
canonical field name, the header written in zh-CN and in English, other accepted headers
and whether it is required. Headers are matched ignoring case, spaces, `_`, `-`, `*` and the
width of characters (NFKC), so `证件号码`, `ID number`, `id_number` and `身份证号` all name the
same column. Coded values (categories, ID kinds, key groups, sex, household relation) are
accepted as their code, their zh-CN label or their English label (see `fangkong.i18n`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args

from fangkong.errors import FangkongError, invalid
from fangkong.i18n import LANGUAGES, t
from fangkong.person.key_groups import KEY_GROUPS
from fangkong.person.schemas import IdKind, Relation
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.unit.categories import UNIT_CATEGORIES
from fangkong.unit.credit_code import normalize_credit_code

KINDS: tuple[str, ...] = ("persons", "households", "venues", "units")
# `places` is accepted everywhere as another name of `venues` (the API calls them places).
KIND_ALIASES = {
    "places": "venues",
    "venue": "venues",
    "place": "venues",
    "person": "persons",
    "household": "households",
    "unit": "units",
}


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    fmt: str = ""
    example: str = ""

    def header(self, lang: str = "zh-CN") -> str:
        return self.en if lang == "en" else self.zh


def _c(
    name: str, zh: str, en: str, *aliases: str, required: bool = False, fmt: str = "", example: str = ""
) -> Column:
    return Column(name, zh, en, aliases, required, fmt, example)


_AREA = _c(
    "area_code",
    "所属区域代码",
    "Area code",
    "社区(网格)代码",
    "社区代码",
    "网格代码",
    "区域代码",
    "所属社区代码",
    required=True,
    fmt="area code of 2-15 digits (community or grid); padded 6/12-digit forms accepted",
    example="510104020001001",
)
_LON = _c("lon", "经度", "Longitude", "lng", fmt="decimal degrees (WGS-84), with lat", example="104.0817")
_LAT = _c("lat", "纬度", "Latitude", fmt="decimal degrees (WGS-84), with lon", example="30.6547")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "persons": (
        _c("name", "姓名", "Name", "名字", required=True, fmt="1-100 characters", example="张三"),
        _c(
            "id_kind",
            "证件类型",
            "ID type",
            "ID kind",
            "document type",
            fmt="code or label; blank = resident ID (居民身份证)",
            example="居民身份证",
        ),
        _c(
            "id_number",
            "证件号码",
            "ID number",
            "身份证号",
            "身份证号码",
            "公民身份号码",
            "证件号",
            required=True,
            fmt="text; resident IDs are checked (length, birth date, check digit)",
            example="510104199206010266",
        ),
        _c(
            "sex",
            "性别",
            "Sex",
            "gender",
            fmt="男/女, male/female; blank = taken from the resident ID",
            example="女",
        ),
        _c(
            "birth_date",
            "出生日期",
            "Birth date",
            "date of birth",
            "出生年月日",
            fmt="YYYY-MM-DD, YYYY/M/D, YYYYMMDD or YYYY年M月D日; must match the resident ID",
            example="1992-06-01",
        ),
        _c(
            "phone",
            "手机号",
            "Phone",
            "联系电话",
            "手机号码",
            "电话",
            "mobile",
            fmt="mainland mobile number, +86 allowed",
            example="13800138000",
        ),
        _AREA,
        _c(
            "address",
            "住址",
            "Address",
            "现住址",
            "居住地址",
            "家庭住址",
            fmt="up to 300 characters",
            example="和平社区3栋2单元501室",
        ),
        _LON,
        _LAT,
        _c(
            "household_ref",
            "户号",
            "Household ref",
            "household number",
            "household reference",
            fmt="the household's own number; households are created when missing",
            example="HH-0001",
        ),
        _c(
            "household_relation",
            "与户主关系",
            "Relation to head",
            "household relation",
            fmt="户主/配偶/子女/父母/孙辈/祖父母/兄弟姐妹/其他 or the English codes",
            example="户主",
        ),
        _c(
            "work_unit_credit_code",
            "工作单位统一社会信用代码",
            "Work unit credit code",
            "工作单位信用代码",
            fmt="18-character unified social credit code of a registered unit",
            example="91510100MA6123456W",
        ),
        _c(
            "key_groups",
            "重点人群",
            "Key groups",
            fmt="codes or labels separated by , ， ; ； or 、",
            example="老年人、司机",
        ),
        _c("nationality", "国籍", "Nationality", fmt="ISO 3166-1 alpha-3; blank = CHN", example="CHN"),
    ),
    "households": (
        _c(
            "household_ref",
            "户号",
            "Household ref",
            "household number",
            "household reference",
            "external_ref",
            required=True,
            fmt="up to 64 characters, unique",
            example="HH-0001",
        ),
        _AREA,
        _c(
            "address",
            "住址",
            "Address",
            "地址",
            "现住址",
            "家庭住址",
            required=True,
            fmt="1-300 characters",
            example="和平社区3栋2单元501室",
        ),
    ),
    "venues": (
        _c(
            "name",
            "场所名称",
            "Venue name",
            "名称",
            "name",
            required=True,
            fmt="1-200 characters",
            example="春熙路菜市场",
        ),
        _c(
            "category",
            "场所类别",
            "Category",
            "类别",
            "venue category",
            required=True,
            fmt="one of the 20 place category codes or labels",
            example="农集贸市场",
        ),
        _AREA,
        _c(
            "address", "地址", "Address", "场所地址", "住址", fmt="up to 300 characters", example="春熙路88号"
        ),
        _LON,
        _LAT,
        _c("capacity", "容纳人数", "Capacity", fmt="whole number 0-10,000,000", example="300"),
        _c(
            "responsible_unit_credit_code",
            "责任单位统一社会信用代码",
            "Responsible unit credit code",
            "责任单位信用代码",
            fmt="credit code of a registered unit",
            example="91510100MA6123456W",
        ),
        _c(
            "venue_code",
            "场所码",
            "Venue code",
            fmt="4-40 letters, digits, _ or -; generated when blank",
            example="VCHUNXI0001",
        ),
    ),
    "units": (
        _c(
            "name",
            "单位名称",
            "Unit name",
            "名称",
            "name",
            required=True,
            fmt="1-200 characters",
            example="锦江区第一小学",
        ),
        _c(
            "category",
            "单位类别",
            "Category",
            "类别",
            "unit category",
            required=True,
            fmt="one of the 14 unit category codes or labels",
            example="中小学校",
        ),
        _AREA,
        _c(
            "address", "地址", "Address", "单位地址", "住址", fmt="up to 300 characters", example="书院街12号"
        ),
        _LON,
        _LAT,
        _c(
            "credit_code",
            "统一社会信用代码",
            "Credit code",
            "信用代码",
            "unified social credit code",
            fmt="18 characters (GB 32100-2015), unique",
            example="91510100MA6123456W",
        ),
        _c("contact_name", "联系人", "Contact name", "contact", fmt="up to 100 characters", example="李四"),
        _c(
            "contact_phone",
            "联系电话",
            "Contact phone",
            "联系人电话",
            "手机号",
            fmt="mainland mobile number",
            example="13900139000",
        ),
    ),
}

# Columns only written by exports (before the import columns): the record's id, and for
# persons the name of their area.
ID_COLUMN = Column("id", "系统编号", "ID", fmt="the record's id in fangkong (export only)")
# Cells that look like numbers but must be kept as text; numbers with more than 15
# significant digits lost digits in Excel.
TEXT_COLUMNS = frozenset(
    {
        "id_number",
        "phone",
        "area_code",
        "household_ref",
        "credit_code",
        "work_unit_credit_code",
        "responsible_unit_credit_code",
        "venue_code",
        "contact_phone",
        "barcode",
    }
)
LONG_NUMBER_COLUMNS = frozenset(
    {"id_number", "credit_code", "work_unit_credit_code", "responsible_unit_credit_code"}
)


# Lists that are exported but never imported (their own columns, no import aliases).
EXPORT_ONLY_COLUMNS: dict[str, tuple[Column, ...]] = {
    "areas": (
        _c("code", "区域代码", "Area code"),
        _c("name", "区域名称", "Area name"),
        _c("level", "层级", "Level", fmt="province, city, county, township, community or grid"),
        _c("parent_code", "上级区域代码", "Parent code"),
        _c("local", "本地添加", "Local", fmt="是/否, yes/no: added locally, not from the national list"),
        _LON,
        _LAT,
    ),
    "audit": (
        ID_COLUMN,
        _c("at", "时间", "Time", fmt="local time of the configured zone, ISO 8601"),
        _c("actor_name", "账号", "Account"),
        _c("action", "操作", "Action"),
        _c("resource_type", "对象类型", "Resource type"),
        _c("resource_id", "对象编号", "Resource ID"),
        _c("area_code", "区域代码", "Area code"),
        _c("reason", "理由", "Reason"),
        _c("before", "修改前", "Before", fmt="JSON, personal data masked"),
        _c("after", "修改后", "After", fmt="JSON, personal data masked"),
    ),
}
EXPORT_KINDS: tuple[str, ...] = (*KINDS, *EXPORT_ONLY_COLUMNS)
YES_NO = {"zh-CN": ("是", "否"), "en": ("yes", "no")}


def register_sheet(kind: str, columns: tuple[Column, ...]) -> None:
    """Another domain's sheet (e.g. lab results) read with `read_sheet`; not an import kind."""
    if kind in KINDS:
        raise ValueError(f"{kind} is a registry import kind")
    COLUMNS[kind] = columns
    header_map.cache_clear()


def canonical_kind(kind: str) -> str:
    k = KIND_ALIASES.get(kind, kind)
    if k not in KINDS:
        raise invalid("kind", f"unknown kind; expected one of {', '.join(KINDS)}", kind)
    return k


def export_kind(kind: str) -> str:
    """Like `canonical_kind`, but also accepts the export-only lists (areas, audit)."""
    if kind in EXPORT_ONLY_COLUMNS:
        return kind
    k = KIND_ALIASES.get(kind, kind)
    if k not in KINDS:
        raise invalid("kind", f"unknown kind; expected one of {', '.join(EXPORT_KINDS)}", kind)
    return k


def export_columns(kind: str) -> tuple[Column, ...]:
    """The columns of an export: the record's id, then the import columns; or the columns
    of an export-only list."""
    if kind in EXPORT_ONLY_COLUMNS:
        return EXPORT_ONLY_COLUMNS[kind]
    return (ID_COLUMN, *COLUMNS[kind])


def yes_no(value: bool | None, lang: str) -> str:
    return "" if value is None else YES_NO["en" if lang == "en" else "zh-CN"][0 if value else 1]


def norm_header(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-*]+", "", folded)


@cache
def header_map(kind: str) -> dict[str, str]:
    """Normalised accepted header -> canonical field name."""
    out: dict[str, str] = {}
    for col in COLUMNS[kind]:
        for text in (col.name, col.zh, col.en, *col.aliases):
            out.setdefault(norm_header(text), col.name)
    return out


def column(kind: str, name: str) -> Column:
    for col in COLUMNS[kind]:
        if col.name == name:
            return col
    raise KeyError(name)


# ---------------------------------------------------------------- coded values


@cache
def _labels(enum: str, codes: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for code in codes:
        out[norm_header(code)] = code
        for lang in LANGUAGES:
            out.setdefault(norm_header(t(f"{enum}.{code}", lang)), code)
    return out


_ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "id_kind": ("id_kind", get_args(IdKind)),
    "household_relation": ("household_relation", get_args(Relation)),
    "sex": ("sex", ("male", "female", "unknown")),
}
_EXTRA = {
    "id_kind": {
        "身份证": "resident_id",
        "居民身份证号": "resident_id",
        "二代身份证": "resident_id",
        "港澳通行证": "hk_macao_permit",
        "台胞证": "taiwan_permit",
        "永居证": "foreign_permanent_id",
    },
    "sex": {"男性": "male", "女性": "female", "m": "male", "f": "female"},
    "household_relation": {
        "本人": "head",
        "妻": "spouse",
        "夫": "spouse",
        "子": "child",
        "女": "child",
        "儿子": "child",
        "女儿": "child",
    },
}


def code_of(field: str, raw: str, *, category_kind: str | None = None) -> str:
    """Map a coded value given as code or label to its code; unknown values come back as
    they are (the schema then rejects them with the list of valid codes)."""
    if field == "category":
        enum, codes = (
            ("place_category", PLACE_CATEGORIES)
            if category_kind == "venues"
            else ("unit_category", UNIT_CATEGORIES)
        )
    else:
        enum, codes = _ENUMS[field]
    key = norm_header(raw)
    found = _labels(enum, tuple(codes)).get(key) or _EXTRA.get(field, {}).get(key)
    return found or raw


def label_of(enum: str, code: str | None, lang: str) -> str:
    return "" if code is None else t(f"{enum}.{code}", lang)


_SEPARATORS = re.compile(r"([,，;；、/|])")


def split_key_groups(raw: str) -> list[str]:
    """Split a key-group cell into codes. Labels may themselves contain separators
    (`海关（边检、卫生检疫）人员`, `Customs, border-inspection and quarantine staff`), so
    the longest run of pieces that names a group wins; unknown pieces come back as given."""
    known = _labels("key_group", KEY_GROUPS)
    parts = _SEPARATORS.split(raw)  # text, sep, text, sep, ...
    texts = parts[0::2]
    seps = parts[1::2]
    out: list[str] = []
    i = 0
    while i < len(texts):
        match_end, code = i, None
        joined = ""
        for j in range(i, len(texts)):
            joined = joined + (seps[j - 1] if j > i else "") + texts[j]
            found = known.get(norm_header(joined))
            if found:
                match_end, code = j, found
        if code is None:
            piece = texts[i].strip()
            if piece:
                out.append(piece)
            i += 1
        else:
            out.append(code)
            i = match_end + 1
    return out


def join_key_groups(codes: Iterable[str], lang: str) -> str:
    sep = "; " if lang == "en" else "、"
    return sep.join(label_of("key_group", c, lang) for c in codes)


_DATE_FORMS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def parse_date(raw: str) -> str:
    """Normalise the usual written forms of a date to ISO (YYYY-MM-DD).

    Raises ValueError with a readable reason for impossible dates and unknown forms.
    """
    text = raw.strip()
    if text.endswith(" 00:00:00"):
        text = text[:-9]
    for form in _DATE_FORMS:
        m = form.fullmatch(text)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return dt.date(y, mo, d).isoformat()
            except ValueError:
                raise ValueError(f"{text} is not a calendar date") from None
    raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD")


# ---------------------------------------------------------------- cells to schema input

_PLAIN = {
    "persons": ("name", "id_number", "phone", "area_code", "address", "lon", "lat", "household_ref"),
    "households": ("household_ref", "area_code", "address"),
    "venues": ("name", "area_code", "address", "lon", "lat", "capacity", "venue_code"),
    "units": ("name", "area_code", "address", "lon", "lat", "credit_code", "contact_name", "contact_phone"),
}
_CODED = {
    "persons": ("id_kind", "sex", "household_relation"),
    "households": (),
    "venues": ("category",),
    "units": ("category",),
}
_CREDIT = {"persons": ("work_unit_credit_code",), "venues": ("responsible_unit_credit_code",)}
_NATIONALITY = {"中国": "CHN", "中华人民共和国": "CHN", "china": "CHN"}


def prepare(
    kind: str, values: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str]]]:
    """Turn a row's cell texts into the schema's input: codes for labels, ISO dates, lists
    of key groups. Returns (schema input, extra values checked here — the normalised credit
    codes that the importer resolves to unit ids —, problems as (field, reason))."""
    data: dict[str, Any] = {k: values[k] for k in _PLAIN[kind] if k in values}
    extra: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name in _CODED[kind]:
        if name in values:
            data[name] = code_of(name, values[name], category_kind=kind)
    if "nationality" in values:
        data["nationality"] = _NATIONALITY.get(values["nationality"].casefold(), values["nationality"])
    if kind == "persons" and "birth_date" in values:
        try:
            data["birth_date"] = parse_date(values["birth_date"])
        except ValueError as exc:
            problems.append(("birth_date", str(exc)))
    if kind == "persons" and "key_groups" in values:
        data["key_groups"] = split_key_groups(values["key_groups"])
    for name in _CREDIT.get(kind, ()):
        if name in values:
            try:
                extra[name] = normalize_credit_code(values[name])
            except FangkongError as exc:
                problems.append((name, exc.details[0].reason if exc.details else exc.message))
    return data, extra, problems
