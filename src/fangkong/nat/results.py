"""Lab results (检 → 报): interpretation by the profile, idempotent recording with corrections,
and the file upload (CSV or .xlsx, all or nothing).

- The same result for a tube twice is one result (nothing changes, nothing is emitted).
- A different result for a tube already reported is a correction: a new version; the old one
  stays with `current = false`; a `nat.result_corrected` event follows.
- A positive (or a corrected) result emits `nat.result_reported` in the same transaction: the
  handlers in `fangkong.nat.flows` put pool members under measures, create retest tasks, and
  open a case for a positive single tube.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.db.base import utcnow
from fangkong.errors import ErrorDetail, Invalid, PolicyError
from fangkong.events import service as events
from fangkong.nat.models import Lab, Tube, TubeResult
from fangkong.nat.tubes import check_lab_member, lab_by_code
from fangkong.policy.schema import Interpretation

LAB_WORDS = {
    "阴性": "negative",
    "阳性": "positive",
    "无效": "invalid",
    "可疑": "invalid",
    "negative": "negative",
    "positive": "positive",
    "invalid": "invalid",
    "neg": "negative",
    "pos": "positive",
    "-": "negative",
    "+": "positive",
}
CHUNK = 2_000


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    barcode: str = Field(min_length=1, max_length=40)
    result: str | None = Field(
        default=None, max_length=16, description="negative | positive | invalid (or 阴性/阳性/无效)"
    )
    ct_n: float | None = Field(default=None, description="Ct of the N gene, 0–45; empty when not detected")
    ct_orf: float | None = Field(default=None, description="Ct of ORF1ab, 0–45; empty when not detected")
    tested_at: dt.datetime


@dataclass
class ResultReport:
    rows: int = 0
    recorded: int = 0
    unchanged: int = 0
    corrected: int = 0
    positive: int = 0
    auto_received: int = 0
    warnings: list[ErrorDetail] = field(default_factory=list)
    positive_tubes: list[str] = field(default_factory=list)  # barcodes, in sheet order

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "recorded": self.recorded,
            "unchanged": self.unchanged,
            "corrected": self.corrected,
            "positive": self.positive,
            "auto_received": self.auto_received,
            "positive_tubes": self.positive_tubes[:200],
            "warnings": [w.as_dict() for w in self.warnings[:200]],
        }


def interpretation(session: Session, now: dt.datetime) -> Interpretation:
    from fangkong.measure.service import local_day
    from fangkong.policy_profile import service as profiles

    loaded = profiles.active(session, local_day(now))
    if loaded.profile.testing is None:
        raise PolicyError(f"profile {loaded.id} has no testing rules")
    return loaded.profile.testing.interpretation


def interpret(rule: Interpretation, ct: dict[str, float | None], lab: str | None) -> str:
    """positive when every gene of the rule has Ct below the cut-off; negative when none has;
    invalid (retest) when only some have. Without any Ct value the lab's word stands."""
    values = {"N": ct.get("N"), "ORF": ct.get("ORF")}
    if all(values[g] is None for g in rule.genes):
        if lab is None:
            return "invalid"
        return lab
    below = [
        g for g in rule.genes if values[g] is not None and float(values[g] or 0) < rule.positive_ct_below
    ]
    if len(below) == len(rule.genes):
        return "positive"
    if not below:
        return "negative"
    return "invalid"


@dataclass
class _TubeRow:
    id: int
    barcode: str
    capacity: int
    members: int
    status: str
    lab_id: int | None
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None


@dataclass
class _Current:
    id: int
    result: str
    ct_n: float | None
    ct_orf: float | None
    version: int


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC through Core


def _load(session: Session, barcodes: list[str]) -> tuple[dict[str, _TubeRow], dict[int, _Current]]:
    """The tubes named (Core rows, in chunks) and the current results of those reported."""
    tubes: dict[str, _TubeRow] = {}
    unique = list(dict.fromkeys(barcodes))
    for start in range(0, len(unique), CHUNK):
        for r in session.execute(
            select(
                Tube.id,
                Tube.barcode,
                Tube.capacity,
                Tube.members,
                Tube.status,
                Tube.lab_id,
                Tube.shipped_at,
                Tube.received_at,
            ).where(Tube.barcode.in_(unique[start : start + CHUNK]))
        ):
            tubes[r.barcode] = _TubeRow(*r[:6], _aware(r.shipped_at), _aware(r.received_at))
    current: dict[int, _Current] = {}
    reported = [t.id for t in tubes.values() if t.status == "reported"]
    for start in range(0, len(reported), CHUNK):
        for c in session.execute(
            select(
                TubeResult.id,
                TubeResult.tube_id,
                TubeResult.result,
                TubeResult.ct_n,
                TubeResult.ct_orf,
                TubeResult.version,
            ).where(TubeResult.tube_id.in_(reported[start : start + CHUNK]), TubeResult.current.is_(True))
        ):
            current[c.tube_id] = _Current(c.id, c.result, c.ct_n, c.ct_orf, c.version)
    return tubes, current


