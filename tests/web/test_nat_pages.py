"""Testing pages: a commander plans a round, a sampler opens a tube and scans swabs (a refusal
and a warning shown on the page), the lab receives the box and uploads the sheet, the round page
shows the progress, the resident sees their pooled-positive record; sites and coverage."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fangkong.person import code as person_code
from tests.conftest import login, person_payload
from tests.web.test_pages import _csrf, web_login

LOCAL = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def setup(client: Any, areas: Any, users: Any) -> dict[str, Any]:
    users.create("cmd", "commander", area="5101")
    users.create("epi", "epidemiologist", area="5101")
    users.create("smp", "sampler", area="510104")
    users.create("lab", "lab_staff", area="5101")
    h = {u: login(client, u) for u in ("cmd", "epi", "smp", "lab")}
    r = client.post(
        "/api/v1/policy/activations",
        headers=h["cmd"],
        json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
    )
    assert r.status_code in (200, 201), r.text
    pids = [
        client.post(
            "/api/v1/persons",
            headers=h["epi"],
            json=person_payload(seq=i, lon=104.08, lat=30.66, phone=f"1380013800{i}"),
        ).json()["person"]["id"]
        for i in range(1, 5)
    ]
    site = client.post(
        "/api/v1/nat/sites",
        headers=h["cmd"],
        json={
            "code": "S1",
            "name": "和平采样点",
            "area_code": "510104020001",
            "lon": 104.081,
            "lat": 30.661,
            "capacity_per_hour": 200,
        },
    )
    assert site.status_code == 201, site.text
    lab = client.post(
        "/api/v1/nat/labs", headers=h["cmd"], json={"code": "LAB1", "name": "一号实验室", "area_code": "5101"}
    )
    assert lab.status_code == 201, lab.text
    member = client.post("/api/v1/nat/labs/LAB1/members", headers=h["cmd"], json={"username": "lab"})
    assert member.status_code == 204
    return {"h": h, "pids": pids, "site": site.json()["id"]}


def _plan_round(client: Any) -> tuple[int, str]:
    """As the commander, from the rounds page."""
    web_login(client, "cmd")
    page = client.get("/nat/rounds")
    assert page.status_code == 200 and 'id="round-form"' in page.text and "核酸检测轮次" in page.text
    assert 'href="/nat/rounds"' in page.text  # the nav item
    now = dt.datetime.now(LOCAL)
    token = _csrf(page.text)
    form = {
        "csrf_token": token,
        "name": "锦江区第1轮全员核酸",
        "area_code": "510104",
        "target": "everyone",
        "start_at": now.strftime("%Y-%m-%dT%H:%M"),
        "deadline_at": (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "pool_size": "",
    }
    bad = client.post("/nat/rounds", data=form)
    assert bad.status_code == 422 and 'id="error"' in bad.text and "deadline" in bad.text
    assert "锦江区第1轮全员核酸" in bad.text  # the form keeps what was typed
    form["deadline_at"] = (now + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M")
    created = client.post("/nat/rounds", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    round_url = created.headers["location"]
    round_id = int(round_url.rsplit("/", 1)[1])
    page = client.get(round_url)
    assert page.status_code == 200 and 'id="announcement"' in page.text and "【核酸检测通告】" in page.text
    assert re.search(r'id="figure-expected">4<', page.text)
    listing = client.get("/nat/rounds")
    assert "锦江区第1轮全员核酸" in listing.text and "进行中" in listing.text and "全员" in listing.text
    assert f"{now:%Y-%m-%d %H:%M}" in listing.text  # start shown in local time, as entered
    client.post("/logout", data={"csrf_token": token})
    return round_id, round_url


def test_testing_pages_flow(client: Any, setup: dict[str, Any], users: Any) -> None:
    h, pids = setup["h"], setup["pids"]
    round_id, round_url = _plan_round(client)
    # someone registered after the round was planned: not expected in it
    late = client.post(
        "/api/v1/persons", headers=h["epi"], json=person_payload(seq=7, lon=104.08, lat=30.66)
    ).json()["person"]["id"]

    # ---- the sampler: open a tube, scan swabs
    web_login(client, "smp")
    page = client.get("/nat/sample")
    assert page.status_code == 200 and 'id="site-name">和平采样点<' in page.text  # the only open site
    assert "锦江区第1轮全员核酸" in page.text and 'id="scan-tube"' in page.text
    assert re.search(r'id="scan-tube"[^>]*autofocus', page.text)  # no tube yet: the tube field first
    token = _csrf(page.text)
    site = setup["site"]
    opened = client.post(
        "/nat/sample/tube",
        data={"csrf_token": token, "site_id": site, "barcode": "T-200001", "round_id": str(round_id)},
    )
    assert opened.status_code == 200 and 'id="notice"' in opened.text and "T-200001" in opened.text
    assert re.search(r'id="scan-tube"[^>]*value="T-200001"', opened.text)
    assert re.search(r'id="scan-person"[^>]*autofocus', opened.text)  # ready for the scanner
    for n, pid in enumerate(pids[:3], start=1):
        answer = client.post(
            "/nat/sample/scan",
            data={"csrf_token": token, "site_id": site, "tube": "T-200001", "scan": person_code.make(pid)},
        )
        assert answer.status_code == 200 and 'id="answer"' in answer.text, answer.text
        assert f'id="answer-count">{n}/10<' in answer.text and "张*丰" in answer.text
        assert 'id="warnings"' not in answer.text and "张三丰" not in answer.text
    refused = client.post(
        "/nat/sample/scan",
        data={"csrf_token": token, "site_id": site, "tube": "T-200001", "scan": person_code.make(pids[0])},
    )
    assert refused.status_code == 409 and 'id="error"' in refused.text and "alert-danger" in refused.text
    assert "already in this tube" in refused.text and 'id="answer"' not in refused.text
    assert re.search(r'id="scan-tube"[^>]*value="T-200001"', refused.text)  # keep scanning this tube
    forged = client.post(
        "/nat/sample/scan",
        data={"csrf_token": token, "site_id": site, "tube": "T-200001", "scan": "FK1.abc.def"},
    )
    assert forged.status_code in (404, 422) and 'id="error"' in forged.text
    warned = client.post(
        "/nat/sample/scan",
        data={"csrf_token": token, "site_id": site, "tube": "T-200001", "scan": person_code.make(late)},
    )
    assert warned.status_code == 200 and 'id="warnings"' in warned.text and "alert-warning" in warned.text
    assert "此人不在本轮应检名单内" in warned.text and 'id="answer-count">4/10<' in warned.text
    forged_csrf = client.post(
        "/nat/sample/scan",
        data={"csrf_token": "nope", "site_id": site, "tube": "T-200001", "scan": person_code.make(pids[3])},
    )
    assert forged_csrf.status_code == 403
    tube = client.get("/api/v1/nat/tubes/T-200001", headers=h["smp"]).json()
    assert tube["members"] == 4 and tube["status"] == "open"
    client.post("/logout", data={"csrf_token": token})

    # ---- shipped by the API (the sampling app)
    box = client.post(
        "/api/v1/nat/shipments",
        headers=h["smp"],
        json={"code": "BOX-0001", "site_id": site, "lab_code": "LAB1", "barcodes": ["T-200001"]},
    )
    assert box.status_code == 201, box.text

    # ---- the lab: receive the box, upload the sheet
    web_login(client, "lab")
    page = client.get("/nat/lab")
    assert page.status_code == 200 and "一号实验室" in page.text and "BOX-0001" in page.text
    token = _csrf(page.text)
    received = client.post(
        "/nat/lab/receive", data={"csrf_token": token, "lab": "LAB1", "shipment": "BOX-0001"}
    )
    assert received.status_code == 200 and "已接收，共 1 管" in received.text
    assert "BOX-0001" not in received.text.split('id="waiting"')[1]
    later = (dt.datetime.now(LOCAL) + dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    sheet = f"试管条码,检测结果,N基因Ct值,ORF1ab基因Ct值,检测时间\nT-200001,阳性,28.5,30.1,{later}\n"
    bad = client.post(
        "/nat/lab/results",
        data={"csrf_token": token, "lab": "LAB1"},
        files={"file": ("r.csv", (sheet + "T-NOPE-99,阴性,,," + later + "\n").encode("gb18030"), "text/csv")},
    )
    assert bad.status_code == 422 and 'id="error"' in bad.text
    assert "第2行" in bad.text and "unknown tube barcode" in bad.text and 'id="report"' not in bad.text
    ok = client.post(
        "/nat/lab/results",
        data={"csrf_token": token, "lab": "LAB1"},
        files={"file": ("r.csv", sheet.encode("gb18030"), "text/csv")},
    )
    assert ok.status_code == 200 and 'id="report"' in ok.text, ok.text
    assert re.search(r'id="report-recorded">1<', ok.text) and re.search(r'id="report-positive">1<', ok.text)
    again = client.post(
        "/nat/lab/results",
        data={"csrf_token": token, "lab": "LAB1"},
        files={"file": ("r.csv", sheet.encode("gb18030"), "text/csv")},
    )
    assert re.search(r'id="report-unchanged">1<', again.text)
    client.post("/logout", data={"csrf_token": token})

    # ---- the round's progress
    web_login(client, "cmd")
    page = client.get(round_url)
    assert re.search(r'id="figure-expected">4<', page.text) and re.search(
        r'id="figure-sampled">3<', page.text
    )
    assert re.search(r'id="figure-missing">1<', page.text) and re.search(
        r'id="figure-positive">3<', page.text
    )
    total = page.text.split('id="progress-total"')[1].split("</tr>")[0]
    assert "75.0%" in total and "和平社区" in page.text and 'id="unexpected"' in page.text
    link = re.search(
        r'href="(/api/v1/nat/rounds/\d+/missing\?area_code=510104020001&format=xlsx[^"]*)"', page.text
    )
    assert link is not None
    xlsx = client.get(link.group(1))  # the session cookie is enough for a GET
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    token = _csrf(page.text)
    closed = client.post(f"/nat/rounds/{round_id}/close", data={"csrf_token": token})
    assert closed.status_code == 200 and "已结束" in closed.text and 'id="close-round"' not in closed.text
    client.post("/logout", data={"csrf_token": token})

    # ---- the resident: their own record, a positive pool explained
    users.create("res1", "resident", area=None, person_id=pids[0])
    web_login(client, "res1")
    home = client.get("/")
    assert 'href="/me/nat"' in home.text
    mine = client.get("/me/nat")
    assert mine.status_code == 200 and "我的核酸记录" in mine.text and "和平采样点" in mine.text
    assert "混管阳性：请在原地等待单管复核" in mine.text and 'id="pool-positive"' in mine.text
    assert "张三丰" not in mine.text and "13800138001" not in mine.text
    assert client.get("/nat/rounds").status_code == 403


def test_sites_page_coverage_and_closing(client: Any, setup: dict[str, Any]) -> None:
    web_login(client, "cmd")
    page = client.get("/nat/sites?area_code=510104&suggest=1")
    assert page.status_code == 200 and "和平采样点" in page.text and "固定采样点" in page.text
    assert 'id="coverage"' in page.text and 'id="coverage-share">100.0%<' in page.text
    assert "和平社区" in page.text.split('id="coverage-communities"')[1]
    unknown = client.get("/nat/sites?area_code=999999")
    assert unknown.status_code == 422 and 'id="error"' in unknown.text
    token = _csrf(page.text)
    done = client.post(f"/nat/sites/{setup['site']}/status", data={"csrf_token": token, "status": "closed"})
    assert done.status_code == 200 and "nat.site_status" not in done.text
    row = done.text.split('id="sites"')[1].split("</tr>")[1]
    assert "关闭" in row and 'value="open"' in row
    assert (
        client.post(
            f"/nat/sites/{setup['site']}/status", data={"csrf_token": "x", "status": "open"}
        ).status_code
        == 403
    )
    client.post("/logout", data={"csrf_token": token})
    # the sampler sees no open site; a lab account cannot open the sampler page
    web_login(client, "smp")
    sample = client.get("/nat/sample")
    assert 'id="no-sites"' in sample.text and 'id="scan-form"' not in sample.text
    assert 'id="coverage-form"' not in client.get("/nat/sites").text  # no nat.manage
    client.post("/logout", data={"csrf_token": _csrf(sample.text)})
    web_login(client, "lab")
    assert client.get("/nat/sample").status_code == 403


def test_pages_in_english(client: Any, setup: dict[str, Any]) -> None:
    web_login(client, "cmd")
    client.get("/lang?to=en&next=/")
    page = client.get("/nat/rounds")
    assert "Testing rounds" in page.text and "Plan a round" in page.text and ">Testing<" in page.text
    sites = client.get("/nat/sites")
    assert "Sampling sites" in sites.text and "Fixed" in sites.text
