"""Small helpers for .docx documents in Chinese (python-docx)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

CJK_FONT = "Noto Sans CJK SC"  # Word falls back to the reader's own CJK font when missing


def new_document(title: str) -> Any:
    doc = Document()
    for style_name in ("Normal", "Title", "Heading 1", "Heading 2", "Table Grid"):
        try:
            style = doc.styles[style_name]
        except KeyError:
            continue
        style.font.name = CJK_FONT
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        fonts.set(qn("w:eastAsia"), CJK_FONT)
    doc.styles["Normal"].font.size = Pt(10.5)
    doc.add_heading(title, level=0)
    return doc


def table(doc: Any, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = doc.add_table(rows=1, cols=len(header))
    t.style = "Table Grid"
    for cell, text in zip(t.rows[0].cells, header, strict=True):
        cell.text = str(text)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = t.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = "" if value is None else str(value)


def fields(doc: Any, pairs: Sequence[tuple[str, Any]]) -> None:
    table(doc, ["", ""], [(k, v) for k, v in pairs])


def to_bytes(doc: Any) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