def record(
    *,
    session: Session,
    actor: Actor,
    lab_code: str,
    rows: list[ResultIn],
    source: str,
    now: dt.datetime | None = None,
    row_numbers: list[int] | None = None,
) -> ResultReport:
    """Record a lab's results, all or nothing: any bad row refuses the whole batch with every
    problem listed by row and field. Bulk statements throughout (a million results a minute)."""
    now = now or utcnow()
    lab = lab_by_code(session, lab_code)
    check_lab_member(session, actor, lab)
    rule = interpretation(session, now)
    report = ResultReport(rows=len(rows))
    problems: list[ErrorDetail] = []
    barcodes = [r.barcode.strip() for r in rows]
    tubes, current = _load(session, barcodes)
    local = _tz()
    seen: dict[str, tuple[str, float | None, float | None]] = {}
    planned: list[tuple[_TubeRow, ResultIn, str, str | None, dt.datetime]] = []
    numbers = row_numbers or list(range(1, len(rows) + 1))
    for n, row, barcode in zip(numbers, rows, barcodes, strict=True):
        lab_word = None
        if row.result is not None and row.result.strip():
            lab_word = LAB_WORDS.get(row.result.strip().lower())
            if lab_word is None:
                problems.append(
                    ErrorDetail("result", "negative, positive or invalid (阴性/阳性/无效)", row.result, n)
                )
                continue
        bad_ct = False
        for name, value in (("ct_n", row.ct_n), ("ct_orf", row.ct_orf)):
            if value is not None and (math.isnan(value) or not 0 < value <= 45):
                problems.append(ErrorDetail(name, "a Ct value is between 0 and 45", value, n))
                bad_ct = True
        if bad_ct:
            continue
        tested = row.tested_at if row.tested_at.tzinfo else row.tested_at.replace(tzinfo=local)
        if tested > now + dt.timedelta(minutes=10):
            problems.append(ErrorDetail("tested_at", "in the future", row.tested_at.isoformat(), n))
            continue
        t = tubes.get(barcode)
        if t is None:
            problems.append(ErrorDetail("barcode", "unknown tube barcode", barcode, n))
            continue
        if t.members == 0:
            problems.append(ErrorDetail("barcode", "tube never collected (no samples)", barcode, n))
            continue
        if t.lab_id is not None and t.lab_id != lab.id:
            problems.append(ErrorDetail("barcode", "tube of another lab", barcode, n))
            continue
        if t.shipped_at is None:
            problems.append(ErrorDetail("barcode", "result before the tube was shipped", barcode, n))
            continue
        if tested < t.shipped_at:
            when, shipped = tested.astimezone(local), t.shipped_at.astimezone(local)
            shown = f"{when:%Y-%m-%d %H:%M} < {shipped:%Y-%m-%d %H:%M}"
            problems.append(ErrorDetail("tested_at", "before the tube was shipped (local times)", shown, n))
            continue
        if row.ct_n is None and row.ct_orf is None and lab_word is None:
            problems.append(ErrorDetail("result", "neither a result nor Ct values", None, n))
            continue
        result = interpret(rule, {"N": row.ct_n, "ORF": row.ct_orf}, lab_word)
        if lab_word is not None and result != lab_word and len(report.warnings) < 1000:
            report.warnings.append(
                ErrorDetail(
                    "result",
                    f"the lab says {lab_word}; the Ct values under the profile say {result}",
                    lab_word,
                    n,
                )
            )
        key = (result, row.ct_n, row.ct_orf)
        if barcode in seen:
            if seen[barcode] != key:
                problems.append(ErrorDetail("barcode", "listed twice with different results", barcode, n))
            continue
        seen[barcode] = key
        planned.append((t, row, result, lab_word, tested))
    if problems:
        raise Invalid(f"{len(problems)} problem(s) in the results; nothing was stored", problems)
    _write(session, actor, lab, planned, current, source, now, report)
    audit.record(
        session,
        actor,
        "nat.results",
        "nat_lab",
        lab.id,
        after={k: v for k, v in report.as_dict().items() if k != "warnings"} | {"source": source},
        area_code=lab.area_code,
    )
    return report


def _tz() -> dt.tzinfo:
    from fangkong.config import get_settings

    return get_settings().tz


