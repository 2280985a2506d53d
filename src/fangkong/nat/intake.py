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
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.auth.models import AuthSession, User, UserRole
from fangkong.db.base import utcnow
from fangkong.db.pipeline import fetch_all
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


def register_batch(session: Session, swabs: list[Swab], *, lock: bool = True) -> list[Outcome]:
    """Check and store the swabs in order; flushes, never commits. Each outcome is the
    registration or the error that refused that swab (nothing of it is stored)."""
    if not swabs:
        return []
    now = utcnow()
    outcomes: list[Outcome | None] = [None] * len(swabs)
    refused: list[FangkongError | None] = [None] * len(swabs)  # bad input, told after auth
    keys: list[tuple[str, str | int] | None] = [None] * len(swabs)
    for i, s in enumerate(swabs):
        try:
            if not BARCODE.match(s.tube.strip()):
                raise invalid(
                    "tube", "6–40 letters, digits or '-', starting with a letter or digit", s.tube[:40]
                )
            keys[i] = _lookup_key(s.scan, _scan_kind(s.scan.strip(), s.kind), now.date())
        except FangkongError as exc:
            refused[i] = exc
    found = _look_up(session, swabs, [k for k in keys if k is not None], lock=lock, now=now)
    actors = found.actors
    for i, s in enumerate(swabs):
        try:
            actor = s.actor or actors.get(s.token or "", Unauthenticated("log in first"))
            if isinstance(actor, FangkongError):
                raise actor
            authorize(actor, "nat.sample")
            if (bad := refused[i]) is not None:
                raise bad
        except FangkongError as exc:
            outcomes[i] = exc
    live = [i for i in range(len(swabs)) if outcomes[i] is None]
    sites, tubes, persons = found.sites, found.tubes, found.persons
    in_tube, earlier, single = found.in_tube, found.earlier, found.single
    new_rows: list[dict[str, object]] = []
    placed: list[tuple[int, _TubeRow, int, int, list[str]]] = []  # the tube as this swab left it
    touched: dict[int, _TubeRow] = {}
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
        touched[t.id] = t
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
        placed.append((i, t, person.id, t.members, warnings))
    if new_rows:
        ids = _store(session, list(touched.values()), new_rows)
        for (i, t, pid, members, warnings), sample_id in zip(placed, ids, strict=True):
            outcomes[i] = Registered(
                sample_id, t.barcode, pid, members, t.capacity, members >= t.capacity, warnings
            )
    session.flush()
    return [o if o is not None else FangkongError("not processed") for o in outcomes]


_TUBE_COLUMNS = (Tube.id, Tube.barcode, Tube.site_id, Tube.round_id, Tube.capacity, Tube.members, Tube.status)


@dataclass
class _TubeRow:
    """The columns of a tube that registration reads and changes (no ORM object: hot path)."""

    id: int
    barcode: str
    site_id: int
    round_id: int | None
    capacity: int
    members: int
    status: str
    closed_at: dt.datetime | None = None
    closed_by: str | None = None


