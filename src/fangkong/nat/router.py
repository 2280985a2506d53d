"""/api/v1/nat/…: sampling sites, labs, rounds and their progress, tubes, samples, shipments,
results (JSON and file upload), pool-size advice; /api/v1/me/nat for residents."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.errors import ErrorDetail, FangkongError, Invalid
from fangkong.nat import progress, rounds, sites, tubes
from fangkong.nat import results as results_service
from fangkong.nat.models import SamplingSite
from fangkong.types import MAX_ID, AreaCodeParam

router = APIRouter(tags=["testing"])
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]
SiteId = Annotated[int, Path(ge=1, le=MAX_ID)]
Barcode = Annotated[str, Path(min_length=1, max_length=40)]
LabCode = Annotated[str, Path(min_length=2, max_length=32)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BYTES = 200 * 1024 * 1024


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    area_code: str
    address: str | None
    lon: float | None
    lat: float | None
    capacity_per_hour: int
    hours: str | None
    staff: int
    status: str


class LabOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    area_code: str
    daily_capacity: int


class RoundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    area_code: str
    target: str
    start_at: dt.datetime
    deadline_at: dt.datetime
    status: str
    default_pool_size: int
    series_id: int | None
    seq: int
    final: bool
    auto_repeat: bool
    assignment: dict[str, Any]
    profile_id: str | None
    expected: int
    announcement_zh: str | None
    announcement_en: str | None


class RoundUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_repeat: bool = Field(description="the worker closes and repeats the series' rounds (whole series)")


class TubeOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    barcode: str = Field(min_length=1, max_length=40)
    site_id: int = Field(ge=1, le=MAX_ID)
    capacity: int | None = Field(default=None, ge=1, le=20, description="default: the round's pool size")
    round_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    setting: Literal["screening", "fever_clinic", "outpatient"] = "screening"


class TubeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    barcode: str
    round_id: int | None
    site_id: int
    capacity: int
    members: int
    status: str
    setting: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None
    result: str | None
    reported_at: dt.datetime | None


class SampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tube: str = Field(min_length=1, max_length=40, description="the tube's barcode")
    scan: str = Field(min_length=1, max_length=64, description="person code, resident ID or passport number")
    kind: Literal["person_code", "resident_id", "passport", "person_id"] | None = None
    site_id: int = Field(ge=1, le=MAX_ID)


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40)
    site_id: int = Field(ge=1, le=MAX_ID)
    lab_code: str = Field(min_length=2, max_length=32)
    barcodes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1, max_length=5000)
    carrier: str | None = Field(default=None, max_length=100)


class ReceiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shipment: str = Field(min_length=1, max_length=40)


class ResultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[results_service.ResultIn] = Field(min_length=1, max_length=50_000)


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)


@router.post("/nat/sites", response_model=SiteOut, status_code=201)
def create_site(body: sites.SiteCreate, session: DbSession, actor: CurrentActor) -> Any:
    return sites.create_site(session=session, actor=actor, data=body)


@router.get("/nat/sites", response_model=list[SiteOut])
def list_sites(
    session: DbSession,
    actor: CurrentActor,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
    status: Literal["open", "closed"] | None = None,
) -> Any:
    return sites.list_sites(session=session, actor=actor, area_code=area_code, status=status)


@router.post("/nat/sites/{site_id}/{status}", response_model=SiteOut)
def set_site_status(
    site_id: SiteId, status: Literal["open", "closed"], session: DbSession, actor: CurrentActor
) -> Any:
    """Open or close a sampling site."""
    return sites.set_site_status(session=session, actor=actor, site_id=site_id, status=status)


@router.post("/nat/labs", response_model=LabOut, status_code=201)
def create_lab(body: sites.LabCreate, session: DbSession, actor: CurrentActor) -> Any:
    return sites.create_lab(session=session, actor=actor, data=body)


@router.get("/nat/labs", response_model=list[LabOut])
def list_labs(session: DbSession, actor: CurrentActor) -> Any:
    return sites.list_labs(session=session, actor=actor)


@router.post("/nat/labs/{lab_code}/members", status_code=204)
def add_lab_member(lab_code: LabCode, body: MemberIn, session: DbSession, actor: CurrentActor) -> Response:
    sites.add_lab_member(session=session, actor=actor, lab_code=lab_code, username=body.username)
    return Response(status_code=204)


@router.post("/nat/rounds", response_model=RoundOut, status_code=201)
def create_round(body: rounds.RoundCreate, session: DbSession, actor: CurrentActor) -> Any:
    """Plan a round: expected persons with their site and tube size, and the announcement."""
    return rounds.create(session=session, actor=actor, data=body)


@router.get("/nat/rounds/{round_id}", response_model=RoundOut)
def get_round(round_id: RoundId, session: DbSession, actor: CurrentActor) -> Any:
    return rounds.get(session, actor, round_id)


@router.patch("/nat/rounds/{round_id}", response_model=RoundOut)
def update_round(round_id: RoundId, body: RoundUpdate, session: DbSession, actor: CurrentActor) -> Any:
    """Switch automatic repetition on or off for the round's whole series."""
    from fangkong.nat import series

    return series.set_auto_repeat(
        session=session, actor=actor, round_id=round_id, auto_repeat=body.auto_repeat
    )


