"""Property-based fuzzing of every API operation from the OpenAPI spec (schemathesis):
whatever the input, the server never answers with a 5xx.

Each operation is its own test; examples per operation: FANGKONG_FUZZ_EXAMPLES (default 50).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import login, person_payload

EXAMPLES = int(os.environ.get("FANGKONG_FUZZ_EXAMPLES", "50"))


def _operations() -> list[str]:
    from fangkong.api.app import create_app

    spec = create_app(worker=False).openapi()
    return [f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item]


@pytest.fixture
def api_schema(app: Any, client: Any, areas: Any, users: Any) -> Any:
    users.create("fuzz", "admin", "community_worker", "epidemiologist", area=None)
    headers = login(client, "fuzz")
    for i in range(3):
        client.post("/api/v1/persons", json=person_payload(seq=i + 1), headers=headers)
    client.post(
        "/api/v1/units",
        json={"name": "测试单位", "category": "enterprise", "area_code": "510104020001"},
        headers=headers,
    )
    client.post(
        "/api/v1/places",
        json={
            "name": "测试商场",
            "category": "shopping_mall",
            "area_code": "510104020001",
            "responsible_unit_id": 1,
        },
        headers=headers,
    )
    client.post("/api/v1/households", json={"area_code": "510104020001", "address": "1栋"}, headers=headers)
    app.state.fuzz_headers = headers
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("operation", _operations())
def test_no_server_errors(api_schema: Any, operation: str) -> None:
    method, path = operation.split(" ", 1)
    op = api_schema[path][method]
    headers = dict(op.schema.app.state.fuzz_headers)
    if path.endswith("/auth/logout"):
        headers = {}  # keep the fuzzing token alive

    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()
