"""The lab result sheet (核酸检测结果): its columns, read with the import reader (CSV UTF-8 or
GB18030, or .xlsx; Chinese or English headers)."""

from __future__ import annotations

from fangkong.imports.columns import Column, register_sheet


def c(
    name: str, zh: str, en: str, *aliases: str, required: bool = False, fmt: str = "", example: str = ""
) -> Column:
    return Column(name, zh, en, aliases, required, fmt, example)


KIND = "nat_results"
COLUMNS: tuple[Column, ...] = (
    c(
        "barcode",
        "试管条码",
        "Tube barcode",
        "管码",
        "条码",
        "样本编号",
        "样本条码",
        "tube",
        required=True,
        fmt="the tube's barcode",
        example="T20221101000001",
    ),
    c(
        "result",
        "检测结果",
        "Result",
        "结果",
        fmt="阴性/阳性/无效 or negative/positive/invalid; empty: interpreted from the Ct values",
        example="阴性",
    ),
    c("ct_n", "N基因Ct值", "Ct N", "N基因", "NCt", "ct n", fmt="0–45, empty when not detected", example=""),
    c(
        "ct_orf",
        "ORF1ab基因Ct值",
        "Ct ORF1ab",
        "ORF1ab基因",
        "ORF1abCt",
        "ORFCt",
        "ct orf",
        fmt="0–45, empty when not detected",
        example="",
    ),
    c(
        "tested_at",
        "检测时间",
        "Tested at",
        "报告时间",
        "出结果时间",
        required=True,
        fmt="YYYY-MM-DD HH:MM (local time) or ISO 8601",
        example="2022-11-01 16:20",
    ),
)
register_sheet(KIND, COLUMNS)
