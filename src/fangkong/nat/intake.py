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
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    insert,
    select,
    update,
)
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
    ask = _Ask(
        hashes=sorted(hashes),
        sites=sorted({s.site_id for s in swabs}),
        barcodes=sorted({s.tube.strip() for s in swabs}),
        ids=sorted({int(v) for k, v in keys if k == "id"}),
        docs=sorted({(k, str(v)) for k, v in keys if k != "id"}),
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    read = _read_pg if postgres else _read_generic
    sess_rows, role_rows, site_rows, tube_rows, doc_rows, person_rows, in_tubes, in_rounds, member_rows = (
        read(session, ask, lock)
    )
    people = {int(r[0]): _Who(int(r[0]), r[1], r[2]) for r in person_rows}
    merged = {p.merged_into_id for p in people.values() if p.status != "active" and p.merged_into_id}
    if missing := merged - set(people):  # rare: scans of merged-away records
        again = _Ask(hashes=[], sites=[], barcodes=ask.barcodes, ids=sorted(missing), docs=[])
        *_, more, more_in_tubes, more_in_rounds, more_members = read(session, again, False)
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


@dataclass(frozen=True)
class _Ask:
    """What a batch looks up: token hashes, site ids, barcodes, person ids, (kind, document)."""

    hashes: list[str]
    sites: list[int]
    barcodes: list[str]
    ids: list[int]
    docs: list[tuple[str, str]]


Rows = list[tuple[Any, ...]]


def _expanding(name: str) -> Any:
    return bindparam(name, expanding=True)


# SQLite (and any other database): the lookups as SQLAlchemy statements built once (so each
# batch only binds its lists), run one after the other — in process, a query costs no round
# trip: documents first, then everything by person id.
_TUBES = select(Tube.id).where(Tube.barcode.in_(_expanding("barcodes")))
_ROUNDS = select(Tube.round_id).where(Tube.barcode.in_(_expanding("barcodes")), Tube.round_id.is_not(None))
_SWABS = select(Sample.round_id, Sample.person_id, Sample.tube_id, Tube.barcode).join(
    Tube, Tube.id == Sample.tube_id
)
_GENERIC_DOCS = select(PersonIdentifier.kind, PersonIdentifier.value, PersonIdentifier.person_id).where(
    PersonIdentifier.kind.in_(_expanding("doc_kinds")), PersonIdentifier.value.in_(_expanding("doc_values"))
)
_GENERIC_LOOKUPS = [
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
    .where(AuthSession.token_hash.in_(_expanding("hashes"))),
    select(UserRole.user_id, UserRole.role)
    .join(AuthSession, AuthSession.user_id == UserRole.user_id)
    .where(AuthSession.token_hash.in_(_expanding("hashes"))),
    select(SamplingSite.id, SamplingSite.code, SamplingSite.area_code, SamplingSite.status).where(
        SamplingSite.id.in_(_expanding("sites"))
    ),
    select(*_TUBE_COLUMNS).where(Tube.barcode.in_(_expanding("barcodes"))).order_by(Tube.id),
    select(Person.id, Person.status, Person.merged_into_id).where(Person.id.in_(_expanding("ids"))),
    _SWABS.where(Sample.person_id.in_(_expanding("ids")), Sample.tube_id.in_(_TUBES)),
    _SWABS.where(Sample.person_id.in_(_expanding("ids")), Sample.round_id.in_(_ROUNDS)).order_by(Sample.id),
    select(RoundMember.round_id, RoundMember.person_id, RoundMember.single_tube).where(
        RoundMember.round_id.in_(_ROUNDS), RoundMember.person_id.in_(_expanding("ids"))
    ),
]


def _read_generic(session: Session, ask: _Ask, lock: bool) -> list[Rows]:
    doc_rows: Rows = []
    if ask.docs:
        wanted = set(ask.docs)
        found = session.execute(
            _GENERIC_DOCS,
            {"doc_kinds": sorted({k for k, _ in wanted}), "doc_values": sorted({v for _, v in wanted})},
        )
        doc_rows = [tuple(r) for r in found if (r[0], r[1]) in wanted]
    params = {
        "hashes": ask.hashes,
        "sites": ask.sites,
        "barcodes": ask.barcodes,
        "ids": sorted(set(ask.ids) | {int(r[2]) for r in doc_rows}),
    }
    rows = [[tuple(r) for r in session.execute(stmt, params)] for stmt in _GENERIC_LOOKUPS]
    return [*rows[:4], doc_rows, *rows[4:]]


# PostgreSQL: the lookups as fixed SQL texts over array parameters — nothing to compile per
# batch, and psycopg keeps them prepared — sent together in one round trip. The batch's persons
# are the scanned ids plus those found by document; `= ANY(ARRAY(SELECT …))` is computed once,
# first, and used as an index condition.
_PG_PERSONS = """(%(ids)s::integer[] || ARRAY(
    SELECT i.person_id FROM unnest(%(doc_kinds)s::varchar[], %(doc_values)s::varchar[]) AS d(kind, value)
    JOIN person_identifier AS i ON i.kind = d.kind AND i.value = d.value))"""
_PG_TUBE_IDS = "ARRAY(SELECT id FROM nat_tube WHERE barcode = ANY(%(barcodes)s::varchar[]))"
_PG_ROUND_IDS = """ARRAY(SELECT round_id FROM nat_tube
    WHERE barcode = ANY(%(barcodes)s::varchar[]) AND round_id IS NOT NULL)"""
_PG_LOOKUPS = [
    """SELECT s.token_hash, s.kind, s.revoked_at, s.expires_at,
       u.id, u.username, u.area_code, u.person_id, u.language, u.disabled
FROM auth_session AS s JOIN app_user AS u ON u.id = s.user_id
WHERE s.token_hash = ANY(%(hashes)s::varchar[])""",
    """SELECT r.user_id, r.role FROM user_role AS r JOIN auth_session AS s ON s.user_id = r.user_id
WHERE s.token_hash = ANY(%(hashes)s::varchar[])""",
    "SELECT id, code, area_code, status FROM nat_site WHERE id = ANY(%(sites)s::integer[])",
    """SELECT id, barcode, site_id, round_id, capacity, members, status FROM nat_tube
WHERE barcode = ANY(%(barcodes)s::varchar[]) ORDER BY id{lock}""",
    """SELECT i.kind, i.value, i.person_id
FROM unnest(%(doc_kinds)s::varchar[], %(doc_values)s::varchar[]) AS d(kind, value)
JOIN person_identifier AS i ON i.kind = d.kind AND i.value = d.value""",
    f"SELECT id, status, merged_into_id FROM person WHERE id = ANY{_PG_PERSONS}",
    f"""SELECT s.round_id, s.person_id, s.tube_id, t.barcode
FROM nat_sample AS s JOIN nat_tube AS t ON t.id = s.tube_id
WHERE s.person_id = ANY{_PG_PERSONS} AND s.tube_id = ANY({_PG_TUBE_IDS})""",
    f"""SELECT s.round_id, s.person_id, s.tube_id, t.barcode
FROM nat_sample AS s JOIN nat_tube AS t ON t.id = s.tube_id
WHERE s.person_id = ANY{_PG_PERSONS} AND s.round_id = ANY({_PG_ROUND_IDS})
ORDER BY s.id""",
    f"""SELECT round_id, person_id, single_tube FROM nat_round_member
WHERE round_id = ANY({_PG_ROUND_IDS}) AND person_id = ANY{_PG_PERSONS}""",
]


def _read_pg(session: Session, ask: _Ask, lock: bool) -> list[Rows]:
    params: dict[str, Any] = {
        "hashes": ask.hashes,
        "sites": ask.sites,
        "barcodes": ask.barcodes,
        "ids": ask.ids,
        "doc_kinds": [k for k, _ in ask.docs],
        "doc_values": [v for _, v in ask.docs],
    }
    # locked in id order: concurrent batches filling the same tubes wait, never deadlock
    texts = [q.replace("{lock}", " FOR UPDATE" if lock else "") for q in _PG_LOOKUPS]
    return fetch_all(session, [(q, params) for q in texts])


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
