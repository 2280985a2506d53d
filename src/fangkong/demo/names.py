"""Synthetic names and identifying numbers for the demo city: person names, community,
unit and venue names, mobile numbers, resident ID numbers, credit codes and venue codes.

The frequency tables below were written for this project: rough, rounded shares of the
commonest surnames and a couple of hundred ordinary given-name characters, split by sex
and by generation. They make plausible-looking names, not statistics.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from fangkong.area import historical
from fangkong.unit.credit_code import check_char

I64 = NDArray[np.int64]
BOOL = NDArray[np.bool_]

# Surname and a rough weight (per mille of the population), about the 100 commonest.
_SURNAMES = (
    "王71 李70 张68 刘54 陈46 杨31 黄22 赵20 吴19 周19 徐13 孙13 马12 朱11 胡11 郭10 "
    "何10 林9 罗9 高9 郑8 梁8 谢7 宋7 唐7 许6 韩6 冯6 邓6 曹6 彭6 曾6 肖6 田5 董5 袁5 "
    "潘5 于5 蒋5 蔡5 余5 杜5 叶4 程4 苏4 魏4 吕4 丁4 任4 沈4 姚4 卢4 姜4 崔3 钟3 谭3 "
    "陆3 汪3 范3 金3 石3 廖3 贾3 夏3 韦3 付3 方3 白3 邹3 孟3 熊3 秦3 邱3 江3 尹3 薛2 "
    "闫2 段2 雷2 侯2 龙2 史2 陶2 黎2 贺2 顾2 毛2 郝2 龚2 邵2 万2 钱2 严2 覃2 武2 戴2 "
    "莫2 孔2 向2 汤2 常1 温1 康1 施1 文1 牛1 樊1 葛1 邢1 安1 齐1 易1 乔1 伍1 庞1 颜1 "
    "倪1 庄1 聂1 章1 鲁1 岳1 翟1 殷1 詹1 申1 欧1 耿1 关1 兰1 焦1 俞1 左1 柳1 甘1 祝1"
)
# Given-name characters: (older generation, younger generation) for each sex.
_MALE_OLD = (
    "国建明军华平志强伟文德春荣林海洪永成光忠良生学祥福兴富贵清山刚勇斌峰东金发"
    "云龙庆元友仁义彬才武顺昌立新利民安胜宝江全先进中会保万启秋康长继"
)
_MALE_YOUNG = (
    "浩宇轩杰涛鹏辉俊博文泽晨阳磊鑫帅凯超航睿然霖子豪铭瑞哲翔天奕皓一嘉梓远凡楠晟"
    "逸宸煜昊锐宁坤思源诚彦骏恒景瀚锦晖承毅卓"
)
_FEMALE_OLD = (
    "秀英兰芳玉珍桂凤华敏丽红霞琴云梅芬菊萍燕娟淑群莲翠素美玲琼惠春桃香彩贞碧琳秋月芝爱蓉洁静娥珠荷慧"
)
_FEMALE_YOUNG = (
    "婷静欣怡雪琳佳颖倩丹悦璐涵萱琪瑶妍梦思雨晨诗嘉蕾茜钰菲婧蓉晓月心语可馨桐"
    "若依沫汐雯彤岚露莹艺璇舒朵茹霏曦韵宁柔"
)

# Syllables for place-like names (communities, brands, buildings).
_FIRST = "锦华光明新和平安东西南北龙凤金玉桂兴盛福春阳清水宏祥瑞康乐德仁顺嘉永泰丰茂青蓉芙川府"
_SECOND = "华苑林园城桥河江山湖泉门坊庄院路街溪坝堰塘湾坪岗亭台府里巷源洲"


def _parse_weighted(text: str) -> tuple[list[str], NDArray[np.float64]]:
    chars = [item[0] for item in text.split()]
    weights = np.array([float(item[1:]) for item in text.split()])
    return chars, weights / weights.sum()


SURNAMES, SURNAME_P = _parse_weighted(_SURNAMES)


def _pick(rng: np.random.Generator, chars: str, n: int) -> pa.Array:
    return pa.array(list(chars)).take(pa.array(rng.integers(0, len(chars), n)))


def person_names(rng: np.random.Generator, male: NDArray[np.bool_], young: NDArray[np.bool_]) -> pa.Array:
    """Surname + a one- or two-character given name chosen by sex and generation."""
    n = len(male)
    surname = pa.array(SURNAMES).take(pa.array(rng.choice(len(SURNAMES), n, p=SURNAME_P)))
    is_male, is_young = pa.array(male), pa.array(young)

    def given_char() -> pa.Array:
        old = pc.if_else(is_male, _pick(rng, _MALE_OLD, n), _pick(rng, _FEMALE_OLD, n))
        new = pc.if_else(is_male, _pick(rng, _MALE_YOUNG, n), _pick(rng, _FEMALE_YOUNG, n))
        return pc.if_else(is_young, new, old)

    first, second = given_char(), given_char()
    two = pa.array(rng.random(n) < 0.7)
    given = pc.if_else(two, pc.binary_join_element_wise(first, second, ""), first)
    return pc.binary_join_element_wise(surname, given, "")


def syllable_pairs(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct two-syllable names (n ≤ len(_FIRST) * len(_SECOND))."""
    total = len(_FIRST) * len(_SECOND)
    picks = rng.choice(total, size=min(n, total), replace=False)
    names = [_FIRST[i // len(_SECOND)] + _SECOND[i % len(_SECOND)] for i in picks.tolist()]
    while len(names) < n:  # more needed than there are pairs: number the repeats
        names.append(f"{names[len(names) % total]}{len(names) // total + 1}")
    return names


def brands(rng: np.random.Generator, n: int) -> list[str]:
    """Two-syllable shop or company names (repeats allowed, like real brands)."""
    a = rng.integers(0, len(_FIRST), n).tolist()
    b = rng.integers(0, len(_FIRST), n).tolist()
    return [
        _FIRST[i] + _FIRST[j] if i != j else _FIRST[i] + _SECOND[j % len(_SECOND)]
        for i, j in zip(a, b, strict=True)
    ]


# Name suffixes of units, by category; "{d}" is the district, "{b}" a brand, "{c}" the community.
UNIT_NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "community": ("{c}居民委员会",),
    "enterprise": (
        "成都{b}科技有限公司",
        "成都{b}商贸有限公司",
        "四川{b}实业有限公司",
        "成都{b}餐饮管理有限公司",
        "成都{b}电子有限公司",
        "四川{b}食品有限公司",
        "成都{b}物流有限公司",
        "成都{b}信息技术有限公司",
        "成都{b}汽车服务有限公司",
        "成都{b}文化传媒有限公司",
        "成都{b}医药有限公司",
        "成都{b}制造有限公司",
    ),
    "construction": ("四川{b}建设工程有限公司", "成都{b}建筑劳务有限公司", "成都{b}装饰工程有限公司"),
    "postal_courier": ("{d}邮政{b}支局", "{b}快递{d}营业部", "{b}速运{d}分拨点"),
    "government_agency": (
        "{d}{b}派出所",
        "{d}市场监督管理局",
        "{d}城市管理局",
        "{d}卫生健康局",
        "{d}{b}街道办事处",
        "{d}教育局",
        "{d}交通运输局",
        "{d}应急管理局",
    ),
    "childcare": ("{d}{b}幼儿园", "{b}实验幼儿园", "{b}双语幼儿园"),
    "school": ("{d}{b}小学", "{d}{b}中学", "{b}实验学校", "{d}第{n}中学"),
    "university": ("成都{b}学院", "四川{b}职业技术学院", "成都{b}大学"),
    "elderly_care": ("{d}{b}养老院", "{b}颐养中心", "{b}老年公寓"),
    "welfare_home": ("{d}社会福利院", "{d}儿童福利院"),
    "prison": ("四川省{b}监狱",),
    "mental_health_institution": ("{d}精神卫生中心", "成都{b}心理医院"),
    "medical_waste_centre": ("成都市{b}医疗废物处置中心",),
    "property_management": ("{b}物业服务中心", "成都{b}物业管理有限公司"),
}

PLACE_NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "home": ("{c}{b}小区", "{c}{b}苑", "{c}{b}花园"),
    "office": ("{b}大厦", "{b}国际中心", "{b}写字楼"),
    "hotel": ("{b}酒店", "{b}宾馆", "{b}快捷酒店（{c}店）"),
    "shopping_mall": ("{b}超市（{c}店）", "{b}便利店", "{b}购物中心", "{b}商场", "{b}生活超市"),
    "bank": (
        "中国工商银行{c}支行",
        "中国建设银行{c}支行",
        "中国农业银行{c}支行",
        "中国银行{c}支行",
        "成都银行{c}支行",
        "成都农商银行{c}支行",
        "邮储银行{c}营业所",
    ),
    "restaurant": (
        "{b}火锅",
        "{b}串串香",
        "{b}小面",
        "{b}川菜馆",
        "{b}茶馆",
        "{b}冒菜",
        "{b}烧烤",
        "{b}面馆",
        "{b}饺子馆",
        "{b}中餐厅",
        "{b}钵钵鸡",
        "{b}兔头",
    ),
    "barber": ("{b}理发店", "{b}美发", "{b}发型设计"),
    "farmers_market": ("{c}农贸市场", "{b}菜市场"),
    "park": ("{b}公园", "{c}社区公园", "{b}湿地公园"),
    "medical_institution": ("{c}社区卫生服务中心", "{b}诊所", "{b}医院", "{b}中医馆", "{b}口腔诊所"),
    "isolation_site": ("{b}集中隔离医学观察点",),
    "rail_passenger": ("成都东站", "成都站", "成都南站", "成都西站", "犀浦站", "天府站"),
    "road_passenger": (
        "城北客运中心",
        "新南门汽车站",
        "茶店子客运站",
        "金沙车站",
        "五桂桥汽车站",
        "昭觉寺汽车站",
    ),
    "waterway_passenger": ("锦江夜游码头", "黄龙溪游船码头", "三岔湖游船码头"),
    "civil_aviation": ("成都双流国际机场", "成都天府国际机场"),
    "city_bus": ("{n}路公交车 川A{p}",),
    "urban_rail": ("地铁{n}号线",),
    "taxi": ("出租车 川A{p}",),
    "private_car": ("私家车 川A{p}",),
    "returnee_transfer_vehicle": ("入境人员转运车 川A{p}",),
}

PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def fill(pattern: str, *, d: str = "", b: str = "", c: str = "", n: int = 0, p: str = "") -> str:
    return pattern.format(d=d, b=b, c=c, n=n, p=p)


def short_district(name: str) -> str:
    """锦江区 → 锦江, 都江堰市 → 都江堰 (kept whole when only one character would remain)."""
    return name[:-1] if len(name) > 2 and name[-1] in "区县市" else name


# --- identifying numbers --------------------------------------------------------------

_MOBILE_PREFIXES = np.array(
    [
        *range(130, 140),
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        166,
        173,
        175,
        176,
        177,
        178,
        *range(180, 190),
        191,
        198,
        199,
    ]
)
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


_VENUE_ALPHABET = np.frombuffer(b"23456789ABCDEFGHJKMNPQRSTUVWXYZ", dtype=np.uint8)
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def mobile_numbers(rng: np.random.Generator, n: int) -> NDArray[np.int64]:
    """`n` distinct mainland mobile numbers (1[3-9] + 9 digits) as integers."""
    nums = _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), n)] * 10**8 + rng.integers(0, 10**8, n)
    while True:
        order = np.argsort(nums, kind="stable")
        sorted_nums = nums[order]
        dup = order[1:][sorted_nums[1:] == sorted_nums[:-1]]
        if len(dup) == 0:
            return nums
        nums[dup] = _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), len(dup))] * 10**8 + rng.integers(
            0, 10**8, len(dup)
        )


