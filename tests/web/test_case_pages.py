"""Tracing pages: the case list and page (clock, timeline, contacts), chains, tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fangkong.events import service as events
from fangkong.events.registry import load_handlers
from tests.conftest import login, person_payload
from tests.web.test_pages import _csrf, web_login


def _setup(client: Any, users: Any, factory: Any) -> tuple[int, dict[str, str]]:
    load_handlers()
    users.create("cmd", "commander", area="5101")
    users.create("epi", "epidemiologist", area="5101")
    users.create("cw", "community_worker", area="510104020001")
    h_cmd, h_epi = login(client, "cmd"), login(client, "epi")
    client.post(
        "/api/v1/policy/activations",
        headers=h_cmd,
        json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
    )
    case_person = client.post(
        "/api/v1/persons", headers=h_epi, json=person_payload(seq=1, household_ref="H")
    ).json()
    client.post("/api/v1/persons", headers=h_epi, json=person_payload(seq=2, household_ref="H"))
    first = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)).isoformat()
    r = client.post(
        "/api/v1/cases",
        headers=h_epi,
        json={
            "person_id": case_person["person"]["id"],
            "classification": "confirmed",
            "first_positive_at": first,
        },
    )
    assert r.status_code == 201, r.text
    events.run_pending(factory)
    return r.json()["id"], h_epi


def test_case_page_flow(client: Any, areas: Any, users: Any, factory: Any) -> None:
    case_id, _h = _setup(client, users, factory)
    web_login(client, "epi")
    listing = client.get("/cases")
    assert listing.status_code == 200 and "5101-" in listing.text and "确诊病例" in listing.text
    page = client.get(f"/cases/{case_id}")
    assert 'id="clock"' in page.text and "到达现场（2小时）" in page.text
    token = _csrf(page.text)
    page = client.post(f"/cases/{case_id}/step", data={"step": "on_site", "csrf_token": token})
    assert page.status_code == 200 and "已到场" not in page.text  # the clock row now has a time
    page = client.post(
        f"/cases/{case_id}/entries",
        data={"kind": "place", "text": "春熙路商场", "start": "2026-11-20T10:00", "csrf_token": token},
    )
    assert "春熙路商场" in page.text
    page = client.post(f"/cases/{case_id}/find", data={"csrf_token": token})
    assert page.status_code == 200 and "与病例" in page.text and "共同居住" in page.text
    page = client.post(f"/cases/{case_id}/decide", data={"accept": "yes", "csrf_token": token})
    assert "已确认" in page.text
    # the community worker sees the locate-and-control task and closes it
    client.post("/logout", data={"csrf_token": token})
    web_login(client, "cw")
    tasks = client.get("/tasks")
    assert "落位管控" in tasks.text
    import re

    task_id = re.search(r'action="/tasks/(\d+)/done"', tasks.text).group(1)  # type: ignore[union-attr]
    done = client.post(
        f"/tasks/{task_id}/done", data={"result": "已转运集中隔离", "csrf_token": _csrf(tasks.text)}
    )
    assert done.status_code == 200 and f'action="/tasks/{task_id}/done"' not in done.text


def test_chains_page_and_report(client: Any, areas: Any, users: Any, factory: Any) -> None:
    case_id, h = _setup(client, users, factory)
    web_login(client, "epi")
    page = client.get("/chains")
    assert page.status_code == 200 and 'id="chain-svg"' in page.text
    report = client.get(f"/api/v1/cases/{case_id}/report.docx", headers=h)
    assert report.status_code == 200 and report.content[:2] == b"PK"


def test_contact_lists_are_paged_by_list(client: Any, areas: Any, users: Any, factory: Any) -> None:
    from fangkong.contact.models import ContactListing

    case_id, h = _setup(client, users, factory)
    other = client.post("/api/v1/persons", headers=h, json=person_payload(seq=3)).json()["person"]["id"]
    with factory.begin() as s:
        for n in range(250):  # a crowded cell: many companion listings (one person, many cells)
            s.add(
                ContactListing(
                    case_id=case_id,
                    person_id=other,
                    list="companion",
                    setting="cell",
                    place_key=f"c{n}",
                    minutes=15.0,
                    reason_zh=f"时空伴随 格{n}",
                    reason_en=f"companion cell {n}",
                )
            )
    web_login(client, "epi")
    page = client.get(f"/cases/{case_id}?list=companion")
    assert page.status_code == 200
    assert page.text.count("时空伴随 格") == 200 and 'id="contacts-next"' in page.text
    import re

    nxt = re.search(r'id="contacts-next"', page.text) and re.search(
        r'after=(\d+)" id="contacts-next"', page.text
    )
    assert nxt is not None
    rest = client.get(f"/cases/{case_id}?list=companion&after={nxt.group(1)}")
    assert rest.text.count("时空伴随 格") == 50 and 'id="contacts-next"' not in rest.text
    api = client.get(
        f"/api/v1/cases/{case_id}/contacts", headers=h, params={"list": "companion", "limit": 100}
    )
    body = api.json()
    assert len(body["items"]) == 100 and body["next_after"] == body["items"][-1]["id"]
    assert body["counts"] == {"companion": {"proposed": 250}}
    # confirming the shown list confirms that list only
    token = _csrf(page.text)
    client.post(f"/cases/{case_id}/decide", data={"accept": "yes", "list": "companion", "csrf_token": token})
    counts = client.get(f"/api/v1/cases/{case_id}/contacts", headers=h).json()["counts"]
    assert counts == {"companion": {"confirmed": 250}}
    bad = client.get(f"/api/v1/cases/{case_id}/contacts", headers=h, params={"list": "friends"})
    assert bad.status_code == 422 and "list" in bad.text


def test_case_trajectory_api_and_page(client: Any, areas: Any, users: Any, factory: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fangkong.config import get_settings

    case_id, h = _setup(client, users, factory)
    empty = client.get(f"/api/v1/cases/{case_id}/trajectory", headers=h)
    assert empty.status_code == 200, empty.text
    assert empty.json()["stays"] == [] and any("no stays" in n for n in empty.json()["notes"])
    person_id = client.get(f"/api/v1/cases/{case_id}", headers=h).json()["person_id"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    root = get_settings().resolved_movement_dir
    (root / "stays").mkdir(parents=True)
    (root / "checkins").mkdir(parents=True)
    ts = pa.timestamp("us", tz="UTC")
    starts = [now - dt.timedelta(hours=30), now - dt.timedelta(hours=20), now - dt.timedelta(days=20)]
    pq.write_table(
        pa.table(
            {
                "person_id": pa.array([person_id, person_id, person_id], pa.int64()),
                "start": pa.array(starts, ts),
                "end": pa.array([s + dt.timedelta(hours=2) for s in starts], ts),
                "lon": [104.07, 104.08, 104.09],
                "lat": [30.66, 30.67, 30.68],
            }
        ),
        root / "stays" / "part-0.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "person_id": pa.array([person_id, person_id + 1], pa.int64()),
                "place_id": pa.array([7, 7], pa.int64()),
                "time": pa.array([now - dt.timedelta(hours=10)] * 2, ts),
            }
        ),
        root / "checkins" / "part-0.parquet",
    )
    got = client.get(f"/api/v1/cases/{case_id}/trajectory", headers=h).json()
    # the stay 20 days ago is outside the lookback; the other person's check-in is not shown
    assert [s["minutes"] for s in got["stays"]] == [120.0, 120.0]
    assert [c["place_id"] for c in got["checkins"]] == ["7"]
    web_login(client, "epi")
    assert 'id="trajectory-link"' in client.get(f"/cases/{case_id}").text
    page = client.get(f"/cases/{case_id}/trajectory")
    assert page.status_code == 200 and 'id="trajectory"' in page.text and "104.07000" in page.text
    assert "场所码扫码" in page.text and ">7<" in page.text
    from sqlalchemy import func, select

    from fangkong.audit.models import AuditEntry

    with factory() as s:
        reads = s.scalar(select(func.count()).where(AuditEntry.action == "case.trajectory"))
    assert reads == 3  # two API reads and the page
