"""Swab registration in batches (`fangkong.nat.intake.register_batch`, the group-committed
path of `POST /nat/samples`): each swab's outcome in order, swabs of one batch seeing each
other, tokens resolved in the batch, merged persons, and — on PostgreSQL — two writers
filling the same tubes at once."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from fangkong.auth import service as auth
from fangkong.auth.models import AuthSession
from fangkong.errors import Conflict, FangkongError, Forbidden, Invalid, NotFound, Unauthenticated
from fangkong.nat import tubes
from fangkong.nat.intake import Registered, Swab, register_batch
from fangkong.nat.models import Sample, Tube
from fangkong.person import code as person_code
from fangkong.person.merge import merge
from tests.conftest import PASSWORD, is_postgres
from tests.nat.conftest import HQ, NOW, SAMPLER
from tests.nat.test_testing_flow import _round


def _token(factory: Any, settings: Any, username: str) -> str:
    with factory.begin() as s:
        token, _row, _user = auth.login(
            session=s, settings=settings, username=username, password=PASSWORD, kind="api"
        )
    return token


def _swab(site: int, tube: str, scan: str, **kw: Any) -> Swab:
    return Swab(tube=tube, scan=scan, site_id=site, at=NOW, **kw)


def test_a_batch_answers_each_swab_in_order(
    factory: Any, settings: Any, users: Any, world: dict[str, Any]
) -> None:
    round_id = _round(factory)
    p, site = world["persons"], world["site"]
    users.create("smp", "sampler", area="510104")
    users.create("gone", "sampler", area="510104")
    users.create("far", "sampler", area="510105")
    good, revoked, far = (_token(factory, settings, u) for u in ("smp", "gone", "far"))
    with factory.begin() as s:
        auth.logout(session=s, token=revoked)
        for barcode, capacity in (("B-POOL-1", 5), ("B-ONE-1", 1)):
            tubes.open_tube(
                session=s,
                actor=SAMPLER,
                barcode=barcode,
                site_id=site,
                round_id=round_id,
                capacity=capacity,
            )
        merge(session=s, actor=HQ, survivor_id=p[5], merged_id=p[6], reason="同一人重复登记")
    code = person_code.make
    batch = [
        _swab(site, "B-POOL-1", code(p[0]), token=good),  # 0 ok
        _swab(site, "B-POOL-1", code(p[0]), token=good),  # 1 already in this tube (swab 0)
        _swab(site, "bad barcode!", code(p[1]), token=good),  # 2 invalid barcode
        _swab(site, "B-NONE-1", code(p[1]), token=good),  # 3 unknown tube
        _swab(site, "B-ONE-1", code(p[1]), token=good),  # 4 ok, fills and closes the single tube
        _swab(site, "B-ONE-1", code(p[2]), token=good),  # 5 the tube closed with swab 4
        _swab(site, "B-POOL-1", code(p[6]), token=good),  # 6 merged away: registered as p[5]
        _swab(site, "B-POOL-1", code(p[5]), token=good),  # 7 p[5] again: already in this tube
        _swab(site, "B-POOL-1", code(p[3]), token="no-such-token"),  # 8 unknown token
        _swab(site, "B-POOL-1", code(p[3]), token=revoked),  # 9 logged out
        _swab(site, "B-POOL-1", code(p[3]), token=far),  # 10 site outside the account's area
        _swab(site, "B-POOL-1", "G00000000", token=good),  # 11 nobody
        _swab(site, "bad barcode!", code(p[3]), token="no-such-token"),  # 12 auth is told first
        _swab(site, "B-POOL-1", code(p[3]), actor=SAMPLER),  # 13 ok, an actor instead of a token
    ]
    with factory.begin() as s:
        out = register_batch(s, batch)
    expected: list[type[Any]] = [
        Registered,
        Conflict,
        Invalid,
        NotFound,
        Registered,
        Conflict,
        Registered,
        Conflict,
        Unauthenticated,
        Unauthenticated,
        Forbidden,
        NotFound,
        Unauthenticated,
        Registered,
    ]
    assert [type(o) for o in out] == expected, out
    assert isinstance(out[1], FangkongError) and "already in tube" in out[1].message
    assert isinstance(out[5], FangkongError) and "closed" in out[5].message
    assert isinstance(out[9], FangkongError) and "revoked" in out[9].message
    ok = [o for o in out if isinstance(o, Registered)]
    assert [o.person_id for o in ok] == [p[0], p[1], p[5], p[3]]
    assert [o.members for o in ok] == [1, 1, 2, 3] and ok[1].closed
    with factory() as s:
        stored = s.execute(
            select(Tube.barcode, Sample.person_id, Sample.collected_by)
            .join(Tube, Tube.id == Sample.tube_id)
            .order_by(Sample.id)
        ).all()
        assert [(b, pid) for b, pid, _ in stored] == [
            ("B-POOL-1", p[0]),
            ("B-ONE-1", p[1]),
            ("B-POOL-1", p[5]),
            ("B-POOL-1", p[3]),
        ]
        assert [by for *_, by in stored] == ["smp", "smp", "smp", SAMPLER.username]
        pool = s.scalar(select(Tube).where(Tube.barcode == "B-POOL-1"))
        single = s.scalar(select(Tube).where(Tube.barcode == "B-ONE-1"))
        assert pool is not None and single is not None
        assert (pool.members, pool.status) == (3, "open")
        assert (single.members, single.status, single.closed_by) == (1, "closed", "smp")


def test_a_tube_object_held_by_the_session_sees_the_registration(factory: Any, world: dict[str, Any]) -> None:
    with factory.begin() as s:
        t = tubes.open_tube(session=s, actor=SAMPLER, barcode="B-HELD-1", site_id=world["site"], capacity=5)
        assert t.members == 0
        tubes.register(
            session=s,
            actor=SAMPLER,
            tube="B-HELD-1",
            scan=person_code.make(world["persons"][0]),
            site_id=world["site"],
        )
        assert t.members == 1  # refreshed, not the stale 0


def test_an_expired_token_is_refused(factory: Any, settings: Any, users: Any, world: dict[str, Any]) -> None:
    users.create("smp", "sampler", area="510104")
    token = _token(factory, settings, "smp")
    with factory.begin() as s:
        tubes.open_tube(session=s, actor=SAMPLER, barcode="B-EXP-1", site_id=world["site"], capacity=5)
        for row in s.scalars(select(AuthSession)):
            row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with factory.begin() as s:
        (out,) = register_batch(
            s, [_swab(world["site"], "B-EXP-1", person_code.make(world["persons"][0]), token=token)]
        )
    assert isinstance(out, Unauthenticated) and "expired" in out.message


@pytest.mark.skipif(not is_postgres(), reason="concurrent writers: PostgreSQL (SQLite has one writer)")
def test_two_writers_filling_the_same_tubes_never_overfill(factory: Any, world: dict[str, Any]) -> None:
    """Two batches racing for the same two 5-in-1 tubes, with the tubes in opposite orders:
    the tube locks make them take turns (no deadlock), and no tube takes more than five."""
    p, site = world["persons"], world["site"]
    with factory.begin() as s:
        for barcode in ("B-RACE-1", "B-RACE-2"):
            tubes.open_tube(session=s, actor=SAMPLER, barcode=barcode, site_id=site, capacity=5)
    first = [
        _swab(site, "B-RACE-1" if n < 3 else "B-RACE-2", person_code.make(p[n]), actor=SAMPLER)
        for n in range(6)
    ]
    second = [
        _swab(site, "B-RACE-2" if n < 9 else "B-RACE-1", person_code.make(p[n]), actor=SAMPLER)
        for n in range(6, 12)
    ]
    results: dict[str, list[Any]] = {}
    barrier = threading.Barrier(2)

    def run(name: str, swabs: list[Swab]) -> None:
        barrier.wait()
        with factory.begin() as s:
            results[name] = register_batch(s, swabs)

    threads = [threading.Thread(target=run, args=a) for a in (("a", first), ("b", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(results) == {"a", "b"}
    outcomes = results["a"] + results["b"]
    assert sum(isinstance(o, Registered) for o in outcomes) == 10
    assert all(isinstance(o, Registered) or "full" in o.message or "closed" in o.message for o in outcomes)
    with factory() as s:
        counts = dict(
            s.execute(
                select(Tube.barcode, func.count(Sample.id))
                .join(Sample, Sample.tube_id == Tube.id)
                .where(Tube.barcode.like("B-RACE-%"))
                .group_by(Tube.barcode)
            ).all()
        )
        members = dict(
            s.execute(select(Tube.barcode, Tube.members).where(Tube.barcode.like("B-RACE-%"))).all()
        )
    assert counts == members == {"B-RACE-1": 5, "B-RACE-2": 5}