@cache
def _codes_in_city(prefix: str) -> tuple[str, ...]:
    return tuple(sorted(c for c in historical.known_codes() if c[:4] == prefix and c[4:] != "00"))


@cache
def birth_place_code(code: str, year: int) -> str:
    """`code`, or the code of the same place (else the same city) in use in `year`."""
    if historical.valid_in_year(code, year):
        return code
    stem = short_district(historical.name_of(code) or "")[:2]
    same_city = _codes_in_city(code[:4])
    for c in same_city:
        if historical.valid_in_year(c, year) and (historical.name_of(c, year) or "")[:2] == stem:
            return c
    for c in same_city:
        if historical.valid_in_year(c, year) and c[4:] != "01":
            return c
    return code[:4] + "00"


@cache
def stable_county_codes() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """6-digit county codes in use all through 1925..2030: (Sichuan outside 成都, elsewhere)."""
    codes = sorted(
        c
        for c in historical.known_codes()
        if c[4:] not in ("00", "01")
        and historical.valid_in_year(c, 1925)
        and historical.valid_in_year(c, 2030)
    )
    return (
        tuple(int(c) for c in codes if c[:2] == "51" and c[:4] != "5101"),
        tuple(int(c) for c in codes if c[:2] != "51" and c[:2] in _MAINLAND),
    )


