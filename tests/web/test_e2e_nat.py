"""Testing (核酸) journeys in a real browser: Debian's chromium driven by Playwright against a
real server (the fixtures of test_e2e.py). The testing lead plans a round on the page, watches
the progress per community and downloads the not-yet-sampled list; a sampler fills a tube,
closes it and boxes it for the lab (a box with an unknown tube refused, that barcode named),
which receives it; the lab receives a box and uploads a result sheet (a bad one refused with its
row named, nothing kept); a site manager closes and reopens a site and sees the 15-minute
coverage follow; residents see their own records and nobody else's; the pages switch to
English."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook

from fangkong.person import code as person_code
from tests.conftest import PASSWORD, login, person_payload
from tests.web.test_e2e import browser, live_server

__all__ = ["browser", "live_server"]  # the fixtures, shared with test_e2e.py

LOCAL = ZoneInfo("Asia/Shanghai")
SHEET_HEADER = ["试管条码", "检测结果", "N基因Ct值", "ORF1ab基因Ct值", "检测时间"]
# persons: (seq, grid or community, phone, position); 和平社区 near the site, 东风社区 far away
PEOPLE = [
    (1, "510104020001001", "13800138001", (104.0800, 30.6600)),
    (2, "510104020001001", "13800138002", (104.0801, 30.6601)),
    (3, "510104020001002", "13800138003", (104.0802, 30.6602)),
    (4, "510104020001002", "13800138004", (104.0803, 30.6603)),
    (5, "510104020002", "13900139005", (104.1500, 30.7000)),
    (6, "510104020002", "13900139006", (104.1501, 30.7001)),
]


@pytest.fixture
def world(client: Any, areas: Any, users: Any) -> dict[str, Any]:
    """The profile in force, six residents of 锦江区 in two communities, two sampling sites (one
    near 和平社区, one in 东风社区), a lab with its staff; the testing lead works for 锦江区."""
    users.create("hq", "commander", area="5101")
    users.create("lead", "commander", area="510104")
    users.create("epi", "epidemiologist", area="5101")
    users.create("smp", "sampler", area="510104")
    users.create("lab", "lab_staff", area="5101")
    h = {u: login(client, u) for u in ("hq", "lead", "epi", "smp", "lab")}
    r = client.post(
        "/api/v1/policy/activations",
        headers=h["hq"],
        json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
    )
    assert r.status_code in (200, 201), r.text
    pids = []
    for seq, area, phone, (lon, lat) in PEOPLE:
        resp = client.post(
            "/api/v1/persons",
            headers=h["epi"],
            json=person_payload(seq=seq, area_code=area, phone=phone, lon=lon, lat=lat),
        )
        assert resp.status_code == 201, resp.text
        pids.append(resp.json()["person"]["id"])
    sites = {}
    for code, name, area, (lon, lat) in (
        ("S1", "和平采样点", "510104020001", (104.0805, 30.6605)),
        ("S2", "东风采样点", "510104020002", (104.1502, 30.7002)),
    ):
        resp = client.post(
            "/api/v1/nat/sites",
            headers=h["lead"],
            json={
                "code": code,
                "name": name,
                "area_code": area,
                "lon": lon,
                "lat": lat,
                "capacity_per_hour": 200,
            },
        )
        assert resp.status_code == 201, resp.text
        sites[code] = resp.json()["id"]
    lab = client.post(
        "/api/v1/nat/labs", headers=h["hq"], json={"code": "LAB1", "name": "一号实验室", "area_code": "5101"}
    )
    assert lab.status_code == 201, lab.text
    member = client.post("/api/v1/nat/labs/LAB1/members", headers=h["hq"], json={"username": "lab"})
    assert member.status_code == 204, member.text
    return {"h": h, "pids": pids, "sites": sites}


# ---------------------------------------------------------------- helpers


def _login(page: Any, server: str, username: str) -> None:
    """Through the login page, as a person would."""
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{server}/")


def _swab(client: Any, h: dict[str, str], *, tube: str, site: int, pids: list[int], **opts: Any) -> None:
    """The sampler's app (API): open a tube, scan each person's code into it."""
    resp = client.post("/api/v1/nat/tubes", headers=h, json={"barcode": tube, "site_id": site, **opts})
    assert resp.status_code == 201, resp.text
    for pid in pids:
        resp = client.post(
            "/api/v1/nat/samples",
            headers=h,
            json={"tube": tube, "scan": person_code.make(pid), "site_id": site},
        )
        assert resp.status_code == 201, resp.text


def _ship(client: Any, h: dict[str, str], *, box: str, site: int, tubes: list[str]) -> None:
    resp = client.post(
        "/api/v1/nat/shipments",
        headers=h,
        json={"code": box, "site_id": site, "lab_code": "LAB1", "barcodes": tubes},
    )
    assert resp.status_code == 201, resp.text


def _tube(client: Any, h: dict[str, str], barcode: str) -> dict[str, Any]:
    resp = client.get(f"/api/v1/nat/tubes/{barcode}", headers=h)
    assert resp.status_code == 200, resp.text
    tube: dict[str, Any] = resp.json()
    return tube


def _site_status(client: Any, h: dict[str, str], code: str) -> str:
    listed = client.get("/api/v1/nat/sites", headers=h)
    assert listed.status_code == 200, listed.text
    status: str = next(s["status"] for s in listed.json() if s["code"] == code)
    return status


def _submit(page: Any, selector: str) -> None:
    """Click what sends a form (or follows a link) and wait for the page it answers with."""
    with page.expect_navigation():
        page.click(selector)


def _cells(page: Any, row_selector: str) -> list[str]:
    return [c.strip() for c in page.locator(f"{row_selector} td").all_inner_texts()]


def _community_row(page: Any, name: str) -> list[str]:
    return _cells(page, f"#progress tbody tr:has-text('{name}')")


def _local(minutes: int = 0) -> str:
    return (dt.datetime.now(LOCAL) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def _tested_at() -> dt.datetime:
    """A minute from now, local time (the sheet's times are to the minute; the tubes were
    shipped this minute)."""
    return (dt.datetime.now(LOCAL) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0, tzinfo=None)


# ---------------------------------------------------------------- the testing lead


def test_testing_lead_plans_a_round_and_downloads_the_missing_list(
    live_server: str, browser: Any, client: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    h, pids, sites = world["h"], world["pids"], world["sites"]
    page = browser.new_page(accept_downloads=True)
    _login(page, live_server, "lead")
    page.click("nav >> text=核酸检测")
    page.wait_for_url(f"{live_server}/nat/rounds")
    assert page.inner_text("h1") == "核酸检测轮次"
    assert page.input_value("#round-area") == "510104"  # the lead's own district

    # a deadline before the start: refused on the page, what was typed is kept
    page.fill("#round-name", "锦江区第1轮全员核酸")
    page.fill("#round-start", _local())
    page.fill("#round-deadline", _local(-60))
    _submit(page, "#round-create")
    page.wait_for_selector("#error")
    assert "deadline" in page.inner_text("#error")
    assert page.input_value("#round-name") == "锦江区第1轮全员核酸"
    assert "锦江区第1轮全员核酸" not in page.inner_text("#rounds")  # nothing was planned
    page.fill("#round-deadline", _local(12 * 60))
    _submit(page, "#round-create")
    page.wait_for_url(f"{live_server}/nat/rounds/*")
    round_id = int(page.url.rsplit("/", 1)[1])
    assert "锦江区第1轮全员核酸" in page.inner_text("#round-name")
    assert "进行中" in page.inner_text("#round-name")
    assert "【核酸检测通告】" in page.inner_text("#announcement")
    assert page.inner_text("#figure-expected") == "6"
    assert page.inner_text("#figure-sampled") == "0"

    # the samplers at work (their app): three of 和平社区 in one pooled tube
    _swab(client, h["smp"], tube="T-R1-0001", site=sites["S1"], pids=pids[:3], round_id=round_id)
    page.reload()
    assert page.inner_text("#figure-sampled") == "3"
    assert page.inner_text("#figure-missing") == "3"
    heping = _community_row(page, "和平社区")
    assert heping[1:5] == ["4", "3", "1", "75.0%"], heping
    dongfeng = _community_row(page, "东风社区")
    assert dongfeng[1:5] == ["2", "0", "2", "0.0%"], dongfeng
    assert _cells(page, "#progress-total")[1:5] == ["6", "3", "3", "50.0%"]

    # the missing list of 东风社区: an xlsx download, phones and names masked
    with page.expect_download() as info:
        page.click("#progress tbody tr:has-text('东风社区') a.missing-link")
    download = info.value
    assert download.suggested_filename == f"missing-round-{round_id}.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(load_workbook(saved, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 3, rows  # the header and the two not yet sampled
    assert sorted(r[2] for r in rows[1:]) == ["139****9005", "139****9006"]
    assert all(r[4] == "510104020002" for r in rows[1:])
    text = repr(rows)
    assert "13900139005" not in text and "张三丰" not in text and "张*丰" in text
    # and the whole district's list: the one missing of 和平社区 too
    with page.expect_download() as info:
        page.click("#missing-all")
    saved_all = tmp_path / "all.xlsx"
    info.value.save_as(saved_all)
    rows = list(load_workbook(saved_all, read_only=True).active.iter_rows(values_only=True))
    assert sorted(r[2] for r in rows[1:]) == ["138****8004", "139****9005", "139****9006"]

    # the list of rounds shows it, open
    page.click("text=核酸检测轮次")
    page.wait_for_url(f"{live_server}/nat/rounds")
    row = page.locator("#rounds tbody tr:has-text('锦江区第1轮全员核酸')")
    assert "进行中" in row.inner_text() and "全员" in row.inner_text()

    # in English, the same round
    page.click("#rounds a:has-text('锦江区第1轮全员核酸')")
    page.wait_for_url(f"{live_server}/nat/rounds/{round_id}")
    _submit(page, "#lang-switch")
    page.wait_for_selector("text=Progress")
    assert page.url == f"{live_server}/nat/rounds/{round_id}"
    assert "Open" in page.inner_text("#round-name")
    assert "Expected" in page.inner_text("#progress thead")
    assert "Announcement" in page.inner_text("#announcement")
    assert "【核酸检测通告】" not in page.inner_text("#announcement")
    assert _community_row(page, "和平社区")[1:5] == ["4", "3", "1", "75.0%"]

    # closing the round
    _submit(page, "#close-round button")
    page.wait_for_selector("#round-name .badge")
    assert page.inner_text("#round-name .badge") == "Closed"
    assert page.locator("#close-round").count() == 0
    assert client.get(f"/api/v1/nat/rounds/{round_id}", headers=h["lead"]).json()["status"] == "closed"


# ---------------------------------------------------------------- the sampler


def test_sampler_fills_a_tube_closes_it_and_ships_it_to_the_lab_in_english(
    live_server: str, browser: Any, client: Any, world: dict[str, Any]
) -> None:
    h, pids = world["h"], world["pids"]
    page = browser.new_page()
    _login(page, live_server, "smp")
    page.click("nav >> text=采样登记")
    page.wait_for_url(f"{live_server}/nat/sample")
    assert page.locator("#scan-form").count() == 0  # two open sites: which one?
    page.select_option("#site-form select", label="S1 · 和平采样点")
    _submit(page, "#site-form button")
    page.wait_for_selector("#site-name")
    assert page.inner_text("#site-name") == "和平采样点"
    page.fill("#tube-barcode", "T-HAND-01")
    _submit(page, "#tube-open")
    page.wait_for_selector("#notice")
    assert "T-HAND-01" in page.inner_text("#notice")
    for n, pid in enumerate(pids[:2], start=1):
        page.fill("#scan-person", person_code.make(pid))
        with page.expect_navigation():
            page.press("#scan-person", "Enter")
        page.wait_for_selector(f"#answer-count:has-text('{n}/10')")
        assert "张*丰" in page.inner_text("#answer")

    # the page answered a form post; the language switch brings the sampling page back
    _submit(page, "#lang-switch")
    page.wait_for_selector("h1:has-text('Sampling')")
    assert page.url == f"{live_server}/nat/sample"
    page.select_option("#site-form select", label="S1 · 和平采样点")
    _submit(page, "#site-form button:has-text('Use this site')")
    page.wait_for_selector("#open-tubes tbody tr:has-text('T-HAND-01')")
    tube_row = "#open-tubes tbody tr:has-text('T-HAND-01')"
    assert "2/10" in page.inner_text(tube_row)
    _submit(page, f"{tube_row} button:has-text('Close')")
    page.wait_for_selector("#notice")
    assert page.inner_text("#notice") == "Tube T-HAND-01 closed (2 swabs)"
    assert page.locator(tube_row).count() == 0
    tube = _tube(client, h["smp"], "T-HAND-01")
    assert tube["status"] == "closed" and tube["members"] == 2

    # into a transport box for the lab: the closed tube is offered, ticked
    ship_row = "#ship-tubes tbody tr:has-text('T-HAND-01')"
    assert "Closed" in page.inner_text(ship_row) and "2/10" in page.inner_text(ship_row)
    assert page.is_checked(f"{ship_row} input[type=checkbox]")
    page.fill("#ship-code", "BOX-HAND-01")
    page.select_option("#ship-lab", "LAB1")
    page.fill("#ship-carrier", "顺丰")
    # a scanned box with a tube the system does not know: refused, the barcode named, nothing ships
    page.fill("#ship-scanned", "T-HAND-01\nT-NOPE-01\n")
    _submit(page, "#ship-submit")
    page.wait_for_selector("#error")
    assert "T-NOPE-01: unknown tube barcode" in page.inner_text("#error-details")
    assert "T-HAND-01" not in page.inner_text("#error-details")
    assert page.input_value("#ship-code") == "BOX-HAND-01"  # the form as it was sent
    assert _tube(client, h["smp"], "T-HAND-01")["status"] == "closed"
    # the ticked tube, nothing scanned: shipped
    page.fill("#ship-scanned", "")
    _submit(page, "#ship-submit")
    page.wait_for_selector("#notice")
    assert page.inner_text("#notice") == "Box BOX-HAND-01 shipped to 一号实验室: 1 tube(s)"
    assert page.locator("#error").count() == 0 and page.locator(ship_row).count() == 0
    tube = _tube(client, h["smp"], "T-HAND-01")
    assert tube["status"] == "shipped" and tube["shipped_at"] is not None

    # the lab receives the box on its page
    lab = browser.new_page()
    _login(lab, live_server, "lab")
    lab.goto(f"{live_server}/nat/lab")
    waiting = "#waiting tbody tr:has-text('BOX-HAND-01')"
    assert "顺丰" in lab.inner_text(waiting)
    lab.fill("#receive-form input[name=shipment]", "BOX-HAND-01")
    _submit(lab, "#receive-submit")
    lab.wait_for_selector("#notice")
    assert "转运箱 BOX-HAND-01 已接收，共 1 管" in lab.inner_text("#notice")
    assert lab.locator(waiting).count() == 0
    assert _tube(client, h["lab"], "T-HAND-01")["status"] == "received"


# ---------------------------------------------------------------- the lab


def _xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(SHEET_HEADER)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _csv(path: Path, rows: list[list[Any]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SHEET_HEADER)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("gb18030"))
    return path


def test_lab_receives_a_box_and_uploads_results(
    live_server: str, browser: Any, client: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    h, pids, sites = world["h"], world["pids"], world["sites"]
    _swab(client, h["smp"], tube="T-POOL-01", site=sites["S1"], pids=pids[:3], capacity=10)
    _swab(client, h["smp"], tube="T-ONE-01", site=sites["S1"], pids=pids[3:4], capacity=1)
    _ship(client, h["smp"], box="BOX-0001", site=sites["S1"], tubes=["T-POOL-01", "T-ONE-01"])

    page = browser.new_page()
    _login(page, live_server, "lab")
    page.click("nav >> text=检测机构")
    page.wait_for_url(f"{live_server}/nat/lab")
    assert page.inner_text("#lab-name") == "一号实验室"
    assert "BOX-0001" in page.inner_text("#waiting")

    page.fill("#receive-form input[name=shipment]", "BOX-0001")
    _submit(page, "#receive-submit")
    page.wait_for_selector("#notice")
    assert "转运箱 BOX-0001 已接收，共 2 管" in page.inner_text("#notice")
    assert "BOX-0001" not in page.inner_text("#waiting")
    assert _tube(client, h["lab"], "T-POOL-01")["status"] == "received"

    # a sheet with a tube the system does not know (row 2): refused whole, the row named
    bad = _csv(
        tmp_path / "bad.csv",
        [
            ["T-POOL-01", "阳性", "28.5", "30.1", f"{_tested_at():%Y-%m-%d %H:%M}"],
            ["T-NOPE-99", "阴性", "", "", f"{_tested_at():%Y-%m-%d %H:%M}"],
        ],
    )
    page.set_input_files("#results-form input[type=file]", str(bad))
    _submit(page, "#results-submit")
    page.wait_for_selector("#error")
    error = page.inner_text("#error")
    assert "1 problem(s)" in error and "第1行" not in error
    assert "第2行" in error and "T-NOPE-99" in error and "unknown tube barcode" in error
    assert page.locator("#report").count() == 0
    for barcode in ("T-POOL-01", "T-ONE-01"):
        tube = _tube(client, h["lab"], barcode)
        assert tube["status"] == "received" and tube["result"] is None, tube

    # the good sheet, as .xlsx: the pooled tube positive, the single one negative
    good = _xlsx(
        tmp_path / "results.xlsx",
        [["T-POOL-01", "阳性", 28.5, 30.1, _tested_at()], ["T-ONE-01", "阴性", None, None, _tested_at()]],
    )
    page.set_input_files("#results-form input[type=file]", str(good))
    _submit(page, "#results-submit")
    page.wait_for_selector("#report")
    assert page.locator("#error").count() == 0
    assert "共 2 行" in page.inner_text("#report")
    assert page.inner_text("#report-recorded") == "2"
    assert page.inner_text("#report-positive") == "1"
    assert "T-POOL-01" in page.inner_text("#report-positive-tubes")
    assert "T-ONE-01" not in page.inner_text("#report-positive-tubes")
    assert page.inner_text("#report-unchanged") == "0"
    assert "alert-danger" in (page.get_attribute("#report", "class") or "")
    assert _tube(client, h["lab"], "T-POOL-01")["result"] == "positive"
    assert _tube(client, h["lab"], "T-ONE-01")["result"] == "negative"

    # the same upload again changes nothing
    page.set_input_files("#results-form input[type=file]", str(good))
    _submit(page, "#results-submit")
    page.wait_for_selector("#report-unchanged")
    assert page.inner_text("#report-unchanged") == "2"
    assert page.inner_text("#report-recorded") == "0"

    # in English: the page answered a form post; the switch brings the lab page back
    _submit(page, "#lang-switch")
    page.wait_for_selector("text=Upload results")
    assert page.url == f"{live_server}/nat/lab"
    assert page.inner_text("#lab-name") == "一号实验室"
    assert "Shipments on their way" in page.inner_text("main")


# ---------------------------------------------------------------- sites and coverage


def test_site_manager_closes_and_reopens_a_site_and_sees_coverage(
    live_server: str, browser: Any, client: Any, world: dict[str, Any]
) -> None:
    h, sites = world["h"], world["sites"]
    page = browser.new_page()
    _login(page, live_server, "lead")
    page.goto(f"{live_server}/nat/rounds")
    page.click("main >> text=采样点")
    page.wait_for_url(f"{live_server}/nat/sites")
    assert page.input_value("#cov-area") == "510104"
    page.fill("#cov-radius", "1500")
    _submit(page, "#coverage-form button")
    page.wait_for_selector("#coverage")
    assert page.inner_text("#coverage-share") == "100.0%"
    assert "（6/6）" in page.inner_text("#coverage") and "开放采样点2个" in page.inner_text("#coverage")

    # 东风采样点 closes: 东风社区 has no open site within its walk any more
    row = "#sites tbody tr:has-text('东风采样点')"
    _submit(page, f"{row} button:has-text('关闭')")
    page.wait_for_selector(f"{row} button:has-text('开放')")
    assert "关闭" in page.inner_text(f"{row} .badge")
    assert _site_status(client, h["lead"], "S2") == "closed"
    # the coverage that was shown comes back, recomputed
    assert page.input_value("#cov-radius") == "1500"
    assert page.inner_text("#coverage-share") == "66.7%"
    assert "（4/6）" in page.inner_text("#coverage") and "开放采样点1个" in page.inner_text("#coverage")
    assert _cells(page, "#coverage-communities tr:has-text('东风社区')") == ["东风社区", "2", "0", "0.0%"]
    assert _cells(page, "#coverage-communities tr:has-text('和平社区')") == ["和平社区", "4", "4", "100.0%"]
    # a suggested new site covers them again
    assert _cells(page, "#coverage-suggestions tbody tr")[2:] == ["2", "100.0%"]

    # the sampler no longer has that site to choose
    sampler = browser.new_page()
    _login(sampler, live_server, "smp")
    sampler.goto(f"{live_server}/nat/sample")
    assert sampler.inner_text("#site-name") == "和平采样点"  # the only open site
    assert "东风采样点" not in sampler.inner_text("#site-form")
    sampler.goto(f"{live_server}/nat/sample?site_id={sites['S2']}")
    assert "该采样点不可用" in sampler.inner_text("main")
    assert sampler.locator("#scan-form").count() == 0

    # opened again: coverage back to all
    _submit(page, f"{row} button:has-text('开放')")
    page.wait_for_selector(f"{row} button:has-text('关闭')")
    assert page.inner_text("#coverage-share") == "100.0%"
    assert _site_status(client, h["lead"], "S2") == "open"
    sampler.reload()
    assert "东风采样点" in sampler.inner_text("#site-form")


# ---------------------------------------------------------------- residents


def test_residents_see_their_own_records_only(
    live_server: str, browser: Any, client: Any, users: Any, world: dict[str, Any]
) -> None:
    h, pids, sites = world["h"], world["pids"], world["sites"]
    # 1-3 pooled at 和平采样点 (positive); 5 alone at 东风采样点 (negative); 1 swabbed again, waiting
    _swab(client, h["smp"], tube="T-POOL-01", site=sites["S1"], pids=pids[:3], capacity=10)
    _swab(client, h["smp"], tube="T-ONE-05", site=sites["S2"], pids=pids[4:5], capacity=1)
    _ship(client, h["smp"], box="BOX-S1", site=sites["S1"], tubes=["T-POOL-01"])
    _ship(client, h["smp"], box="BOX-S2", site=sites["S2"], tubes=["T-ONE-05"])
    tested = _tested_at().isoformat()
    reported = client.post(
        "/api/v1/nat/labs/LAB1/results",
        headers=h["lab"],
        json={
            "results": [
                {"barcode": "T-POOL-01", "result": "阳性", "ct_n": 28.5, "ct_orf": 30.1, "tested_at": tested},
                {"barcode": "T-ONE-05", "result": "阴性", "tested_at": tested},
            ]
        },
    )
    assert reported.status_code == 200, reported.text
    _swab(client, h["smp"], tube="T-WAIT-01", site=sites["S1"], pids=pids[:1], capacity=10)
    users.create("res1", "resident", area=None, person_id=pids[0])
    users.create("res5", "resident", area=None, person_id=pids[4])

    page = browser.new_page()
    _login(page, live_server, "res1")
    page.click("nav >> text=我的核酸记录")
    page.wait_for_url(f"{live_server}/me/nat")
    assert page.inner_text("h1") == "我的核酸记录"
    rows = page.locator("#my-records tbody tr")
    assert rows.count() == 2
    newest = _cells(page, "#my-records tbody tr:nth-child(1)")
    pooled = _cells(page, "#my-records tbody tr:nth-child(2)")
    assert newest[1:3] == ["和平采样点", "混管"] and newest[4] == "检测中，结果未出", newest
    assert pooled[1:3] == ["和平采样点", "混管"] and "混管阳性" in pooled[4], pooled
    assert "混管阳性：请在原地等待单管复核" in page.inner_text("#pool-positive")
    body = page.inner_text("body")
    assert "东风采样点" not in body  # the other resident's record
    assert "张三丰" not in body and "13800138001" not in body
    # staff pages are not for residents
    page.goto(f"{live_server}/nat/rounds")
    assert "403" in page.inner_text("main")
    # in English
    page.goto(f"{live_server}/me/nat")
    _submit(page, "#lang-switch")
    page.wait_for_selector("h1:has-text('My test records')")
    assert "Pooled tube positive" in page.inner_text("#pool-positive")
    assert "Testing, no result yet" in page.inner_text("#my-records")

    other = browser.new_page()
    _login(other, live_server, "res5")
    other.goto(f"{live_server}/me/nat")
    assert other.locator("#my-records tbody tr").count() == 1
    only = _cells(other, "#my-records tbody tr")
    assert only[1:3] == ["东风采样点", "单管"] and only[4] == "阴性", only
    assert other.locator("#pool-positive").count() == 0
    assert "和平采样点" not in other.inner_text("body")
