"""Testing operations through the HTTP API and the CLI: a sampler registers swabs by scanning,
a lab uploads a result sheet (GB18030 CSV; a truncated file refused whole), residents see
their own results, pool-size advice."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from fangkong.person import code as person_code
from tests.conftest import login, person_payload


@pytest.fixture
def cli(settings: Any) -> Any:
    from fangkong.cli import main

    main._register()
    return lambda *args: CliRunner().invoke(main.app, [str(a) for a in args])


@pytest.fixture
def setup(client: Any, areas: Any, users: Any) -> dict[str, Any]:
    users.create("cmd", "commander", "admin", area="5101")
    users.create("epi", "epidemiologist", area="5101")
    users.create("smp", "sampler", area="510104")
    users.create("lab", "lab_staff", area="5101")
    h = {u: login(client, u) for u in ("cmd", "epi", "smp", "lab")}
    client.post(
        "/api/v1/policy/activations",
        headers=h["cmd"],
        json={"profile_id": "cn-9th", "effective_from": "2022-06-28"},
    )
    pids = [
        client.post(
            "/api/v1/persons", headers=h["epi"], json=person_payload(seq=i, lon=104.08, lat=30.66)
        ).json()["person"]["id"]
        for i in range(1, 4)
    ]
    site = client.post(
        "/api/v1/nat/sites",
        headers=h["cmd"],
        json={"code": "S1", "name": "和平采样点", "area_code": "510104020001", "lon": 104.081, "lat": 30.661},
    )
    assert site.status_code == 201, site.text
    assert (
        client.post(
            "/api/v1/nat/labs", headers=h["cmd"], json={"code": "LAB1", "name": "一号", "area_code": "5101"}
        ).status_code
        == 201
    )
    assert (
        client.post("/api/v1/nat/labs/LAB1/members", headers=h["cmd"], json={"username": "lab"}).status_code
        == 204
    )
    return {"h": h, "pids": pids, "site": site.json()["id"]}


def test_sampler_lab_and_resident_over_http(
    client: Any, setup: dict[str, Any], users: Any, tmp_path: Path
) -> None:
    h, pids, site = setup["h"], setup["pids"], setup["site"]
    now = dt.datetime.now(dt.UTC)
    r = client.post(
        "/api/v1/nat/rounds",
        headers=h["cmd"],
        json={
            "name": "第1轮",
            "area_code": "510104",
            "start_at": now.isoformat(),
            "deadline_at": (now + dt.timedelta(hours=12)).isoformat(),
        },
    )
    assert r.status_code == 201 and r.json()["expected"] == 3
    round_id = r.json()["id"]
    t = client.post(
        "/api/v1/nat/tubes",
        headers=h["smp"],
        json={"barcode": "T-100001", "site_id": site, "round_id": round_id},
    )
    assert t.status_code == 201 and t.json()["capacity"] == 10
    for pid in pids:
        s = client.post(
            "/api/v1/nat/samples",
            headers=h["smp"],
            json={"tube": "T-100001", "scan": person_code.make(pid), "site_id": site},
        )
        assert s.status_code == 201, s.text
    again = client.post(
        "/api/v1/nat/samples",
        headers=h["smp"],
        json={"tube": "T-100001", "scan": person_code.make(pids[0]), "site_id": site},
    )
    assert again.status_code == 409 and again.json()["error"]["details"][0]["field"] == "scan"
    assert client.post("/api/v1/nat/tubes/T-100001/close", headers=h["smp"]).json()["status"] == "closed"
    # a lab account cannot register swabs; a sampler cannot report results
    assert (
        client.post(
            "/api/v1/nat/samples", headers=h["lab"], json={"tube": "T-100001", "scan": "x", "site_id": site}
        ).status_code
        == 403
    )
    box = client.post(
        "/api/v1/nat/shipments",
        headers=h["smp"],
        json={"code": "BOX-0001", "site_id": site, "lab_code": "LAB1", "barcodes": ["T-100001"]},
    )
    assert box.status_code == 201, box.text
    assert client.post(
        "/api/v1/nat/labs/LAB1/receive", headers=h["lab"], json={"shipment": "BOX-0001"}
    ).json() == {"received": 1}
    later = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    sheet = "试管条码,检测结果,N基因Ct值,ORF1ab基因Ct值,检测时间\nT-100001,阴性,,," + later + "\n"
    truncated = sheet + "T-100002,阴"
    bad = client.post(
        "/api/v1/nat/labs/LAB1/results/file",
        headers=h["lab"],
        files={"file": ("results.csv", truncated.encode("gb18030"), "text/csv")},
    )
    assert bad.status_code == 422 and any(d["row"] == 2 for d in bad.json()["error"]["details"])
    ok = client.post(
        "/api/v1/nat/labs/LAB1/results/file",
        headers=h["lab"],
        files={"file": ("results.csv", sheet.encode("gb18030"), "text/csv")},
    )
    assert ok.status_code == 200 and ok.json()["recorded"] == 1, ok.text
    progress = client.get(f"/api/v1/nat/rounds/{round_id}/progress", headers=h["cmd"]).json()
    assert (progress["expected"], progress["sampled"], progress["missing"]) == (3, 3, 0)
    assert progress["tubes"] == {"reported": 1}
    missing = client.get(
        f"/api/v1/nat/rounds/{round_id}/missing", headers=h["cmd"], params={"format": "xlsx"}
    )
    assert missing.status_code == 200 and missing.content[:2] == b"PK"
    # the resident sees their own result, and only theirs
    users.create("res1", "resident", area=None, person_id=pids[0])
    mine = client.get("/api/v1/me/nat", headers=login(client, "res1")).json()
    assert len(mine) == 1 and mine[0]["result"] == "negative" and mine[0]["pooled"] is True
    assert client.get("/api/v1/me/nat", headers=h["cmd"]).status_code == 403


def test_cli_pool_size_and_results_import(cli: Any, setup: dict[str, Any], tmp_path: Path) -> None:
    out = cli("testing", "pool-size", "--prevalence", "0.01", "--format", "json")
    assert out.exit_code == 0, out.output
    advice = json.loads(out.output)
    assert advice["pool_size"] == 11 and advice["tests_per_person"] == 0.1956
    assert (
        json.loads(
            cli(
                "testing", "pool-size", "--prevalence", "0.01", "--allowed", "1,5,10,20", "--format", "json"
            ).output
        )["pool_size"]
        == 10
    )
    bad = cli("testing", "pool-size", "--prevalence", "1.5")
    assert bad.exit_code != 0 and "prevalence" in bad.output
    sheet = tmp_path / "r.csv"
    sheet.write_text("barcode,result,tested_at\nT-NOPE,negative,2022-11-01 10:00\n", encoding="utf-8")
    res = cli("testing", "results", "import", sheet, "--lab", "LAB1")
    assert res.exit_code != 0 and "unknown tube barcode" in res.output
    cov = cli("testing", "sites", "coverage", "--area", "510104", "--suggest", "1", "--format", "json")
    assert cov.exit_code == 0, cov.output
    data = json.loads(cov.output)
    assert (
        data["residents"] == 3
        and data["share"] == 1.0
        and data["communities"][0]["area_code"] == "510104020001"
    )