def _write(
    session: Session,
    actor: Actor,
    lab: Lab,
    planned: list[tuple[_TubeRow, ResultIn, str, str | None, dt.datetime]],
    current: dict[int, _Current],
    source: str,
    now: dt.datetime,
    report: ResultReport,
) -> None:
    """Insert the new results, retire the ones they correct, update the tubes, and emit the
    events the flows need — all in bulk statements."""
    results_t = cast(Table, TubeResult.__table__)
    tubes_t = cast(Table, Tube.__table__)
    retire: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    tube_rows: list[dict[str, Any]] = []
    emit: list[tuple[_TubeRow, str, str | None]] = []
    single_negative: list[_TubeRow] = []
    for t, row, result, lab_word, tested in planned:
        old = current.get(t.id)
        if old is not None and (old.result, old.ct_n, old.ct_orf) == (result, row.ct_n, row.ct_orf):
            report.unchanged += 1
            continue
        received_at = t.received_at
        if received_at is None:  # the lab has it: a missed receipt scan
            received_at = min(tested, now)
            report.auto_received += 1
        version, previous = 1, None
        if old is not None:
            retire.append({"rid": old.id})
            version, previous = old.version + 1, old.result
            report.corrected += 1
        new.append(
            {
                "tube_id": t.id,
                "lab_id": lab.id,
                "result": result,
                "lab_result": lab_word,
                "ct_n": row.ct_n,
                "ct_orf": row.ct_orf,
                "tested_at": tested,
                "version": version,
                "current": True,
                "source": source[:200],
                "reported_by": actor.username,
                "created_at": now,
                "data": {},
            }
        )
        tube_rows.append(
            {
                "tid": t.id,
                "status": "reported",
                "result": result,
                "reported_at": now,
                "lab_id": lab.id,
                "received_at": received_at,
                "received_by": actor.username if t.received_at is None else None,
            }
        )
        report.recorded += 1
        if result == "positive":
            report.positive += 1
            report.positive_tubes.append(t.barcode)
        if result == "positive" or previous is not None:
            emit.append((t, result, previous))
        elif result == "negative" and t.capacity == 1:
            single_negative.append(t)
    if retire:
        session.execute(
            update(results_t).where(results_t.c.id == bindparam("rid")).values(current=False), retire
        )
    if new:
        session.execute(insert(results_t), new)
    if tube_rows:
        stmt = (
            update(tubes_t)
            .where(tubes_t.c.id == bindparam("tid"))
            .values(
                status=bindparam("status"),
                result=bindparam("result"),
                reported_at=bindparam("reported_at"),
                lab_id=bindparam("lab_id"),
                received_at=bindparam("received_at"),
                received_by=func.coalesce(bindparam("received_by"), tubes_t.c.received_by),
            )
        )
        session.execute(stmt, tube_rows)
    emit += [(t, "negative", None) for t in _pool_members_retested(session, single_negative)]
    for t, result, previous in emit:
        payload = {"result": result, "previous": previous, "capacity": t.capacity, "barcode": t.barcode}
        events.emit(session, "nat.result_reported", "nat_tube", t.id, payload, actor=actor)
    session.flush()


def _pool_members_retested(session: Session, tubes: list[_TubeRow]) -> list[_TubeRow]:
    """Single tubes whose person is a positive-pool member now: their negative releases them."""
    from fangkong.measure.models import PersonCategory
    from fangkong.nat.models import Sample

    if not tubes:
        return []
    members = set(
        session.scalars(
            select(PersonCategory.person_id).where(
                PersonCategory.category == "positive_pool_member", PersonCategory.status == "active"
            )
        )
    )
    if not members:
        return []
    by_id = {t.id: t for t in tubes}
    hit: list[_TubeRow] = []
    ids = list(by_id)
    for start in range(0, len(ids), CHUNK):
        for tube_id, person_id in session.execute(
            select(Sample.tube_id, Sample.person_id).where(Sample.tube_id.in_(ids[start : start + CHUNK]))
        ):
            if person_id in members:
                hit.append(by_id[tube_id])
    return hit


def import_file(
    *,
    session: Session,
    actor: Actor,
    lab_code: str,
    path: Path,
    filename: str | None = None,
    now: dt.datetime | None = None,
) -> ResultReport:
    """A lab's result sheet (CSV UTF-8/GB18030 or .xlsx; Chinese or English headers)."""
    from pydantic import ValidationError

    from fangkong.imports.reader import read_sheet
    from fangkong.nat import sheet as _sheet  # registers the result sheet's columns
    from fangkong.timeutil import parse_local
    from fangkong.validation import details_from

    sheet = read_sheet(path, _sheet.KIND, filename=filename)
    problems = list(sheet.errors)
    rows: list[ResultIn] = []
    numbers: list[int] = []
    times: dict[str, dt.datetime] = {}
    for n, values in sheet.rows:
        if n in sheet.unreadable:
            continue
        data: dict[str, Any] = {k: (v or None) for k, v in values.items()}
        try:
            if data.get("tested_at"):
                text = data["tested_at"]
                when = times.get(text)
                if when is None:  # lab sheets repeat the same times: parse each once
                    when = times[text] = parse_local(text)
                data["tested_at"] = when
            rows.append(ResultIn.model_validate(data))
            numbers.append(n)
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                problems += details_from(exc, row=n)
            else:
                problems.append(ErrorDetail("tested_at", str(exc), values.get("tested_at"), n))
    if problems:
        raise Invalid(f"{len(problems)} problem(s) in {filename or path.name}; nothing was stored", problems)
    if not rows:
        raise Invalid(
            "the file has no result rows", [ErrorDetail("file", "no data rows", filename or path.name)]
        )
    return record(
        session=session,
        actor=actor,
        lab_code=lab_code,
        rows=rows,
        source=filename or path.name,
        now=now,
        row_numbers=numbers,
    )
