"""Persons: registration, duplicates, masking, unmasking with audit, jurisdiction, merge."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from fangkong.audit.models import AuditEntry
from fangkong.auth.actor import Actor
from fangkong.errors import Conflict, Forbidden, Invalid, NotFound
from fangkong.events.models import DomainEvent
from fangkong.person import merge
from fangkong.person import service as persons
from fangkong.person.models import Person, PersonMerge
from fangkong.person.schemas import PersonCreate, PersonUpdate
from tests.conftest import login, person_payload

CW = Actor(user_id=None, username="cw", roles=frozenset({"community_worker"}), area_code="510104")


def make(session: Any, actor: Actor = CW, **kw: Any) -> Person:
    return persons.create(session=session, actor=actor, data=PersonCreate(**person_payload(**kw)))


def test_create_derives_sex_and_birth_and_audits(session: Any, areas: Any) -> None:
    p = make(session, birth=dt.date(1990, 2, 28), sex_for_id="male")
    session.commit()
    assert (p.sex, p.birth_date) == ("male", dt.date(1990, 2, 28))
    assert p.primary_identifier is not None and p.primary_identifier.kind == "resident_id"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "person.create"))
    assert entry.resource_id == str(p.id) and entry.after["name"] == "张三丰"
    assert session.scalar(select(DomainEvent.type)) == "person.created"


def test_duplicate_identifier_is_refused(session: Any, areas: Any) -> None:
    make(session)
    with pytest.raises(Conflict, match="already registered"):
        make(session, name="另一个人")


def test_passport_and_other_identifiers(session: Any, areas: Any) -> None:
    p = persons.create(
        session=session,
        actor=CW,
        data=PersonCreate(
            name="John Smith",
            area_code="510104020001",
            id_kind="passport",
            id_number="e12345678",
            nationality="gbr",
            other_identifiers=[{"kind": "other", "value": "WORK-7"}],
        ),
    )
    assert [(i.kind, i.value, i.is_primary) for i in p.identifiers] == [
        ("passport", "E12345678", True),
        ("other", "WORK-7", False),
    ]
    assert p.nationality == "GBR"
    assert persons.to_out(p).name == "J*** S****"


@pytest.mark.parametrize(
    "field,kw",
    [
        ("id_number", {"id_number": "510104198506010020"}),  # check digit
        ("id_number", {"id_number": "51010419850231002X"}),  # Feb 31
        ("id_number", {"id_number": "5101041985060100"}),  # length
        ("sex", {"sex": "male"}),  # ID says female
        ("birth_date", {"birth_date": "1985-06-02"}),
        ("phone", {"phone": "0281234567"}),
        ("area_code", {"area_code": "51x"}),
        ("key_groups", {"key_groups": ["wizards"]}),
        ("lon", {"lon": 200, "lat": 30}),
    ],
)
def test_bad_input_names_the_field(field: str, kw: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from fangkong.validation import details_from

    with pytest.raises(ValidationError) as e:
        PersonCreate.model_validate(person_payload(**kw))
    assert field in {d.field for d in details_from(e.value)}


def test_unknown_area_and_outside_jurisdiction(session: Any, areas: Any) -> None:
    with pytest.raises(Invalid) as e:
        make(session, area_code="510104020009")
    assert e.value.details[0].reason == "unknown area code"
    with pytest.raises(Invalid) as e:
        make(session, area_code="510105001001")
    assert "jurisdiction" in e.value.details[0].reason


def test_masking_and_unmask_audit(session: Any, areas: Any) -> None:
    p = make(session)
    out = persons.read(session=session, actor=CW, person_id=p.id)
    assert out.masked and out.name == "张*丰" and out.phone == "138****8000"
    assert out.id_number is not None and out.id_number.startswith("5101") and "*" * 10 in out.id_number
    assert out.birth_date is None and out.birth_year == 1985
    with pytest.raises(Invalid):
        persons.unmask(session=session, actor=CW, person_id=p.id, reason="")
    full = persons.unmask(session=session, actor=CW, person_id=p.id, reason="通知核酸检测")
    assert not full.masked and full.name == "张三丰" and full.phone == "13800138000"
    row = session.scalar(select(AuditEntry).where(AuditEntry.action == "person.read_pii"))
    assert row.reason == "通知核酸检测" and row.resource_id == str(p.id)
    commander = Actor(user_id=None, username="c", roles=frozenset({"commander"}), area_code="5101")
    with pytest.raises(Forbidden):
        persons.unmask(session=session, actor=commander, person_id=p.id, reason="curious")


def test_jurisdiction_limits_search_and_get(session: Any, areas: Any) -> None:
    system = Actor(user_id=None, username="s", roles=frozenset({"admin", "community_worker"}))
    a = make(session, actor=system, seq=1)
    b = make(session, actor=system, seq=2, area_code="510105001001")
    c = make(session, actor=system, seq=3, area_code="110105001")
    session.commit()
    jinjiang = Actor(user_id=None, username="j", roles=frozenset({"tracer"}), area_code="510104")
    rows, _ = persons.search(session=session, actor=jinjiang)
    assert [r.id for r in rows] == [a.id]
    chengdu = Actor(user_id=None, username="c", roles=frozenset({"tracer"}), area_code="5101")
    rows, _ = persons.search(session=session, actor=chengdu)
    assert {r.id for r in rows} == {a.id, b.id}
    with pytest.raises(Forbidden, match="outside your jurisdiction"):
        persons.read(session=session, actor=jinjiang, person_id=c.id)
    with pytest.raises(NotFound):
        persons.read(session=session, actor=jinjiang, person_id=999)


def test_search_filters_and_keyset_pages(session: Any, areas: Any) -> None:
    for i in range(7):
        make(
            session, seq=i + 1, name=f"王{i}", phone=f"1390000000{i}", key_groups=["elderly"] if i % 2 else []
        )
    session.commit()
    page1, nxt = persons.search(session=session, actor=CW, limit=3)
    page2, nxt2 = persons.search(session=session, actor=CW, limit=3, after=nxt)
    page3, nxt3 = persons.search(session=session, actor=CW, limit=3, after=nxt2)
    ids = [p.id for p in page1 + page2 + page3]
    assert ids == sorted(ids) and len(set(ids)) == 7 and nxt3 is None
    assert [p.name for p in persons.search(session=session, actor=CW, q="王3")[0]] == ["王3"]
    assert len(persons.search(session=session, actor=CW, key_group="elderly")[0]) == 3
    assert len(persons.search(session=session, actor=CW, phone="139-0000-0005")[0]) == 1
    number = page1[0].identifiers[0].value
    assert [p.id for p in persons.search(session=session, actor=CW, id_number=number.lower())[0]] == [
        page1[0].id
    ]


def test_update_audits_only_changes(session: Any, areas: Any) -> None:
    p = make(session)
    persons.update(
        session=session,
        actor=CW,
        person_id=p.id,
        data=PersonUpdate(phone="13912345678", key_groups=["elderly"]),
    )
    row = session.scalar(select(AuditEntry).where(AuditEntry.action == "person.update"))
    assert row.before == {"key_groups": [], "phone": "13800138000"}
    assert row.after == {"key_groups": ["elderly"], "phone": "13912345678"}
    with pytest.raises(Invalid):
        persons.update(session=session, actor=CW, person_id=p.id, data=PersonUpdate(area_code="510105001001"))


def test_merge_keeps_history(session: Any, areas: Any) -> None:
    a = make(session, seq=1, phone="13800000001")
    b = persons.create(
        session=session,
        actor=CW,
        data=PersonCreate(
            name="张三丰",
            area_code="510104020001",
            id_kind="passport",
            id_number="E7654321",
            birth_date=a.birth_date,
            key_groups=["elderly"],
        ),
    )
    cands = merge.candidates(session=session, actor=CW, person_id=a.id)
    assert [(p.id, r) for p, r in cands] == [(b.id, ["same name and birth date"])]
    survivor = merge.merge(
        session=session, actor=CW, survivor_id=a.id, merged_id=b.id, reason="same person, two documents"
    )
    session.commit()
    assert {i.kind for i in survivor.identifiers} == {"resident_id", "passport"}
    assert [k.key_group for k in survivor.key_groups] == ["elderly"]
    gone = session.get(Person, b.id)
    assert gone.status == "merged" and gone.merged_into_id == a.id
    hist = session.scalar(select(PersonMerge))
    assert hist.snapshot["identifiers"] == ["passport:E7654321"] and hist.reason.startswith("same")
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "person.merge")
        )
        == 2
    )
    # The merged record is out of searches and cannot be merged again.
    assert [p.id for p in persons.search(session=session, actor=CW)[0]] == [a.id]
    with pytest.raises(Conflict):
        merge.merge(session=session, actor=CW, survivor_id=a.id, merged_id=b.id, reason="again")
    with pytest.raises(Invalid):
        merge.merge(session=session, actor=CW, survivor_id=a.id, merged_id=a.id, reason="self")


def test_resident_sees_only_own_record(client: Any, areas: Any, users: Any, factory: Any) -> None:
    with factory.begin() as s:
        mine = make(s, seq=1).id
        other = make(s, seq=2).id
    users.create("me", "resident", area=None, person_id=mine)
    h = login(client, "me")
    r = client.get(f"/api/v1/persons/{mine}", headers=h)
    assert r.status_code == 200 and r.json()["masked"] is False and r.json()["name"] == "张三丰"
    assert client.get(f"/api/v1/persons/{other}", headers=h).status_code == 403
    assert client.get("/api/v1/persons", headers=h).status_code == 403


def test_delete_only_admin_and_audited(session: Any, areas: Any) -> None:
    p = make(session)
    with pytest.raises(Forbidden):
        persons.delete_person(session=session, actor=CW, person_id=p.id, reason="mistake")
    admin = Actor(user_id=None, username="a", roles=frozenset({"admin"}))
    persons.delete_person(session=session, actor=admin, person_id=p.id, reason="registered twice")
    assert session.get(Person, p.id) is None
    row = session.scalar(select(AuditEntry).where(AuditEntry.action == "person.delete"))
    assert row.before["name"] == "张三丰" and row.reason == "registered twice"


def test_update_refuses_nulls_and_contradictions(session: Any, areas: Any) -> None:
    p = make(session)
    for field in ("name", "sex", "nationality", "area_code"):
        with pytest.raises((Invalid, ValueError)):
            persons.update(
                session=session, actor=CW, person_id=p.id, data=PersonUpdate.model_validate({field: None})
            )
    with pytest.raises(Invalid) as e:
        persons.update(session=session, actor=CW, person_id=p.id, data=PersonUpdate(sex="male"))
    assert e.value.details[0].field == "sex"
    with pytest.raises(Invalid) as e:
        persons.update(
            session=session, actor=CW, person_id=p.id, data=PersonUpdate(birth_date=dt.date(1999, 1, 1))
        )
    assert e.value.details[0].field == "birth_date"
    persons.update(session=session, actor=CW, person_id=p.id, data=PersonUpdate(address=None))
    assert session.get(Person, p.id).address is None


def test_audit_and_merge_history_are_masked_when_read(client: Any, areas: Any, users: Any) -> None:
    users.create("cw", "community_worker", area="510104")
    users.create("aud", "auditor", area=None)
    h = login(client, "cw")
    a = client.post("/api/v1/persons", json=person_payload(seq=1), headers=h).json()["person"]
    b = client.post("/api/v1/persons", json=person_payload(seq=2), headers=h).json()["person"]
    client.post(
        f"/api/v1/persons/{a['id']}/merge", json={"merged_id": b["id"], "reason": "同一人两份记录"}, headers=h
    )
    rows = client.get("/api/v1/audit?action=person.create", headers=login(client, "aud")).json()["items"]
    after = rows[0]["after"]
    assert after["name"] == "张*丰" and after["phone"] == "138****8000" and after["birth_date"] == "1985"
    assert all("*" * 10 in i for i in after["identifiers"])
    merges = client.get(f"/api/v1/persons/{a['id']}/merges", headers=h).json()
    assert merges[0]["snapshot"]["name"] == "张*丰"
