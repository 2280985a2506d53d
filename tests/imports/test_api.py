"""POST /api/v1/imports/{kind} and GET /api/v1/exports/{kind}.{fmt}."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fangkong.audit.models import AuditEntry
from fangkong.imports import router as import_router
from tests.conftest import login
from tests.imports import PERSON_HEADER_ZH, counts, person_row, persons_csv, rid, write_csv

pytestmark = pytest.mark.usefixtures("areas")
CSV = "text/csv"


def upload(
    client: Any,
    headers: dict[str, str],
    path: Path,
    kind: str = "persons",
    name: str | None = None,
    **params: Any,
) -> Any:
    with path.open("rb") as fh:
        return client.post(
            f"/api/v1/imports/{kind}",
            headers=headers,
            params=params,
            files={"file": (name or path.name, fh, "application/octet-stream")},
        )


def assert_error_shape(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


@pytest.fixture
def cw(client: Any, users: Any) -> dict[str, str]:
    users.create("cw", "community_worker", area="510104")
    return login(client, "cw")


def test_upload_stores(
    client: Any, cw: dict[str, str], factory: sessionmaker[Session], tmp_path: Path
) -> None:
    resp = upload(client, cw, persons_csv(tmp_path / "p.csv", 3))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["stored"] is True and body["rows_stored"] == 3 and body["batch_id"] >= 1
    assert body["errors"] == [] and body["mode"] == "all_or_nothing"
    assert counts(factory)["person"] == 3


def test_upload_rejected_all_or_nothing(
    client: Any, cw: dict[str, str], factory: sessionmaker[Session], tmp_path: Path
) -> None:
    before = counts(factory)
    path = write_csv(
        tmp_path / "p.csv",
        PERSON_HEADER_ZH,
        [person_row(0), person_row(1, id_number="123"), person_row(2, area_code="51")],
    )
    err = assert_error_shape(upload(client, cw, path), 422, "invalid")
    assert "2 of 3 rows rejected; nothing was stored" in err["message"]
    assert [(d["row"], d["field"]) for d in err["details"]] == [(2, "证件号码"), (3, "所属区域代码")]
    assert err["details"][0]["value"] == "123"
    assert "outside your jurisdiction" in err["details"][1]["reason"]
    assert counts(factory) == before


def test_upload_partial_and_dry_run(
    client: Any, cw: dict[str, str], factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "p.csv", PERSON_HEADER_ZH, [person_row(0), person_row(1, id_number="123")])
    resp = upload(client, cw, path, dry_run="true")
    assert_error_shape(resp, 422, "invalid")
    ok = upload(client, cw, persons_csv(tmp_path / "ok.csv", 2), dry_run="true")
    assert ok.status_code == 200 and ok.json()["stored"] is False and ok.json()["dry_run"]
    assert counts(factory)["person"] == 0
    resp = upload(client, cw, path, partial="true")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["rows_stored"], body["rows_rejected"], body["mode"]) == (1, 1, "partial")
    assert body["errors"] == [
        {
            "row": 2,
            "column": "证件号码",
            "value": "123",
            "reason": "must be 18 characters (or 15 legacy digits), got 3",
        }
    ]
    assert counts(factory)["person"] == 1


def test_upload_file_level_errors(client: Any, cw: dict[str, str], tmp_path: Path) -> None:
    fake = tmp_path / "p.xlsx"
    fake.write_bytes(persons_csv(tmp_path / "p.csv", 1).read_bytes())
    err = assert_error_shape(upload(client, cw, fake), 422, "invalid")
    assert err["message"] == "not an .xlsx workbook"
    missing = write_csv(tmp_path / "m.csv", ["姓名"], [["张三"]])
    err = assert_error_shape(upload(client, cw, missing), 422, "invalid")
    assert "missing required columns" in err["message"]
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("姓名,证件号码\n张三,1\n".encode("utf-16"))
    assert_error_shape(upload(client, cw, utf16), 422, "invalid")
    resp = client.post("/api/v1/imports/persons", headers=cw)
    assert_error_shape(resp, 422, "invalid")
    resp = upload(client, cw, missing, kind="cases")
    assert_error_shape(resp, 422, "invalid")


def test_upload_too_large(
    client: Any, cw: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_router, "MAX_UPLOAD", 100)
    assert_error_shape(upload(client, cw, persons_csv(tmp_path / "p.csv", 5)), 413, "payload_too_large")


def test_upload_permissions(client: Any, users: Any, tmp_path: Path) -> None:
    path = persons_csv(tmp_path / "p.csv", 1)
    assert_error_shape(upload(client, {}, path), 401, "unauthenticated")
    users.create("sampler", "sampler")
    h = login(client, "sampler")
    assert_error_shape(upload(client, h, path), 403, "forbidden")
    users.create("tracer", "tracer")
    h = login(client, "tracer")
    venues = write_csv(
        tmp_path / "v.csv", ["场所名称", "场所类别", "所属区域代码"], [["公园", "park", "510104"]]
    )
    assert_error_shape(upload(client, h, venues, kind="venues"), 403, "forbidden")
    users.create("cmd", "commander")
    h = login(client, "cmd")
    resp = upload(client, h, venues, kind="places")
    assert resp.status_code == 200 and resp.json()["kind"] == "venues"


def test_export_downloads(
    client: Any, cw: dict[str, str], factory: sessionmaker[Session], tmp_path: Path
) -> None:
    assert upload(client, cw, persons_csv(tmp_path / "p.csv", 3)).status_code == 200
    resp = client.get("/api/v1/exports/persons.csv", headers=cw)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith(CSV)
    assert "attachment" in resp.headers["content-disposition"]
    assert "persons-" in resp.headers["content-disposition"]
    text = resp.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("系统编号,姓名,证件类型,证件号码")
    assert rid(0) not in text and "张*0" in text
    resp = client.get(
        "/api/v1/exports/persons.xlsx",
        headers=cw,
        params={"unmask_reason": "核对名单", "lang": "en", "q": "张一"},
    )
    assert resp.status_code == 200, resp.text
    wb = load_workbook(io.BytesIO(resp.content), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    assert rows[0][:2] == ("ID", "Name") and len(rows) == 2 and rows[1][3] == rid(0)
    with factory() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["person.export", "person.export_pii"]
    for path in (
        "/api/v1/exports/households.csv",
        "/api/v1/exports/places.xlsx",
        "/api/v1/exports/venues.csv",
        "/api/v1/exports/units.xlsx",
    ):
        assert client.get(path, headers=cw).status_code == 200, path


def test_export_errors(client: Any, cw: dict[str, str], users: Any) -> None:
    assert_error_shape(client.get("/api/v1/exports/persons.pdf", headers=cw), 422, "invalid")
    assert_error_shape(client.get("/api/v1/exports/cases.csv", headers=cw), 422, "invalid")
    assert_error_shape(client.get("/api/v1/exports/persons", headers=cw), 404, "not_found")
    for params in (
        {"area_code": "abc"},
        {"area_code": "123"},
        {"key_group": "aliens"},
        {"q": "a\x00b"},
        {"unmask_reason": "ab"},
        {"lang": "fr"},
    ):
        resp = client.get("/api/v1/exports/persons.csv", headers=cw, params=params)
        assert_error_shape(resp, 422, "invalid")
    resp = client.get("/api/v1/exports/units.csv", headers=cw, params={"category": "aliens"})
    assert_error_shape(resp, 422, "invalid")
    assert_error_shape(client.get("/api/v1/exports/persons.csv"), 401, "unauthenticated")
    users.create("sampler", "sampler")
    h = login(client, "sampler")
    assert_error_shape(client.get("/api/v1/exports/persons.csv", headers=h), 403, "forbidden")
    assert client.get("/api/v1/exports/places.csv", headers=h).status_code == 200
    users.create("cmd", "commander")
    h = login(client, "cmd")
    resp = client.get("/api/v1/exports/persons.csv", headers=h, params={"unmask_reason": "for the meeting"})
    assert_error_shape(resp, 403, "forbidden")
