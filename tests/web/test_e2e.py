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
