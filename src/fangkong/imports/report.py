"""The error report of an import: a CSV file the owner of the sheet can open in Excel.

Header `row,column,value,reason`; UTF-8 with a BOM (so Excel detects the encoding); one line
per problem. `row` is the 1-based data row (the header excluded, blank rows counted), empty
for problems with the file as a whole. `column` is the header as written in the file.
Values are written as they were in the file, unmasked: the report goes back to the person
who owns the file (a value starting with `=` or `@` gets a leading `'` so that Excel does
not run it as a formula). Callers may add warnings
(rows stored anyway), written with reasons starting "warning: "; the CLI keeps the report to
the problems that kept rows out and prints warnings instead.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fangkong.errors import ErrorDetail

HEADER = ("row", "column", "value", "reason")
WARNING = "warning: "


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # Keep Excel from running a value as a formula (CSV injection).
    if text[:1] in ("=", "@"):
        return "'" + text
    return text


def lines(
    errors: Iterable[ErrorDetail], warnings: Iterable[ErrorDetail] = ()
) -> list[tuple[str, str, str, str]]:
    out = [("" if d.row is None else str(d.row), d.field, _cell(d.value), d.reason) for d in errors]
    out.extend(
        ("" if d.row is None else str(d.row), d.field, _cell(d.value), WARNING + d.reason) for d in warnings
    )
    return out


def render(errors: Iterable[ErrorDetail], warnings: Iterable[ErrorDetail] = ()) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(lines(errors, warnings))
    return buf.getvalue().encode("utf-8-sig")


def write(path: Path, errors: Iterable[ErrorDetail], warnings: Iterable[ErrorDetail] = ()) -> Path:
    path.write_bytes(render(errors, warnings))
    return path
