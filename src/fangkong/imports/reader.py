"""Reading import sheets: CSV (UTF-8 with or without BOM, or GB18030) and .xlsx workbooks.

`read_sheet` returns the data rows as dicts keyed by canonical field name (see
`fangkong.imports.columns`), with every value as stripped text. Problems with the file as a
whole (encoding, not a workbook, missing required columns, empty) raise `Invalid`; problems
with single rows (a truncated line, an ID number that Excel turned into a rounded number)
are returned in `Sheet.errors` with the row number. Row numbers count data rows from 1 (the
header excluded); blank rows are skipped but counted, so row n is line n + 1 of a sheet
whose header is on line 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fangkong.errors import ErrorDetail, Invalid
from fangkong.imports.columns import (
    COLUMNS,
    LONG_NUMBER_COLUMNS,
    TEXT_COLUMNS,
    header_map,
    norm_header,
)

_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+")
_MAX_EXACT_DIGITS = 15  # Excel keeps 15 significant digits of a number
_HEADER_SEARCH = 10  # rows searched for the header row


@dataclass
class Sheet:
    kind: str
    fmt: str  # "csv" or "xlsx"
    encoding: str | None
    headers: dict[str, str]  # canonical field -> header as written in the file
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    total: int = 0  # non-blank data rows, including the unreadable ones
    errors: list[ErrorDetail] = field(default_factory=list)
    warnings: list[ErrorDetail] = field(default_factory=list)
    # Rows rejected while reading (truncated, malformed, digits lost): not validated further.
    unreadable: set[int] = field(default_factory=set)

    def header_of(self, name: str) -> str:
        return self.headers.get(name, name)


def detect_format(path: Path, filename: str | None = None) -> str:
    name = (filename or path.name).lower()
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith((".csv", ".txt")):
        return "csv"
    if name.endswith(".xls"):
        raise Invalid(
            "old .xls workbooks are not supported; save the sheet as .xlsx or CSV",
            [ErrorDetail("file", "unsupported format .xls", filename or path.name)],
        )
    with path.open("rb") as fh:
        return "xlsx" if fh.read(4) == b"PK\x03\x04" else "csv"


def read_sheet(path: Path, kind: str, *, filename: str | None = None) -> Sheet:
    """Read the first sheet of `path` (CSV or .xlsx) as rows of the given kind."""
    fmt = detect_format(path, filename)
    if path.stat().st_size == 0:
        raise Invalid("the file is empty", [ErrorDetail("file", "the file is empty")])
    if fmt == "xlsx":
        return _build(kind, "xlsx", None, _xlsx_records(path))
    text, encoding = decode(path.read_bytes())
    return _build(kind, "csv", encoding, _csv_records(text))


# ---------------------------------------------------------------- CSV


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (a BOM is dropped) or, failing that, GB18030; both strictly."""
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text, encoding = data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            offset = utf8_error.start
            line = data.count(b"\n", 0, offset) + 1
            byte = data[offset : offset + 1].hex()
            raise Invalid(
                "the file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8 or as .xlsx",
                [
                    ErrorDetail(
                        "file",
                        f"byte 0x{byte} at offset {offset} (line {line}) is not valid "
                        "UTF-8, and the file is not valid GB18030 either",
                    )
                ],
            ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise Invalid(
            "the file contains NUL characters: it looks like UTF-16 or binary data, "
            "not CSV; save it as CSV UTF-8 or as .xlsx",
            [ErrorDetail("file", f"NUL character on line {line}")],
        )
    return text, encoding


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    if "," in first or "，" in first:
        return ","
    for cand in ("\t", ";"):
        if cand in first:
            return cand
    return ","


Record = tuple[list[Any] | None, str | None]  # (cells, or None with a reason)


def _csv_records(text: str) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "unexpected end of data" in reason:
                reason = (
                    f"a quoted value starting on line {start} is never closed: the file "
                    "is truncated or a quote is missing"
                )
            else:
                reason = f"line {start}: malformed CSV ({reason})"
            yield None, reason
            continue
        yield cells, None


# ---------------------------------------------------------------- xlsx


def _xlsx_records(path: Path) -> Iterator[Record]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        OSError,
        TypeError,
        IndexError,
        AttributeError,
        EOFError,
    ) as exc:
        raise Invalid(
            "not an .xlsx workbook",
            [
                ErrorDetail(
                    "file", f"not an .xlsx workbook ({type(exc).__name__}); save the sheet as .xlsx or CSV"
                )
            ],
        ) from None
    except Exception as exc:  # openpyxl raises its own errors for damaged parts
        raise Invalid(
            "not an .xlsx workbook",
            [ErrorDetail("file", f"the workbook cannot be read ({type(exc).__name__})")],
        ) from None
    try:
        if not wb.worksheets:
            return
        ws = wb.worksheets[0]
        try:
            for values in ws.iter_rows(values_only=True):
                yield list(values), None
        except Exception as exc:  # a damaged sheet part
            raise Invalid(
                "not an .xlsx workbook",
                [ErrorDetail("file", f"the first sheet cannot be read ({type(exc).__name__})")],
            ) from None
    finally:
        wb.close()


