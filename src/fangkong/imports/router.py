"""/api/v1/imports/{kind} (upload a sheet) and /api/v1/exports/{kind}.{fmt} (download a list;
also the export-only lists `areas` and `audit`)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.area.codes import LEVELS
from fangkong.auth.authorize import authorize
from fangkong.errors import ErrorDetail, FangkongError, Invalid, invalid
from fangkong.i18n import pick_language
from fangkong.imports import export as exports
from fangkong.imports import service as imports
from fangkong.imports.columns import canonical_kind
from fangkong.person.key_groups import KEY_GROUPS
from fangkong.place.categories import PLACE_CATEGORIES
from fangkong.unit.categories import UNIT_CATEGORIES

router = APIRouter(tags=["imports"])

MAX_UPLOAD = 50 * 1024 * 1024  # bytes
MAX_PROBLEMS = 1_000  # problems listed in a response (the CLI report has them all)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

ImportKind = Literal["persons", "households", "venues", "places", "units"]
ExportKind = Literal["persons", "households", "places", "venues", "units", "areas", "audit"]
ExportFormat = Literal["csv", "xlsx"]
_ERROR_SHAPE = {
    "description": "the platform's error shape: "
    '`{"error": {"code", "message", "details": [{field, reason, value, row}]}}`'
}


class Problem(BaseModel):
    row: int | None = Field(description="1-based data row (header excluded); null: the file")
    column: str = Field(description="the column's header as written in the file")
    value: str | None
    reason: str


class ImportSummary(BaseModel):
    kind: str
    filename: str
    batch_id: int | None
    mode: Literal["all_or_nothing", "partial"]
    dry_run: bool
    rows_total: int
    rows_stored: int
    rows_rejected: int
    stored: bool
    errors_total: int
    errors: list[Problem] = Field(description=f"the first {MAX_PROBLEMS} problems")
    warnings: list[Problem]


def _too_large() -> FangkongError:
    return FangkongError(
        f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; split it "
        "or import it with the command line",
        code="payload_too_large",
        status=413,
    )


def _safe_name(name: str | None) -> str:
    base = re.split(r"[/\\]", name or "")[-1]
    return _CONTROL.sub("", base).strip()[:300] or "upload"


def _problems(items: list[ErrorDetail]) -> list[Problem]:
    return [
        Problem(row=d.row, column=d.field, reason=d.reason, value=None if d.value is None else str(d.value))
        for d in items[:MAX_PROBLEMS]
    ]


@router.post(
    "/imports/{kind}",
    response_model=ImportSummary,
    responses={413: _ERROR_SHAPE, 422: _ERROR_SHAPE, 403: _ERROR_SHAPE},
)
def import_sheet(
    kind: Annotated[ImportKind, Path(description="`places` is another name for `venues`")],
    file: Annotated[UploadFile, File(description="the sheet: .csv (UTF-8 or GB18030) or .xlsx")],
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    partial: Annotated[bool, Query(description="store the good rows even if some are rejected")] = False,
    dry_run: Annotated[bool, Query(description="check only; store nothing")] = False,
) -> ImportSummary:
    """Import a sheet of persons, households, venues or units (see docs/import-formats.md).

    200 with the summary when the rows were stored (or a dry run found no problem); 422 in
    the error shape, one detail per problem, when rows were rejected and nothing was stored.
    """
    canonical = canonical_kind(kind)
    authorize(actor, imports.ACTION[canonical])
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD + 64 * 1024:
        raise _too_large()
    name = _safe_name(file.filename)
    suffix = (
        FsPath(name).suffix.lower()
        if FsPath(name).suffix.lower() in (".csv", ".txt", ".xlsx", ".xlsm", ".xls")
        else ""
    )
    fd, tmp = tempfile.mkstemp(prefix="fangkong-import-", suffix=suffix)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while block := file.file.read(1 << 20):
                size += len(block)
                if size > MAX_UPLOAD:
                    raise _too_large()
                out.write(block)
        result = imports.import_file(
            session=session,
            actor=actor,
            kind=canonical,
            path=FsPath(tmp),
            filename=name,
            partial=partial,
            dry_run=dry_run,
        )
    finally:
        os.unlink(tmp)
    if result.rows_rejected and not result.stored:
        what = "dry run: " if dry_run else ""
        raise Invalid(
            f"{what}{result.rows_rejected} of {result.rows_total} rows rejected; nothing was stored",
            [
                ErrorDetail(d.field, d.reason, None if d.value is None else str(d.value), d.row)
                for d in result.errors[:MAX_PROBLEMS]
            ],
        )
    summary: dict[str, Any] = result.summary()
    summary["errors"] = _problems(result.errors)
    summary["warnings"] = _problems(result.warnings)
    return ImportSummary(**summary)


def _text(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if _CONTROL.search(value):
        raise invalid(name, "must not contain control characters", None)
    return value


@router.get(
    "/exports/{kind}.{fmt}",
    response_class=FileResponse,
    responses={
        200: {
            "content": {exports.MEDIA_TYPES["xlsx"]: {}, "text/csv": {}},
            "description": "the list as a file",
        },
        403: _ERROR_SHAPE,
        422: _ERROR_SHAPE,
    },
)
def export_list(
    kind: Annotated[
        ExportKind,
        Path(description="`venues` is another name for `places`; `areas` and `audit` are export only"),
    ],
    fmt: Annotated[ExportFormat, Path(description="csv (UTF-8 with BOM) or xlsx")],
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="persons: name starts with; places, units, areas: name contains",
        ),
    ] = None,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
    key_group: Annotated[
        str | None, Query(max_length=32, json_schema_extra={"enum": list(KEY_GROUPS)})
    ] = None,
    category: Annotated[
        str | None,
        Query(max_length=32, json_schema_extra={"enum": sorted({*PLACE_CATEGORIES, *UNIT_CATEGORIES})}),
    ] = None,
    id_number: Annotated[str | None, Query(max_length=64)] = None,
    phone: Annotated[str | None, Query(max_length=20)] = None,
    venue_code: Annotated[str | None, Query(max_length=40)] = None,
    level: Annotated[
        str | None,
        Query(max_length=12, description="areas: one level", json_schema_extra={"enum": list(LEVELS)}),
    ] = None,
    user: Annotated[str | None, Query(max_length=64, description="audit: the account's login name")] = None,
    action: Annotated[str | None, Query(max_length=64, description="audit: e.g. person.read_pii")] = None,
    resource_type: Annotated[str | None, Query(max_length=32, description="audit: e.g. person")] = None,
    resource_id: Annotated[str | None, Query(max_length=64, description="audit")] = None,
    since: Annotated[
        str | None, Query(max_length=10, description="audit: from this local date (YYYY-MM-DD)")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=10, description="audit: up to this local date, included (YYYY-MM-DD)")
    ] = None,
    unmask_reason: Annotated[
        str | None,
        Query(
            max_length=500,
            description=("persons and households: export unmasked (needs person.read_pii; audited)"),
        ),
    ] = None,
    lang: Annotated[Literal["zh-CN", "en"] | None, Query(description="headers and labels")] = None,
) -> FileResponse:
    """Download a registry list (masked personal data unless `unmask_reason` is given), the
    areas or the audit trail (always masked). Each filter applies only to the lists that have it."""
    filters = exports.ExportFilters(
        q=_text("q", q),
        area_code=_text("area_code", area_code),
        key_group=_text("key_group", key_group),
        category=_text("category", category),
        id_number=_text("id_number", id_number),
        phone=_text("phone", phone),
        venue_code=_text("venue_code", venue_code),
        level=_text("level", level),
        user=_text("user", user),
        action=_text("action", action),
        resource_type=_text("resource_type", resource_type),
        resource_id=_text("resource_id", resource_id),
        since=_text("since", since),
        until=_text("until", until),
    )
    reason = _text("unmask_reason", unmask_reason)
    fd, tmp = tempfile.mkstemp(prefix="fangkong-export-", suffix=f".{fmt}")
    try:
        with os.fdopen(fd, "wb") as out:
            exports.export(
                session=session,
                actor=actor,
                kind=kind,
                fmt=fmt,
                out=out,
                filters=filters,
                unmask_reason=reason,
                lang=lang or pick_language(actor.language),
            )
    except BaseException:
        os.unlink(tmp)
        raise
    return FileResponse(
        tmp,
        media_type=exports.MEDIA_TYPES[fmt],
        filename=exports.filename(kind, fmt),
        background=BackgroundTask(os.unlink, tmp),
    )
