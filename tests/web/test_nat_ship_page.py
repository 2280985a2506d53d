"""The sampler boxes tubes for a lab on the sampling page (装箱送检): the site's closed tubes and
open ones with swabs are listed, all ticked; a box of ticked or scanned tubes ships to the lab
chosen; a refused box names each barcode and nothing ships; the lab then receives the box."""

from __future__ import annotations

import re
from typing import Any

from fangkong.person import code as person_code
from tests.web.test_nat_pages import setup
from tests.web.test_pages import _csrf, web_login

__all__ = ["setup"]  # the fixture, shared with test_nat_pages.py


def _swab(client: Any, h: dict[str, str], *, tube: str, site: int, pids: list[int]) -> None:
    """The sampler's app (API): open a tube, scan each person's code into it."""
    resp = client.post("/api/v1/nat/tubes", headers=h, json={"barcode": tube, "site_id": site})
    assert resp.status_code == 201, resp.text
    for pid in pids:
        resp = client.post(
            "/api/v1/nat/samples",
            headers=h,
            json={"tube": tube, "scan": person_code.make(pid), "site_id": site},
        )
        assert resp.status_code == 201, resp.text


def _tube(client: Any, h: dict[str, str], barcode: str) -> dict[str, Any]:
    resp = client.get(f"/api/v1/nat/tubes/{barcode}", headers=h)
    assert resp.status_code == 200, resp.text
    tube: dict[str, Any] = resp.json()
    return tube


def _listed(html: str) -> list[str]:
    """The barcodes offered for the box, and whether each is ticked."""
    table = html.split('id="ship-tubes"')[1].split("</table>")[0]
    return [
        b + (" ✓" if checked else "")
        for b, checked in re.findall(r'name="barcodes" value="([^"]+)"[^>]*?( checked)?>', table)
    ]