def cell_text(value: Any, name: str) -> tuple[str, str | None]:
    """The cell as text, and a reason when the cell lost information (or None)."""
    if type(value) is str:  # CSV cells, the common case: the cheap checks first
        text = value.strip()
        if "\x00" not in text and (name not in TEXT_COLUMNS or not _SCIENTIFIC.fullmatch(text)):
            return text, None
    if value is None:
        return "", None
    if isinstance(value, bool):
        return str(value).upper(), None
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            return repr(value), None
        number = int(value)
        text = str(number)
        if name in LONG_NUMBER_COLUMNS and len(text.lstrip("-")) > _MAX_EXACT_DIGITS:
            return text, _lost(name, text)
        return text, None
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat(), None
        return value.isoformat(sep=" "), None
    if isinstance(value, dt.date | dt.time):
        return value.isoformat(), None
    text = str(value).strip()
    if "\x00" in text:
        return text.replace("\x00", ""), "contains a NUL character"
    if name in TEXT_COLUMNS and _SCIENTIFIC.fullmatch(text):
        return text, (
            f"written in scientific notation ({text}): the spreadsheet turned the "
            "number into a rounded one; format the column as Text and enter it again"
        )
    return text, None


def _lost(name: str, shown: str) -> str:
    return (
        f"stored as a number in the workbook, so it lost digits (read as {shown}); Excel keeps "
        f"only {_MAX_EXACT_DIGITS} significant digits. Format the column as Text and enter "
        "the values again"
    )


# ---------------------------------------------------------------- common


def _is_blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _find_header(kind: str, it: Iterator[Record]) -> tuple[list[Any], int, list[Record]]:
    """The header: the first of the first few non-blank rows that names at least two known
    columns (so a title row above the header is skipped), else the first non-blank row.
    Returns it, the number of rows skipped above it, and the rows read after it."""
    mapping = header_map(kind)
    seen: list[Record] = []
    for record in it:
        cells, problem = record
        if problem is not None and not seen:
            raise Invalid("the header row cannot be read", [ErrorDetail("file", problem)])
        if cells is not None and _is_blank(cells) and not seen:
            continue
        seen.append(record)
        if (
            cells is not None
            and sum(1 for c in cells if c is not None and norm_header(str(c)) in mapping) >= 2
        ):
            skipped = sum(1 for c, _p in seen[:-1] if c is None or not _is_blank(c))
            return cells, skipped, []
        if len(seen) >= _HEADER_SEARCH:
            break
    if not seen or seen[0][0] is None:
        raise Invalid("the file is empty", [ErrorDetail("file", "no header row and no data")])
    return seen[0][0], 0, seen[1:]


def _build(kind: str, fmt: str, encoding: str | None, records: Iterable[Record]) -> Sheet:
    it = iter(records)
    header, skipped, replay = _find_header(kind, it)
    sheet = _map_header(kind, fmt, encoding, header)
    if skipped:
        sheet.warnings.insert(
            0, ErrorDetail("file", f"{skipped} row(s) above the header row were ignored (a title?)")
        )
    it = itertools.chain(replay, it)
    positions = sheet_positions(kind, header)
    width = max((i for i, c in enumerate(header) if c is not None and str(c).strip()), default=-1) + 1
    row = 0
    for cells, problem in it:
        row += 1
        if cells is None:
            sheet.total += 1
            sheet.unreadable.add(row)
            sheet.errors.append(ErrorDetail("", problem or "unreadable row", None, row))
            continue
        if _is_blank(cells):
            continue
        sheet.total += 1
        if fmt == "csv" and len(cells) < width:
            sheet.unreadable.add(row)
            sheet.errors.append(
                ErrorDetail(
                    "",
                    f"has {len(cells)} values but the header has "
                    f"{width} columns: the line is truncated or a "
                    "separator is missing",
                    None,
                    row,
                )
            )
            continue
        if any(c is not None and str(c).strip() for c in cells[width:]):
            sheet.unreadable.add(row)
            sheet.errors.append(
                ErrorDetail(
                    "",
                    f"has values beyond the last of the {width} header columns (an unquoted comma?)",
                    None,
                    row,
                )
            )
            continue
        values: dict[str, str] = {}
        for name, index in positions:
            if index >= len(cells):
                continue
            text, lost = cell_text(cells[index], name)
            if lost is not None:
                sheet.unreadable.add(row)
                sheet.errors.append(ErrorDetail(sheet.header_of(name), lost, text, row))
                continue
            if text:
                values[name] = text
        if row not in sheet.unreadable:
            sheet.rows.append((row, values))
    if sheet.total == 0:
        raise Invalid(
            "the file has a header but no data rows", [ErrorDetail("file", "no data rows below the header")]
        )
    return sheet


def sheet_positions(kind: str, header: Sequence[Any]) -> list[tuple[str, int]]:
    mapping = header_map(kind)
    out: list[tuple[str, int]] = []
    for index, cell in enumerate(header):
        name = mapping.get(norm_header(str(cell))) if cell is not None else None
        if name is not None:
            out.append((name, index))
    return out


def _map_header(kind: str, fmt: str, encoding: str | None, header: Sequence[Any]) -> Sheet:
    mapping = header_map(kind)
    found: dict[str, str] = {}
    warnings: list[ErrorDetail] = []
    duplicates: list[ErrorDetail] = []
    for cell in header:
        text = "" if cell is None else str(cell).strip()
        if not text:
            continue
        name = mapping.get(norm_header(text))
        if name is None:
            warnings.append(ErrorDetail(text, "unknown column; its values are ignored"))
        elif name in found:
            duplicates.append(
                ErrorDetail(text, f"gives {name} like column {found[name]!r}; keep only one of them", text)
            )
        else:
            found[name] = text
    missing = [c for c in COLUMNS[kind] if c.required and c.name not in found]
    problems = duplicates + [
        ErrorDetail(c.zh, f"required column is missing (header {c.zh}, {c.en} or {c.name})") for c in missing
    ]
    if problems:
        names = ", ".join(f"{c.zh} ({c.name})" for c in missing)
        message = (
            f"missing required columns: {names}" if missing else "the same field is given by two columns"
        )
        raise Invalid(message, problems)
    return Sheet(kind=kind, fmt=fmt, encoding=encoding, headers=found, warnings=warnings)