def _in(session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN values`. On PostgreSQL `= ANY(array)`: one statement text whatever the
    number of values, so the server and the driver keep it prepared."""
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=ARRAY(column.type))
        return cast(ColumnElement[bool], column == any_(array))
    return cast(ColumnElement[bool], column.in_(values))


def _store(session: Session, filled: list[_TubeRow], rows: list[dict[str, Any]]) -> list[int]:
    """Write the tubes' new counts (and closing) and insert the swabs; their ids in order.
    Tubes this session holds as objects are refreshed from the database afterwards."""
    if session.get_bind().dialect.name == "postgresql":
        ids = _store_pg(session, filled, rows)
    else:
        tubes = cast(Table, Tube.__table__)
        session.execute(
            update(tubes)
            .where(tubes.c.id == bindparam("b_id"))
            .values(
                members=bindparam("b_members"),
                status=bindparam("b_status"),
                closed_at=bindparam("b_closed_at"),
                closed_by=bindparam("b_closed_by"),
            ),
            [
                {
                    "b_id": t.id,
                    "b_members": t.members,
                    "b_status": t.status,
                    "b_closed_at": t.closed_at,
                    "b_closed_by": t.closed_by,
                }
                for t in filled
            ],
        )
        samples = cast(Table, Sample.__table__)  # Core insert: no ORM bulk machinery on the hot path
        ids = list(
            session.scalars(insert(samples).returning(samples.c.id, sort_by_parameter_order=True), rows)
        )
    for t in filled:
        held = session.identity_map.get(session.identity_key(Tube, t.id))
        if held is not None:
            session.expire(held, ["members", "status", "closed_at", "closed_by"])
    return ids


# PostgreSQL: both writes as single statements over arrays (one text whatever the batch size,
# so it stays prepared), sent together in one round trip.
_PG_UPDATE_TUBES = """UPDATE nat_tube AS t
SET members = v.members, status = v.status, closed_at = v.closed_at, closed_by = v.closed_by
FROM unnest(%(id)s::integer[], %(members)s::integer[], %(status)s::varchar[],
            %(closed_at)s::timestamptz[], %(closed_by)s::varchar[])
     AS v(id, members, status, closed_at, closed_by)
WHERE t.id = v.id
RETURNING t.id"""
_PG_INSERT_SAMPLES = """INSERT INTO nat_sample
    (tube_id, person_id, round_id, site_id, scanned, collected_at, collected_by)
SELECT * FROM unnest(%(tube_id)s::integer[], %(person_id)s::integer[], %(round_id)s::integer[],
                     %(site_id)s::integer[], %(scanned)s::varchar[], %(collected_at)s::timestamptz[],
                     %(collected_by)s::varchar[])
RETURNING id, tube_id, person_id"""
_SAMPLE_COLUMNS = ("tube_id", "person_id", "round_id", "site_id", "scanned", "collected_at", "collected_by")


def _store_pg(session: Session, filled: list[_TubeRow], rows: list[dict[str, Any]]) -> list[int]:
    for value in [t.closed_at for t in filled] + [r["collected_at"] for r in rows]:
        if value is not None and value.tzinfo is None:  # as UTCDateTime refuses them
            raise ValueError("naive datetime given to a UTCDateTime column")
    tube_params: dict[str, Any] = {
        "id": [t.id for t in filled],
        "members": [t.members for t in filled],
        "status": [t.status for t in filled],
        "closed_at": [t.closed_at for t in filled],
        "closed_by": [t.closed_by for t in filled],
    }
    sample_params = {c: [r[c] for r in rows] for c in _SAMPLE_COLUMNS}
    _updated, inserted = fetch_all(
        session, [(_PG_UPDATE_TUBES, tube_params), (_PG_INSERT_SAMPLES, sample_params)]
    )
    by_key = {(tube_id, person_id): sid for sid, tube_id, person_id in inserted}
    return [by_key[(r["tube_id"], r["person_id"])] for r in rows]  # (tube, person) is unique


@dataclass(frozen=True)
class _SiteRow:
    """What registration needs of a sampling site (`authorize` reads its area_code)."""

    __tablename__ = "nat_site"
    id: int
    code: str
    area_code: str
    status: str


@dataclass
class _Found:
    actors: dict[str, Actor | FangkongError]
    sites: dict[int, _SiteRow]
    tubes: dict[str, _TubeRow]
    persons: dict[tuple[str, str | int], _Who | FangkongError]
    in_tube: set[tuple[int, int]]  # (tube id, person id) already sampled
    earlier: dict[tuple[int, int], str]  # (round id, person id) → barcode of an earlier swab
    single: dict[tuple[int, int], bool]  # (round id, person id) → expected in a single tube


def _look_up(
    session: Session,
    swabs: list[Swab],
    keys: list[tuple[str, str | int]],
    *,
    lock: bool,
    now: dt.datetime,
) -> _Found:
    """Everything the batch's checks read — tokens, sites, tubes (locked), persons, their
    samples in these tubes and rounds, their round membership — in one round trip."""
    hashes = {hashlib.sha256(s.token.encode()).hexdigest(): s.token for s in swabs if s.token and not s.actor}
    barcodes = sorted({s.tube.strip() for s in swabs})
    ids = sorted({int(v) for k, v in keys if k == "id"})
    docs: dict[str, set[str]] = {}
    for k, v in keys:
        if k != "id":
            docs.setdefault(k, set()).add(str(v))

    def by_doc() -> Any:
        return or_(
            *(
                and_(PersonIdentifier.kind == kind, _in(session, PersonIdentifier.value, sorted(values)))
                for kind, values in docs.items()
            )
        )

    postgres = session.get_bind().dialect.name == "postgresql"
    doc_stmt = select(PersonIdentifier.kind, PersonIdentifier.value, PersonIdentifier.person_id).where(
        by_doc() if docs else false()
    )
    doc_rows: list[tuple[Any, ...]] = []
    if docs and not postgres:  # in process, a query costs no round trip: documents → ids first
        (doc_rows,) = fetch_all(session, [doc_stmt])
        ids = sorted(set(ids) | {int(r[2]) for r in doc_rows})

    def batch_persons(column: Any) -> Any:
        if not docs or not postgres:
            return _in(session, column, ids)
        scanned = select(func.unnest(bindparam(None, ids, type_=ARRAY(Integer))))
        via_docs = select(PersonIdentifier.person_id).where(by_doc())
        return _any_of(session, column, union_all(scanned, via_docs))

    tube_stmt = select(*_TUBE_COLUMNS).where(_in(session, Tube.barcode, barcodes))
    if lock and session.get_bind().dialect.name == "postgresql":
        # locked in id order: concurrent batches filling the same tubes wait, never deadlock
        tube_stmt = tube_stmt.order_by(Tube.id).with_for_update()
    batch_tubes = select(Tube.id).where(_in(session, Tube.barcode, barcodes))
    batch_rounds = select(Tube.round_id).where(
        _in(session, Tube.barcode, barcodes), Tube.round_id.is_not(None)
    )
    statements = [
        select(
            AuthSession.token_hash,
            AuthSession.kind,
            AuthSession.revoked_at,
            AuthSession.expires_at,
            User.id,
            User.username,
            User.area_code,
            User.person_id,
            User.language,
            User.disabled,
        )
        .join(User, User.id == AuthSession.user_id)
        .where(_in(session, AuthSession.token_hash, list(hashes))),
        select(UserRole.user_id, UserRole.role)
        .join(AuthSession, AuthSession.user_id == UserRole.user_id)
        .where(_in(session, AuthSession.token_hash, list(hashes))),
        select(SamplingSite.id, SamplingSite.code, SamplingSite.area_code, SamplingSite.status).where(
            _in(session, SamplingSite.id, sorted({s.site_id for s in swabs}))
        ),
        tube_stmt,
        doc_stmt,
        select(Person.id, Person.status, Person.merged_into_id).where(batch_persons(Person.id)),
    ]
    statements += _sample_statements(session, batch_persons, batch_tubes, batch_rounds)
    rows = fetch_all(session, statements)
    sess_rows, role_rows, site_rows, tube_rows, doc_rows, person_rows = rows[:6]
    in_tubes, in_rounds, member_rows = rows[6:]
    people = {int(r[0]): _Who(int(r[0]), r[1], r[2]) for r in person_rows}
    merged = {p.merged_into_id for p in people.values() if p.status != "active" and p.merged_into_id}
    if missing := merged - set(people):  # rare: scans of merged-away records
        targets = sorted(missing)

        def target_persons(column: Any) -> Any:
            return _in(session, column, targets)

        more, more_in_tubes, more_in_rounds, more_members = fetch_all(
            session,
            [
                select(Person.id, Person.status, Person.merged_into_id).where(target_persons(Person.id)),
                *_sample_statements(session, target_persons, batch_tubes, batch_rounds),
            ],
        )
        people.update({int(r[0]): _Who(int(r[0]), r[1], r[2]) for r in more})
        in_tubes += more_in_tubes
        in_rounds += more_in_rounds
        member_rows += more_members
    by_doc_pid = {(kind, value): pid for kind, value, pid in doc_rows}
    persons: dict[tuple[str, str | int], _Who | FangkongError] = {}
    for key in keys:
        pid = int(key[1]) if key[0] == "id" else by_doc_pid.get((key[0], str(key[1])))
        person = people.get(pid) if pid is not None else None
        if person is None:
            continue
        if person.status != "active":
            target = people.get(person.merged_into_id or -1)
            if target is None or target.status != "active":
                persons[key] = Conflict(
                    f"person {person.id} is not active", [ErrorDetail("scan", "inactive person", None)]
                )
                continue
            person = target
        persons[key] = person
    earlier: dict[tuple[int, int], str] = {}
    for rid, pid, _tid, barcode in in_rounds:
        if rid is not None:
            earlier.setdefault((int(rid), int(pid)), barcode)
    return _Found(
        actors=_actors(hashes, sess_rows, role_rows, now),
        sites={int(r[0]): _SiteRow(*r) for r in site_rows},
        tubes={r[1]: _TubeRow(*r) for r in tube_rows},
        persons=persons,
        in_tube={(int(tid), int(pid)) for _rid, pid, tid, _b in in_tubes},
        earlier=earlier,
        single={(int(rid), int(pid)): bool(flag) for rid, pid, flag in member_rows},
    )


def _sample_statements(session: Session, persons: Any, tubes: Any, rounds: Any) -> list[Any]:
    """The persons' swabs in these tubes or in their rounds; their membership of the rounds."""
    swabs = select(Sample.round_id, Sample.person_id, Sample.tube_id, Tube.barcode).join(
        Tube, Tube.id == Sample.tube_id
    )
    return [  # in these tubes, in these rounds: two statements, each on its own index
        swabs.where(persons(Sample.person_id), _any_of(session, Sample.tube_id, tubes)),
        swabs.where(persons(Sample.person_id), _any_of(session, Sample.round_id, rounds)).order_by(Sample.id),
        select(RoundMember.round_id, RoundMember.person_id, RoundMember.single_tube).where(
            _any_of(session, RoundMember.round_id, rounds), persons(RoundMember.person_id)
        ),
    ]


def _any_of(session: Session, column: Any, values: Any) -> Any:
    """`column IN (subquery)`. On PostgreSQL `= ANY((SELECT array_agg …))`: the subquery runs
    once, first, and its array is an index condition — a plain IN lets the planner start from
    the other side and scan a whole round's members (200,000 rows) for a batch of 40."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    sub = values.subquery()
    array = select(func.array_agg(next(iter(sub.c)))).scalar_subquery()
    return column == any_(sql_cast(array, ARRAY(column.type)))  # ANY (array), not ANY (subquery)


def _actors(
    hashes: dict[str, str], sessions: list[tuple[Any, ...]], roles: list[tuple[Any, ...]], now: dt.datetime
) -> dict[str, Actor | FangkongError]:
    """Bearer tokens → actors (or why not)."""
    out: dict[str, Actor | FangkongError] = {t: Unauthenticated("invalid token") for t in hashes.values()}
    by_user: dict[int, set[str]] = {}
    for uid, role in roles:
        by_user.setdefault(int(uid), set()).add(role)
    for (
        token_hash,
        kind,
        revoked_at,
        expires_at,
        uid,
        username,
        area,
        person_id,
        language,
        disabled,
    ) in sessions:
        token = hashes[token_hash]
        if kind != "api":
            continue
        if revoked_at is not None:
            out[token] = Unauthenticated("this token was revoked (logged out); log in again")
        elif _aware(expires_at) <= now:
            out[token] = Unauthenticated("this token has expired; log in again")
        elif disabled:
            out[token] = Unauthenticated("this account is disabled")
        else:
            out[token] = Actor(
                user_id=int(uid),
                username=username,
                roles=frozenset(by_user.get(int(uid), ())),
                area_code=area,
                person_id=person_id,
                language=language,
            )
    return out


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