@router.post("/nat/rounds/{round_id}/close", response_model=RoundOut)
def close_round(round_id: RoundId, session: DbSession, actor: CurrentActor) -> Any:
    return rounds.close(session=session, actor=actor, round_id=round_id)


@router.get("/nat/rounds/{round_id}/next")
def round_next(round_id: RoundId, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """What the round's series does next by the profile's stop rule: repeat, final, stop, wait."""
    from dataclasses import asdict

    from fangkong.nat import series

    return asdict(series.next_step(session=session, actor=actor, round_id=round_id))


@router.post("/nat/rounds/{round_id}/repeat", response_model=RoundOut, status_code=201)
def round_repeat(round_id: RoundId, session: DbSession, actor: CurrentActor) -> Any:
    """Plan the series' next round (409 when the stop rule says stop or the last round is open)."""
    from fangkong.nat import series

    return series.repeat(session=session, actor=actor, round_id=round_id)


@router.get("/nat/rounds/{round_id}/progress")
def round_progress(
    round_id: RoundId,
    session: DbSession,
    actor: CurrentActor,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
) -> dict[str, Any]:
    """Per community: expected, sampled, missing, results pending, positive; tubes by state;
    late tubes."""
    return progress.progress(session=session, actor=actor, round_id=round_id, area_code=area_code).as_dict()


@router.get("/nat/rounds/{round_id}/missing")
def round_missing(
    round_id: RoundId,
    session: DbSession,
    actor: CurrentActor,
    area_code: Annotated[AreaCodeParam | None, Query()] = None,
    unmask_reason: Annotated[str | None, Query(min_length=4, max_length=200)] = None,
    format: Literal["json", "xlsx"] = "json",
    lang: Literal["zh-CN", "en"] = "zh-CN",
) -> Any:
    """Who has not been sampled yet (masked unless `unmask_reason`; audited)."""
    rows = progress.missing(
        session=session, actor=actor, round_id=round_id, area_code=area_code, unmask_reason=unmask_reason
    )
    if format == "xlsx":
        return Response(
            progress.missing_xlsx(rows, lang),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="missing-round-{round_id}.xlsx"'},
        )
    keys = ("person_id", "name", "phone", "address", "community", "site", "distance_m")
    return {"items": [dict(zip(keys, r, strict=True)) for r in rows[:10_000]], "total": len(rows)}


@router.get("/nat/rounds/{round_id}/turnaround")
def round_turnaround(
    round_id: RoundId,
    session: DbSession,
    actor: CurrentActor,
    site_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> dict[str, Any]:
    """Turnaround per stage (采 → 送 → 检 → 报) of the round's tubes (of one site, if given):
    tubes done and waiting, median and 90th percentile minutes, tubes over the profile's limits."""
    from fangkong.nat import turnaround

    return turnaround.summary(session=session, actor=actor, round_id=round_id, site_id=site_id).as_dict()


@router.get("/nat/sites/{site_id}/turnaround")
def site_turnaround(
    site_id: SiteId,
    session: DbSession,
    actor: CurrentActor,
    since: Annotated[
        dt.datetime | None, Query(description="tubes collected since (no zone: local time)")
    ] = None,
) -> dict[str, Any]:
    """Turnaround per stage of the site's tubes (collected since `since`, if given)."""
    from fangkong.nat import turnaround

    return turnaround.summary(session=session, actor=actor, site_id=site_id, since=since).as_dict()


@router.post("/nat/tubes", response_model=TubeOut, status_code=201)
def open_tube(body: TubeOpen, session: DbSession, actor: CurrentActor) -> Any:
    return tubes.open_tube(session=session, actor=actor, **body.model_dump())


@router.get("/nat/tubes/{barcode}", response_model=TubeOut)
def get_tube(barcode: Barcode, session: DbSession, actor: CurrentActor) -> Any:
    from fangkong.auth.authorize import authorize

    authorize(actor, "nat.read")
    tube = tubes.tube_by_barcode(session, barcode)
    site = session.get(SamplingSite, tube.site_id)
    authorize(actor, "nat.read", site)
    return tube


@router.get("/nat/tubes/{barcode}/members")
def tube_members(barcode: Barcode, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """Who was in the tube (masked) and where they are now: residence, active categories, the
    retest task, the latest venue check-in."""
    from fangkong.nat.members import members

    return members(session=session, actor=actor, barcode=barcode)


@router.post("/nat/tubes/{barcode}/close", response_model=TubeOut)
def close_tube(barcode: Barcode, session: DbSession, actor: CurrentActor) -> Any:
    return tubes.close_tube(session=session, actor=actor, barcode=barcode)


@router.post(
    "/nat/samples",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SampleIn.model_json_schema()}},
        }
    },
)
async def register_sample(request: Request) -> Response:
    """One scan of the person, one of the tube: `{"tube", "scan", "site_id", "kind"?}`. Warnings
    (sampled twice in the round, expected in a single tube, not expected here) do not refuse the
    swab. Answered once the swab is committed; concurrent swabs share one commit (group
    commit). The fast path of sampling: no framework body handling, the body is validated
    against `SampleIn` directly."""
    from pydantic import ValidationError

    from fangkong.api.deps import bearer_token
    from fangkong.db.base import utcnow
    from fangkong.nat.intake import Swab
    from fangkong.validation import invalid_from

    try:
        body = SampleIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise invalid_from(exc, "invalid request body") from None
    token = bearer_token(request)
    swab = Swab(
        tube=body.tube, scan=body.scan, site_id=body.site_id, at=utcnow(), kind=body.kind, token=token
    )
    if token is None:  # a browser session: resolve the account (and check CSRF) the usual way
        swab.actor = await run_in_threadpool(_session_actor, request)
    outcome = await request.app.state.intake.register(swab)
    if isinstance(outcome, FangkongError):
        raise outcome
    answer = {
        "sample_id": outcome.sample_id,
        "tube": outcome.tube_barcode,
        "members": outcome.members,
        "capacity": outcome.capacity,
        "closed": outcome.closed,
        "warnings": outcome.warnings,
    }
    return Response(json.dumps(answer, ensure_ascii=False), status_code=201, media_type="application/json")


