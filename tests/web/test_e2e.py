"""End to end in a real browser: Debian's chromium driven by Playwright against a real
server. Log in, search a person, see the masked ID number, switch to English."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tests.conftest import PASSWORD, login, person_payload

CHROMIUM = os.environ.get("FANGKONG_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Debian's chromium is required for the browser tests ({CHROMIUM}); "
            "install it with `apt-get install chromium` (the test command does this)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_login_search_and_masked_id(
    live_server: str, browser: Any, client: Any, areas: Any, users: Any, tmp_path: Any
) -> None:
    from fangkong.web import assets

    assert not assets.missing(), "front-end libraries missing: run `fangkong assets install`"
    users.create("cw", "community_worker", area="510104")
    headers = login(client, "cw")
    created = client.post("/api/v1/persons", json=person_payload(name="李小龙"), headers=headers).json()
    full_id = client.post(
        f"/api/v1/persons/{created['person']['id']}/unmask", json={"reason": "测试准备数据"}, headers=headers
    ).json()["id_number"]

    page = browser.new_page()
    page.goto(f"{live_server}/persons")
    assert "/login" in page.url
    page.fill("#username", "cw")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{live_server}/persons")
    page.fill("#q", "李")
    page.click("#search-submit")
    page.wait_for_selector("#person-table td.person-id")
    shown = page.inner_text("#person-table td.person-id").strip()
    assert shown == full_id[:4] + "*" * 10 + full_id[-4:]
    assert full_id not in page.content()
    assert page.inner_text("#person-table tbody tr td:nth-child(2)").strip() == "李*龙"
    # Bootstrap came from our own server (installed from npm), not a CDN.
    color = page.evaluate("getComputedStyle(document.querySelector('nav')).backgroundColor")
    assert color == "rgb(220, 53, 69)"  # .bg-danger
    page.click("#lang-switch")
    page.wait_for_selector("text=Persons")
    page.screenshot(path=str(tmp_path / "persons.png"), full_page=True)


def test_sampler_scans_swabs_with_the_keyboard(
    live_server: str, browser: Any, client: Any, areas: Any, users: Any
) -> None:
    """A sampler at their site opens a tube and scans codes the way a barcode scanner types:
    the text and Enter, twice; the second person is refused the same tube."""
    from fangkong.person import code as person_code

    users.create("cmd", "commander", area="5101")
    users.create("smp", "sampler", area="510104")
    users.create("epi", "epidemiologist", area="5101")
    h = {u: login(client, u) for u in ("cmd", "smp", "epi")}
    client.post(
        "/api/v1/policy/activations",
        headers=h["cmd"],
        json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
    )
    pids = [
        client.post("/api/v1/persons", headers=h["epi"], json=person_payload(seq=i)).json()["person"]["id"]
        for i in (1, 2)
    ]
    site = client.post(
        "/api/v1/nat/sites",
        headers=h["cmd"],
        json={"code": "S1", "name": "和平采样点", "area_code": "510104020001"},
    ).json()["id"]
    page = browser.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#username", "smp")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.goto(f"{live_server}/nat/sample?site_id={site}")
    assert page.inner_text("#site-name") == "和平采样点"
    page.fill("#tube-barcode", "T-E2E-0001")
    page.click("#tube-open")
    page.wait_for_selector("#scan-person")
    assert page.input_value("#scan-tube") == "T-E2E-0001"
    # the cursor is in the scan field: type like a scanner (the code, then Enter)
    assert page.evaluate("document.activeElement.id") == "scan-person"
    page.keyboard.type(person_code.make(pids[0]))
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer-count")
    assert page.inner_text("#answer-count") == "1/10"
    assert page.evaluate("document.activeElement.id") == "scan-person"
    page.keyboard.type(person_code.make(pids[1]))
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer-count")
    assert page.inner_text("#answer-count") == "2/10"
    page.keyboard.type(person_code.make(pids[1]))  # the same person again: refused
    page.keyboard.press("Enter")
    page.wait_for_selector("#error")
    assert "T-E2E-0001" in page.inner_text("#error")
    tubes = client.get("/api/v1/nat/tubes/T-E2E-0001", headers=h["cmd"]).json()
    assert tubes["members"] == 2 and tubes["status"] == "open"