def test_sampler_boxes_tubes_for_the_lab(client: Any, setup: dict[str, Any]) -> None:
    h, pids, site = setup["h"], setup["pids"], setup["site"]
    other = client.post(
        "/api/v1/nat/sites",
        headers=h["cmd"],
        json={"code": "S2", "name": "东风采样点", "area_code": "510104020001", "lon": 104.09, "lat": 30.67},
    )
    assert other.status_code == 201, other.text
    _swab(client, h["smp"], tube="T-300001", site=site, pids=pids[:2])
    assert client.post("/api/v1/nat/tubes/T-300001/close", headers=h["smp"]).status_code == 200
    _swab(client, h["smp"], tube="T-300002", site=site, pids=pids[2:3])  # open, one swab
    _swab(client, h["smp"], tube="T-300003", site=site, pids=[])  # open, empty: not offered
    _swab(client, h["smp"], tube="T-OTHER-1", site=other.json()["id"], pids=pids[3:4])

    web_login(client, "smp")
    page = client.get(f"/nat/sample?site_id={site}")
    assert page.status_code == 200 and 'id="ship-form"' in page.text and "装箱送检" in page.text
    assert _listed(page.text) == ["T-300001 ✓", "T-300002 ✓"]
    section = page.text.split('id="ship-tubes"')[1]
    assert "已封管" in section and "采样中" in section
    assert re.search(r'<option value="LAB1"[^>]*>LAB1 · 一号实验室</option>', page.text)
    token = _csrf(page.text)

    # scanned tubes, two of them wrong: refused, each named by its barcode, nothing ships
    form = {"csrf_token": token, "site_id": site, "code": "BOX-3001", "lab": "LAB1", "carrier": "顺丰"}
    scanned = "T-300001\r\nT-OTHER-1\r\nT-NOPE-01\r\n"
    refused = client.post("/nat/sample/ship", data=form | {"barcodes": ["T-300001"], "scanned": scanned})
    assert refused.status_code == 422 and 'id="error"' in refused.text and "2 problem(s)" in refused.text
    details = refused.text.split('id="error-details"')[1].split("</ul>")[0]
    assert "T-OTHER-1: tube of another site" in details and "T-NOPE-01: unknown tube barcode" in details
    assert "T-300001" not in details and "barcodes[" not in details
    assert 'id="notice"' not in refused.text
    assert re.search(r'id="ship-code"[^>]*value="BOX-3001"', refused.text)  # the form as it was sent
    assert "T-OTHER-1\r\nT-NOPE-01" in refused.text.split('id="ship-scanned"')[1].split("</textarea>")[0]
    assert _listed(refused.text) == ["T-300001 ✓", "T-300002"]
    assert _tube(client, h["smp"], "T-300001")["status"] == "closed"
    assert _tube(client, h["smp"], "T-300002")["status"] == "open"

    # the ticked tubes: shipped, the open one closed on the way
    shipped = client.post("/nat/sample/ship", data=form | {"barcodes": ["T-300001", "T-300002"]})
    assert shipped.status_code == 200 and 'id="error"' not in shipped.text, shipped.text
    notice = shipped.text.split('id="notice"')[1].split("</div>")[0]
    assert "转运箱 BOX-3001 已送往一号实验室，共 2 管" in notice
    assert _listed(shipped.text) == [] and re.search(r'id="ship-code"[^>]*value=""', shipped.text)
    for barcode in ("T-300001", "T-300002"):
        tube = _tube(client, h["smp"], barcode)
        assert tube["status"] == "shipped" and tube["shipped_at"] and tube["closed_at"], tube
    assert _tube(client, h["smp"], "T-300003")["status"] == "open"

    # the same box code again; a tube shipped already
    again = client.post("/nat/sample/ship", data=form | {"scanned": "T-300001"})
    assert again.status_code == 409 and "shipment code already used" in again.text
    twice = client.post("/nat/sample/ship", data=form | {"code": "BOX-3002", "scanned": "T-300001"})
    assert twice.status_code == 422 and "T-300001: tube already shipped" in twice.text

    # a scanner that beeped twice: one tube
    _swab(client, h["smp"], tube="T-300004", site=site, pids=pids[:1])
    twice_scanned = client.post(
        "/nat/sample/ship", data=form | {"code": "BOX-3002", "carrier": "", "scanned": "T-300004\nT-300004\n"}
    )
    assert (
        twice_scanned.status_code == 200 and "转运箱 BOX-3002 已送往一号实验室，共 1 管" in twice_scanned.text
    )
    assert _tube(client, h["smp"], "T-300004")["status"] == "shipped"

    # the form's address opened again (the language switch): back to the page; a forged token
    back = client.get("/nat/sample/ship", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/nat/sample"
    forged = client.post("/nat/sample/ship", data=form | {"csrf_token": "nope", "code": "BOX-3003"})
    assert forged.status_code == 403
    client.get("/lang?to=en&next=/nat/sample")
    english = client.get(f"/nat/sample?site_id={site}")
    assert "Box and ship to a lab" in english.text and "Ship the box" in english.text
    client.get("/lang?to=zh-CN&next=/")
    client.post("/logout", data={"csrf_token": token})

    # a lab account cannot box tubes; the lab receives the box
    _swab(client, h["smp"], tube="T-300005", site=site, pids=pids[:1])
    web_login(client, "lab")
    lab_page = client.get("/nat/lab")
    token = _csrf(lab_page.text)
    waiting = lab_page.text.split('id="waiting"')[1]
    assert "BOX-3001" in waiting and "顺丰" in waiting and "BOX-3002" in waiting
    denied = client.post(
        "/nat/sample/ship", data=form | {"csrf_token": token, "code": "BOX-3009", "scanned": "T-300005"}
    )
    assert denied.status_code == 403 and _tube(client, h["smp"], "T-300005")["status"] == "open"
    received = client.post(
        "/nat/lab/receive", data={"csrf_token": token, "lab": "LAB1", "shipment": "BOX-3001"}
    )
    assert received.status_code == 200 and "转运箱 BOX-3001 已接收，共 2 管" in received.text
    assert _tube(client, h["lab"], "T-300002")["status"] == "received"