_MAINLAND = {
    str(p)
    for p in (*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66))
}


def resident_ids(code: I64, birth: NDArray[np.datetime64], sequence: I64, male: BOOL) -> NDArray[np.str_]:
    """The vectorised equivalent of `fangkong.person.identity.make_resident_id`."""
    y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    m = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    order = 2 * sequence + male.astype(np.int64)
    parts = [(code, 6), (y, 4), (m, 2), (d, 2), (order, 3)]
    digits = np.stack([(v // 10 ** (w - 1 - i)) % 10 for v, w in parts for i in range(w)], axis=1)
    out = np.empty((len(code), 18), dtype=np.uint8)
    out[:, :17] = digits + 48
    out[:, 17] = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
    return out.view("S18").ravel().astype("U18")


def id_sequences(rng: np.random.Generator, code: I64, birth: NDArray[np.datetime64]) -> I64:
    """Distinct order numbers (1..499) among persons sharing an address code and birth date."""
    key = code * 100_000 + birth.astype(np.int64) + 40_000
    order = np.argsort(key, kind="stable")
    sk = key[order]
    n = len(sk)
    new = np.concatenate(([True], sk[1:] != sk[:-1]))
    start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    rank = np.arange(n) - start
    group_size = np.bincount(np.cumsum(new) - 1)[np.cumsum(new) - 1]
    if group_size.max(initial=0) > 498:
        raise RuntimeError("too many persons share an address code and birth date")
    base = 1 + (rng.random(n) * (499 - group_size))[start].astype(np.int64)
    seq = np.empty(n, dtype=np.int64)
    seq[order] = base + rank
    return seq


def _random_strings(
    rng: np.random.Generator, n: int, alphabet: NDArray[np.uint8], width: int, prefix: bytes = b""
) -> list[str]:
    raw = np.empty((n, len(prefix) + width), dtype=np.uint8)
    raw[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    raw[:, len(prefix) :] = alphabet[rng.integers(0, len(alphabet), (n, width))]
    width_all = len(prefix) + width
    strings: list[str] = raw.view(f"S{width_all}").ravel().astype(f"U{width_all}").tolist()
    return strings


def venue_codes(rng: np.random.Generator, n: int, taken: frozenset[str] = frozenset()) -> list[str]:
    """`n` distinct venue codes shaped like `new_venue_code` ("V" + 11), drawn from `rng`."""
    seen = set(taken)
    out: list[str] = []
    while len(out) < n:
        for code in _random_strings(rng, n - len(out), _VENUE_ALPHABET, 11, b"V"):
            if code not in seen:
                seen.add(code)
                out.append(code)
    return out


_CREDIT_ALPHABET = np.frombuffer(_CREDIT_CHARS.encode(), dtype=np.uint8)


def credit_codes(
    rng: np.random.Generator, heads: list[str], taken: frozenset[str] = frozenset()
) -> list[str]:
    """Distinct unified social credit codes: each 8-character head (registration office and
    kind, 6-digit division) + 9 random characters + the GB 32100 check character."""
    seen = set(taken)
    out: list[str] = []
    for head, body in zip(heads, _random_strings(rng, len(heads), _CREDIT_ALPHABET, 9), strict=True):
        while True:
            code = head + body
            code += check_char(code)
            if code not in seen:
                break
            body = _random_strings(rng, 1, _CREDIT_ALPHABET, 9)[0]
        seen.add(code)
        out.append(code)
    return out


def plates(rng: np.random.Generator, n: int) -> list[str]:
    """Five-character licence plate tails (after 川A)."""
    alphabet = np.frombuffer(PLATE_CHARS.encode(), dtype=np.uint8)
    return _random_strings(rng, n, alphabet, 5)