def _session_actor(request: Request) -> Any:
    from fangkong.api.deps import current_actor
    from fangkong.db.session import unit_of_work

    with unit_of_work(request.app.state.session_factory) as session:
        return current_actor(request, session)


@router.post("/nat/shipments", status_code=201)
def ship(body: ShipmentIn, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    box = tubes.ship(session=session, actor=actor, **body.model_dump())
    return {"id": box.id, "code": box.code, "tubes": len(body.barcodes), "shipped_at": box.shipped_at}


@router.post("/nat/labs/{lab_code}/receive")
def receive(lab_code: LabCode, body: ReceiveIn, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    n = tubes.receive(session=session, actor=actor, lab_code=lab_code, shipment=body.shipment)
    return {"received": n}


@router.post("/nat/labs/{lab_code}/results")
def report_results(
    lab_code: LabCode, body: ResultsIn, session: DbSession, actor: CurrentActor
) -> dict[str, Any]:
    """Results as JSON, all or nothing; the same result twice is one result; a changed result
    is a correction (history kept)."""
    return results_service.record(
        session=session, actor=actor, lab_code=lab_code, rows=body.results, source="api"
    ).as_dict()


@router.post("/nat/labs/{lab_code}/results/file")
def upload_results(
    lab_code: LabCode,
    session: DbSession,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030) or .xlsx")],
) -> dict[str, Any]:
    suffix = ".xlsx" if (file.filename or "").lower().endswith(".xlsx") else ".csv"
    fd, tmp = tempfile.mkstemp(prefix="fangkong-results-", suffix=suffix)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := file.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FangkongError(
                        "the file is larger than 200 MB; use the CLI", code="payload_too_large", status=413
                    )
                out.write(chunk)
        if size == 0:
            raise Invalid("the file is empty", [ErrorDetail("file", "the file is empty")])
        report = results_service.import_file(
            session=session, actor=actor, lab_code=lab_code, path=FsPath(tmp), filename=file.filename or tmp
        )
    finally:
        FsPath(tmp).unlink(missing_ok=True)
    return report.as_dict()


@router.get("/nat/pool-size")
def pool_size(
    actor: CurrentActor,
    prevalence: Annotated[float, Query(gt=0, lt=1)],
    sensitivity: Annotated[float, Query(gt=0, le=1)] = 1.0,
    specificity: Annotated[float, Query(gt=0, le=1)] = 1.0,
    max_size: Annotated[int, Query(ge=1, le=50)] = 20,
) -> dict[str, Any]:
    """Dorfman two-stage pooling: the pool size with the fewest expected tests per person."""
    from fangkong.auth.authorize import authorize
    from fangkong.nat.advice import advice_dict

    authorize(actor, "nat.read")
    return advice_dict(prevalence, sensitivity, specificity, max_size)


@router.get("/me/nat")
def my_records(session: DbSession, actor: CurrentActor) -> list[dict[str, Any]]:
    """A resident's own sampling records and results."""
    return progress.own_records(session=session, actor=actor)
