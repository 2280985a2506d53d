"""/api/v1/movement/{kind}: upload movement data (stays, check-ins, travel records, GPS)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.errors import FangkongError
from fangkong.movement import service

router = APIRouter(tags=["movement"])
MAX_BYTES = 500 * 1024 * 1024


@router.post("/movement/{kind}")
def upload(
    kind: Literal["stays", "checkins", "travel", "gps"],
    session: DbSession,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or Parquet")],
    strict: Annotated[bool, Query(description="store nothing when any row is bad")] = False,
) -> dict[str, Any]:
    """Validate and store; the answer lists every problem with its row and column."""
    suffix = ".parquet" if (file.filename or "").lower().endswith(".parquet") else ".csv"
    fd, tmp = tempfile.mkstemp(prefix="fangkong-movement-", suffix=suffix)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := file.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FangkongError(
                        "the file is larger than 500 MB; use the CLI", code="payload_too_large", status=413
                    )
                out.write(chunk)
        result = service.import_file(session=session, actor=actor, kind=kind, source=Path(tmp), strict=strict)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return result.as_dict()
