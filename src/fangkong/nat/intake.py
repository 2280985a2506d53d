"""Swab registration in batches (group commit): the fast path of sampling.

`register_batch` checks and stores many swabs in one transaction with a handful of queries
(tokens, sites, tubes, persons, samples already in those tubes, round warnings), in the order
given, each swab seeing the ones before it. `tubes.register` is the one-swab case of it.

The server's writer that batches concurrent requests and commits is
`fangkong.api.intake.Intake`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.auth.models import AuthSession, User
from fangkong.db.base import utcnow
from fangkong.errors import Conflict, ErrorDetail, FangkongError, Invalid, NotFound, Unauthenticated, invalid
from fangkong.nat.models import RoundMember, Sample, SamplingSite, Tube
from fangkong.person import code as person_code
from fangkong.person.models import Person, PersonIdentifier

BARCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{5,39}$")
SCAN_KINDS = ("person_code", "resident_id", "passport", "person_id")


@dataclass
class Swab:
    """One registration: who scans (an actor, or a bearer token resolved in the batch), the
    tube's barcode, the person's scan, the site, when."""

    tube: str
    scan: str
    site_id: int
    at: dt.datetime
    actor: Actor | None = None
    token: str | None = None
    kind: str | None = None


@dataclass
class Registered:
    sample_id: int
    tube_barcode: str
    person_id: int
    members: int
    capacity: int
    closed: bool
    warnings: list[str] = field(default_factory=list)


Outcome = Registered | FangkongError


@dataclass(frozen=True)
class _Who:
    id: int
    status: str
    merged_into_id: int | None


def _scan_kind(value: str, kind: str | None) -> str:
    if kind is not None:
        if kind not in SCAN_KINDS:
            raise invalid("kind", f"one of {', '.join(SCAN_KINDS)}", kind)
        return kind
    if person_code.looks_like(value):
        return "person_code"
    if re.fullmatch(r"\d{17}[\dXx]|\d{15}", value):
        return "resident_id"
    return "passport"


def _lookup_key(scan: str, kind: str, today: dt.date) -> tuple[str, str | int]:
    """(kind, value) to look up: person ids for codes and ids; normalised documents."""
    value = scan.strip()
    if not value or len(value) > 64:
        raise invalid("scan", "empty or too long", scan[:64])
    if kind == "person_code":
        pid = person_code.read(value)
        if pid is None:
            raise invalid("scan", "not a valid person code (damaged or forged)", value[:20])
        return "id", pid
    if kind == "person_id":
        if not value.isdigit() or len(value) > 10:
            raise invalid("scan", "a person id is a number", value)
        return "id", int(value)
    if kind == "resident_id":
        from fangkong.person.identity import parse_resident_id

        try:
            return "resident_id", parse_resident_id(value, today=today).number
        except Invalid as exc:
            reason = exc.details[0].reason if exc.details else exc.message
            raise invalid("scan", f"not a valid resident ID number: {reason}", value[:6] + "…") from None
    return "passport", value.upper()


def _actors(session: Session, swabs: list[Swab], now: dt.datetime) -> dict[str, Actor | FangkongError]:
    """Bearer tokens of the batch → actors (or why not), in one query."""
    from fangkong.auth import service as auth

    hashes = {hashlib.sha256(s.token.encode()).hexdigest(): s.token for s in swabs if s.token and not s.actor}
    out: dict[str, Actor | FangkongError] = {t: Unauthenticated("invalid token") for t in hashes.values()}
    if not hashes:
        return out
    rows = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash.in_(hashes))
    ).all()
    for row, user in rows:
        token = hashes[row.token_hash]
        if row.kind != "api":
            continue
        if row.revoked_at is not None:
            out[token] = Unauthenticated("this token was revoked (logged out); log in again")
        elif row.expires_at <= now:
            out[token] = Unauthenticated("this token has expired; log in again")
        elif user.disabled:
            out[token] = Unauthenticated("this account is disabled")
        else:
            out[token] = auth.actor_of(user)
    return out


def register_batch(session: Session, swabs: list[Swab], *, lock: bool = True) -> list[Outcome]:
    """Check and store the swabs in order; flushes, never commits. Each outcome is the
    registration or the error that refused that swab (nothing of it is stored)."""
    if not swabs:
        return []
    now = utcnow()
    outcomes: list[Outcome | None] = [None] * len(swabs)
    actors = _actors(session, swabs, now)
    keys: list[tuple[str, str | int] | None] = [None] * len(swabs)
    for i, s in enumerate(swabs):
        try:
            actor = s.actor or actors.get(s.token or "", Unauthenticated("log in first"))
            if isinstance(actor, FangkongError):
                raise actor
            authorize(actor, "nat.sample")
            if not BARCODE.match(s.tube.strip()):
                raise invalid(
                    "tube", "6–40 letters, digits or '-', starting with a letter or digit", s.tube[:40]
                )
            keys[i] = _lookup_key(s.scan, _scan_kind(s.scan.strip(), s.kind), now.date())
        except FangkongError as exc:
            outcomes[i] = exc
    live = [i for i in range(len(swabs)) if outcomes[i] is None]
    sites = {
        site.id: site
        for site in session.scalars(
            select(SamplingSite).where(SamplingSite.id.in_({swabs[i].site_id for i in live}))
        )
    }
    tube_stmt = select(Tube).where(Tube.barcode.in_({swabs[i].tube.strip() for i in live}))
    if lock and session.get_bind().dialect.name == "postgresql":
        tube_stmt = tube_stmt.with_for_update()
    tubes = {t.barcode: t for t in session.scalars(tube_stmt)}
    persons = _persons(session, [k for i, k in enumerate(keys) if k is not None and outcomes[i] is None])
    tube_ids = [t.id for t in tubes.values()]
    in_tube: set[tuple[int, int]] = {
        (tid, pid)
        for tid, pid in session.execute(
            select(Sample.tube_id, Sample.person_id).where(Sample.tube_id.in_(tube_ids))
        )
    }
    round_ids = {t.round_id for t in tubes.values() if t.round_id is not None}
    pids = {p.id for p in persons.values() if isinstance(p, _Who)}
    earlier: dict[tuple[int, int], str] = {}
    single: dict[tuple[int, int], bool] = {}
    if round_ids and pids:
        for rid, pid, barcode in session.execute(
            select(Sample.round_id, Sample.person_id, Tube.barcode)
            .join(Tube, Tube.id == Sample.tube_id)
            .where(Sample.round_id.in_(round_ids), Sample.person_id.in_(pids))
        ):
            earlier.setdefault((int(rid or 0), pid), barcode)
        for rid, pid, flag in session.execute(
            select(RoundMember.round_id, RoundMember.person_id, RoundMember.single_tube).where(
                RoundMember.round_id.in_(round_ids), RoundMember.person_id.in_(pids)
            )
        ):
            single[(rid, pid)] = bool(flag)
    new_rows: list[dict[str, object]] = []
    placed: list[tuple[int, Tube, int, list[str]]] = []
    for i in live:
        s = swabs[i]
        actor = s.actor or actors[s.token or ""]
        assert isinstance(actor, Actor)
        try:
            site = sites.get(s.site_id)
            if site is None:
                raise NotFound(
                    f"sampling site {s.site_id} not found",
                    [ErrorDetail("site_id", "unknown site", s.site_id)],
                )
            authorize(actor, "nat.sample", site)
            if site.status != "open":
                raise Conflict(
                    f"sampling site {site.code} is closed", [ErrorDetail("site_id", "site closed", s.site_id)]
                )
            t = tubes.get(s.tube.strip())
            if t is None:
                raise NotFound(
                    f"unknown tube {s.tube}", [ErrorDetail("tube", "unknown tube barcode", s.tube)]
                )
            if t.site_id != site.id:
                raise Conflict(
                    f"tube {t.barcode} belongs to another sampling site",
                    [ErrorDetail("tube", "tube opened at another site", t.barcode)],
                )
            if t.status != "open":
                raise Conflict(
                    f"tube {t.barcode} is {t.status}", [ErrorDetail("tube", f"tube {t.status}", t.barcode)]
                )
            if t.members >= t.capacity:
                raise Conflict(
                    f"tube {t.barcode} is full ({t.members}/{t.capacity})",
                    [ErrorDetail("tube", "tube full", t.barcode)],
                )
            key = keys[i]
            assert key is not None
            person = persons.get(key)
            if person is None:
                raise NotFound(
                    "no registered person for this scan", [ErrorDetail("scan", "unknown person", None)]
                )
            if isinstance(person, FangkongError):
                raise person
            if (t.id, person.id) in in_tube:
                raise Conflict(
                    f"person already in tube {t.barcode}",
                    [ErrorDetail("scan", "already in this tube", t.barcode)],
                )
            warnings: list[str] = []
            if t.round_id is not None:
                before = earlier.get((t.round_id, person.id))
                if before is not None:
                    warnings.append(f"already sampled in this round (tube {before})")
                expected = single.get((t.round_id, person.id))
                if expected and t.capacity > 1:
                    warnings.append("the profile wants this person in a single tube")
                if expected is None:
                    warnings.append("not expected in this round (lives elsewhere or not in its target group)")
                earlier.setdefault((t.round_id, person.id), t.barcode)
        except FangkongError as exc:
            outcomes[i] = exc
            continue
        in_tube.add((t.id, person.id))
        t.members += 1
        if t.members >= t.capacity:
            t.status, t.closed_at, t.closed_by = "closed", s.at, actor.username
        new_rows.append(
            {
                "tube_id": t.id,
                "person_id": person.id,
                "round_id": t.round_id,
                "site_id": site.id,
                "scanned": key[0]
                if key[0] != "id"
                else ("person_code" if s.kind != "person_id" else "person_id"),
                "collected_at": s.at,
                "collected_by": actor.username,
            }
        )
        placed.append((i, t, person.id, warnings))
    if new_rows:
        table = cast(Table, Sample.__table__)  # Core insert: no ORM bulk machinery on the hot path
        ids = list(
            session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), new_rows)
        )
        for (i, t, pid, warnings), sample_id in zip(placed, ids, strict=True):
            outcomes[i] = Registered(
                sample_id, t.barcode, pid, t.members, t.capacity, t.status == "closed", warnings
            )
    session.flush()
    return [o if o is not None else FangkongError("not processed") for o in outcomes]


def _persons(
    session: Session, keys: list[tuple[str, str | int]]
) -> dict[tuple[str, str | int], _Who | FangkongError]:
    ids = {int(v) for k, v in keys if k == "id"}
    docs: dict[str, set[str]] = {}
    for k, v in keys:
        if k != "id":
            docs.setdefault(k, set()).add(str(v))
    out: dict[tuple[str, str | int], _Who | FangkongError] = {}
    by_doc: dict[tuple[str, str], int] = {}
    for doc_kind, values in docs.items():
        for doc_pid, doc_value in session.execute(
            select(PersonIdentifier.person_id, PersonIdentifier.value).where(
                PersonIdentifier.kind == doc_kind, PersonIdentifier.value.in_(values)
            )
        ):
            by_doc[(doc_kind, doc_value)] = doc_pid
    wanted = ids | set(by_doc.values())
    cols = select(Person.id, Person.status, Person.merged_into_id)  # no ORM objects: the hot path
    people = {p.id: _Who(*p) for p in session.execute(cols.where(Person.id.in_(wanted)))} if wanted else {}
    merged_ids = {p.merged_into_id for p in people.values() if p.status != "active" and p.merged_into_id}
    if merged_ids - set(people):
        people.update(
            {p.id: _Who(*p) for p in session.execute(cols.where(Person.id.in_(merged_ids - set(people))))}
        )
    for key in keys:
        pid = int(key[1]) if key[0] == "id" else by_doc.get((key[0], str(key[1])))
        person = people.get(pid) if pid is not None else None
        if person is None:
            continue
        if person.status != "active":
            target = people.get(person.merged_into_id or -1)
            if target is None or target.status != "active":
                out[key] = Conflict(
                    f"person {person.id} is not active", [ErrorDetail("scan", "inactive person", None)]
                )
                continue
            person = target
        out[key] = person
    return out
