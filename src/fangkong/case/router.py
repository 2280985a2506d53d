"""/api/v1/cases (and their investigation, contacts, report), /api/v1/chains, /api/v1/tasks,
/api/v1/assistance."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fangkong.api.deps import CurrentActor, DbSession
from fangkong.case import service as cases
from fangkong.case.schemas import CaseChangeOut, CaseCreate, CaseOut, CasePage, CaseUpdate, Reclassify
from fangkong.chain import service as chains
from fangkong.contact import letters
from fangkong.contact import service as contacts
from fangkong.contact.movement import default as default_movement
from fangkong.contact.trajectory import trajectory
from fangkong.investigation import report
from fangkong.investigation import service as investigations
from fangkong.investigation.schemas import EntryIn, EntryOut, InvestigationOut, StepIn
from fangkong.task import service as tasks
from fangkong.types import MAX_ID, DayParam

router = APIRouter(tags=["cases"])
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@router.get("/cases", response_model=CasePage)
def search_cases(
    session: DbSession,
    actor: CurrentActor,
    classification: Annotated[Literal["suspected", "asymptomatic", "confirmed"] | None, Query()] = None,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
    open_only: bool = False,
    since: DayParam | None = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CasePage:
    rows, nxt = cases.search(
        session=session,
        actor=actor,
        classification=classification,
        area_code=area_code,
        open_only=open_only,
        since=since,
        after=after,
        limit=limit,
    )
    return CasePage(items=[CaseOut.model_validate(c) for c in rows], next_after=nxt)


@router.post("/cases", response_model=CaseOut, status_code=201)
def create_case(body: CaseCreate, session: DbSession, actor: CurrentActor) -> CaseOut:
    """Open a case: its investigation opens with the 2+4+24 clock, and the person's measures
    follow from the profile in force (within a minute, by the event handlers)."""
    return CaseOut.model_validate(cases.create(session=session, actor=actor, data=body))


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(case_id: CaseId, session: DbSession, actor: CurrentActor) -> CaseOut:
    return CaseOut.model_validate(cases.get(session=session, actor=actor, case_id=case_id))


@router.patch("/cases/{case_id}", response_model=CaseOut)
def update_case(case_id: CaseId, body: CaseUpdate, session: DbSession, actor: CurrentActor) -> CaseOut:
    return CaseOut.model_validate(cases.update(session=session, actor=actor, case_id=case_id, data=body))


@router.post("/cases/{case_id}/reclassify", response_model=CaseOut)
def reclassify(case_id: CaseId, body: Reclassify, session: DbSession, actor: CurrentActor) -> CaseOut:
    """Asymptomatic → confirmed (or from suspected); the history is kept."""
    return CaseOut.model_validate(cases.reclassify(session=session, actor=actor, case_id=case_id, data=body))


@router.get("/cases/{case_id}/history", response_model=list[CaseChangeOut])
def case_history(case_id: CaseId, session: DbSession, actor: CurrentActor) -> list[CaseChangeOut]:
    return [
        CaseChangeOut.model_validate(c) for c in cases.history(session=session, actor=actor, case_id=case_id)
    ]


# ---------------------------------------------------------------- investigation


@router.get("/cases/{case_id}/investigation", response_model=InvestigationOut, tags=["investigations"])
def get_investigation(case_id: CaseId, session: DbSession, actor: CurrentActor) -> InvestigationOut:
    _case, inv = investigations.get(session=session, actor=actor, case_id=case_id)
    return InvestigationOut.model_validate(inv)


@router.post("/cases/{case_id}/investigation/steps", response_model=InvestigationOut, tags=["investigations"])
def record_step(case_id: CaseId, body: StepIn, session: DbSession, actor: CurrentActor) -> InvestigationOut:
    """Record arrival on site, core facts complete, or the report done."""
    return InvestigationOut.model_validate(
        investigations.record_step(session=session, actor=actor, case_id=case_id, data=body)
    )


@router.get("/cases/{case_id}/investigation/entries", response_model=list[EntryOut], tags=["investigations"])
def list_entries(case_id: CaseId, session: DbSession, actor: CurrentActor) -> list[EntryOut]:
    return [
        EntryOut.model_validate(e)
        for e in investigations.entries(session=session, actor=actor, case_id=case_id)
    ]


@router.post(
    "/cases/{case_id}/investigation/entries",
    response_model=EntryOut,
    status_code=201,
    tags=["investigations"],
)
def add_entry(case_id: CaseId, body: EntryIn, session: DbSession, actor: CurrentActor) -> EntryOut:
    return EntryOut.model_validate(
        investigations.add_entry(session=session, actor=actor, case_id=case_id, data=body)
    )


@router.get(
    "/cases/{case_id}/report.docx",
    tags=["investigations"],
    responses={200: {"content": {DOCX: {}}, "description": "the report"}},
)
def report_docx(
    case_id: CaseId,
    session: DbSession,
    actor: CurrentActor,
    lang: Literal["zh-CN", "en"] = "zh-CN",
    unmask_reason: Annotated[str | None, Query(min_length=4, max_length=500)] = None,
) -> Response:
    """The investigation report (.docx); personal data masked unless `unmask_reason`."""
    data = report.build(session=session, actor=actor, case_id=case_id, lang=lang, unmask_reason=unmask_reason)
    case = cases.get(session=session, actor=actor, case_id=case_id)
    return Response(
        data,
        media_type=DOCX,
        headers={"Content-Disposition": f'attachment; filename="report-{case.case_no}.docx"'},
    )


# ---------------------------------------------------------------- contacts


class ListingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    person_id: int
    list: str
    setting: str
    place: str | None
    via_person_id: int | None
    exposure_start: dt.datetime | None
    exposure_end: dt.datetime | None
    minutes: float | None
    reason_zh: str
    reason_en: str
    status: str


class ListingPage(BaseModel):
    items: list[ListingOut]
    next_after: int | None
    counts: dict[str, dict[str, int]] = Field(
        description="{list: {status: n}} over all of the case's listings"
    )


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listing_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=100_000, description="default: every proposed listing of the case"
    )
    accept: bool = True
    list_name: Literal["close_contact", "secondary_contact", "companion"] | None = Field(
        default=None, description="only listings of this list"
    )


@router.post("/cases/{case_id}/contacts/find", tags=["contacts"])
def find_contacts(case_id: CaseId, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """Run contact finding (household, workplace, named, venues, vehicles, companions, secondary)."""
    return contacts.run(session=session, actor=actor, case_id=case_id, movement=default_movement()).as_dict()


@router.get("/cases/{case_id}/contacts", response_model=ListingPage, tags=["contacts"])
def list_contacts(
    case_id: CaseId,
    session: DbSession,
    actor: CurrentActor,
    status: Literal["proposed", "confirmed", "rejected"] | None = None,
    list_name: Annotated[
        Literal["close_contact", "secondary_contact", "companion"] | None, Query(alias="list")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="`next_after` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> ListingPage:
    """A page of the case's listings (ordered by id) with the counts per list and status."""
    rows = contacts.listings(
        session=session,
        actor=actor,
        case_id=case_id,
        status=status,
        list_name=list_name,
        after=after,
        limit=limit,
    )
    return ListingPage(
        items=[ListingOut.model_validate(r) for r in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
        counts=contacts.counts(session=session, actor=actor, case_id=case_id),
    )


class StayOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    lon: float | None = None
    lat: float | None = None
    cell_id: str | None = None
    minutes: float


class CheckinOut(BaseModel):
    time: dt.datetime
    leave_time: dt.datetime | None = None
    place_id: str
    place: str | None = None


class TravelOut(BaseModel):
    mode: str | None = None
    number: str | None = None
    date: dt.date | None = None
    carriage: str | None = None
    seat: str | None = None


class TrajectoryOut(BaseModel):
    start: dt.datetime | None = Field(description="window start: lookback before the anchor")
    end: dt.datetime | None = Field(description="window end: when the case was controlled, or now")
    stays: list[StayOut]
    checkins: list[CheckinOut]
    travel: list[TravelOut]
    notes: list[str]


@router.get("/cases/{case_id}/trajectory", response_model=TrajectoryOut, tags=["contacts"])
def case_trajectory(case_id: CaseId, session: DbSession, actor: CurrentActor) -> TrajectoryOut:
    """The case person's stays, venue check-ins and travel in the lookback window (at most 500
    of each), from the movement store. Reading it is audited."""
    found = trajectory(session=session, actor=actor, case_id=case_id, movement=default_movement())
    data = found.as_dict()
    for row in data["checkins"]:
        row["place_id"] = str(row["place_id"])
    for row in data["stays"]:
        if row.get("cell_id") is not None:
            row["cell_id"] = str(row["cell_id"])
    for row in data["travel"]:
        for key in ("number", "carriage", "seat"):
            if row.get(key) is not None:
                row[key] = str(row[key])
    return TrajectoryOut.model_validate(data)


@router.post("/cases/{case_id}/contacts/decide", tags=["contacts"])
def decide(case_id: CaseId, body: Decision, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """Confirm (measures, tasks, assistance requests follow) or reject proposed listings."""
    return contacts.decide(
        session=session,
        actor=actor,
        case_id=case_id,
        listing_ids=body.listing_ids,
        accept=body.accept,
        list_name=body.list_name,
    ).as_dict()


# ---------------------------------------------------------------- chains


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    infector_case_id: int = Field(ge=1, le=MAX_ID)
    setting: Literal["household", "venue", "vehicle", "workplace", "other"] | None = None
    evidence: str | None = Field(default=None, max_length=2000)
    confidence: Literal["confirmed", "probable", "possible"] = "probable"


@router.post("/cases/{case_id}/infector", status_code=201, tags=["chains"])
def link_infector(case_id: CaseId, body: LinkIn, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    row = chains.link(
        session=session,
        actor=actor,
        infector_id=body.infector_case_id,
        infectee_id=case_id,
        setting=body.setting,
        evidence=body.evidence,
        confidence=body.confidence,
    )
    return {"infector_case_id": row.infector_case_id, "infectee_case_id": row.infectee_case_id}


@router.get("/chains", tags=["chains"])
def chain_graph(
    session: DbSession,
    actor: CurrentActor,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
    format: Literal["json", "graphml"] = "json",
) -> Response:
    """Cases with generations and clusters, and the infector → infectee links."""
    g = chains.graph(session=session, actor=actor, area_code=area_code)
    if format == "graphml":
        return Response(chains.graphml(g), media_type="application/graphml+xml")
    import json

    return Response(json.dumps(g.as_dict(), ensure_ascii=False), media_type="application/json")


# ---------------------------------------------------------------- tasks and assistance


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    area_code: str
    role: str | None
    person_id: int | None
    case_id: int | None
    priority: str
    due_at: dt.datetime
    status: str
    result: str | None
    created_at: dt.datetime
    done_at: dt.datetime | None
    done_by: str | None


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_after: int | None


class TaskDone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: str | None = Field(default=None, max_length=2000)


@router.get("/tasks", response_model=TaskPage, tags=["tasks"])
def list_tasks(
    session: DbSession,
    actor: CurrentActor,
    status: Literal["open", "done", "cancelled"] | None = "open",
    kind: Annotated[str | None, Query(max_length=24)] = None,
    area_code: Annotated[str | None, Query(max_length=15, pattern=r"^\d+$")] = None,
    overdue: bool = False,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TaskPage:
    rows, nxt = tasks.search(
        session,
        actor,
        status=status,
        kind=kind,
        area_code=area_code,
        overdue_at=dt.datetime.now(dt.UTC) if overdue else None,
        after=after,
        limit=limit,
    )
    return TaskPage(items=[TaskOut.model_validate(t) for t in rows], next_after=nxt)


@router.post("/tasks/{task_id}/done", response_model=TaskOut, tags=["tasks"])
def task_done(
    task_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: TaskDone, session: DbSession, actor: CurrentActor
) -> TaskOut:
    return TaskOut.model_validate(tasks.complete(session, actor, task_id, body.result))


class AssistanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    person_id: int
    destination_code: str
    list: str
    reason_zh: str
    status: str
    exported_at: dt.datetime | None


@router.get("/assistance", response_model=list[AssistanceOut], tags=["contacts"])
def list_assistance(
    session: DbSession,
    actor: CurrentActor,
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Literal["draft", "sent", "answered"] | None = "draft",
) -> list[AssistanceOut]:
    return [
        AssistanceOut.model_validate(r)
        for r in contacts.assistance(session=session, actor=actor, case_id=case_id, status=status)
    ]


@router.get(
    "/assistance/letters.zip",
    tags=["contacts"],
    responses={200: {"content": {"application/zip": {}}, "description": "one .docx per city"}},
)
def assistance_letters(
    session: DbSession,
    actor: CurrentActor,
    reason: Annotated[str, Query(min_length=4, max_length=500)],
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """协查函: one letter per destination city for the draft requests (marks them sent)."""
    data, _n = letters.export(session=session, actor=actor, reason=reason, case_id=case_id)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="assistance-letters.zip"'},
    )
