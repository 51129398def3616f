"""The Reporting API of the sandbox: the official paths answer in the spec's shapes
(jsonschema, as ``test_v2_schemas.py``), the reports compute the tenant's own data, the
parameters filter and are checked, and the sixth run of a report within the window is a
429 with ``Retry-After`` (per app and tenant, per report)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from st_sandbox.server import SandboxServer
from tests.helpers import auth_client, sandbox_dump
from tests.sandbox.v2_support import READONLY_APP, response_errors, tenant_path, v2_client

REPORTING = "/reporting/v2"
REVENUE = "report-category/accounting/reports/201"
FROM_TO = [{"name": "From", "value": "2000-01-01"}, {"name": "To", "value": "2100-01-01"}]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    from st_sandbox.config import SandboxConfig
    from tests.conftest import DEFAULT_TEST_CONFIG

    # Its own tenant: the tests change its report limit.
    server = SandboxServer(SandboxConfig(**{**DEFAULT_TEST_CONFIG, "customers": 120})).start()
    yield server
    server.stop()


@pytest.fixture
def v2(server: SandboxServer) -> Iterator[httpx.Client]:
    with v2_client(server.base_url) as http:
        # A generous limit unless a test sets its own.
        http.post("/_sandbox/reports/limit", json={"runsPerWindow": 1000, "windowSeconds": 60})
        yield http


def test_every_endpoint_matches_the_official_schema(v2: httpx.Client) -> None:
    categories = v2.get(tenant_path(REPORTING, "report-categories"), params={"includeTotal": True})
    assert categories.status_code == 200, categories.text
    assert response_errors(REPORTING, "get", "report-categories", 200, categories.json()) == []
    ids = [c["id"] for c in categories.json()["data"]]
    assert {"operations", "marketing", "accounting"} <= set(ids)
    seen = 0
    for category in ids:
        path = "report-category/{report_category}/reports"
        reports = v2.get(tenant_path(REPORTING, f"report-category/{category}/reports"))
        assert response_errors(REPORTING, "get", path, 200, reports.json()) == []
        for item in reports.json()["data"]:
            where = f"report-category/{category}/reports/{item['id']}"
            described = v2.get(tenant_path(REPORTING, where))
            one = "report-category/{report_category}/reports/{reportId}"
            assert response_errors(REPORTING, "get", one, 200, described.json()) == []
            run = v2.post(
                tenant_path(REPORTING, f"{where}/data"),
                params={"pageSize": 3, "includeTotal": True},
                json={"parameters": FROM_TO},
            )
            assert run.status_code == 200, run.text
            body = run.json()
            assert response_errors(REPORTING, "post", f"{one}/data", 200, body) == []
            names = [f["name"] for f in described.json()["fields"]]
            assert [f["name"] for f in body["fields"]] == names
            assert all(len(row) == len(names) for row in body["data"])
            seen += 1
    assert seen >= 4


def test_errors_are_the_official_shape(v2: httpx.Client) -> None:
    one = "report-category/{report_category}/reports/{reportId}"
    missing = v2.get(tenant_path(REPORTING, "report-category/accounting/reports/999"))
    assert missing.status_code == 404
    assert response_errors(REPORTING, "get", one, 404, missing.json()) == []
    for parameters, why in (
        ([{"name": "Form", "value": "2024-01-01"}], "no parameter 'Form'"),
        ([{"name": "From", "value": 3}, FROM_TO[1]], "From takes a Date"),
        ([FROM_TO[0]], "To is required"),
    ):
        bad = v2.post(tenant_path(REPORTING, f"{REVENUE}/data"), json={"parameters": parameters})
        assert bad.status_code == 400, bad.text
        assert response_errors(REPORTING, "post", f"{one}/data", 400, bad.json()) == []
        assert why.split()[-1] in bad.json()["title"]


def test_revenue_by_business_unit_is_the_tenant_s_invoices(v2: httpx.Client) -> None:
    invoices = [i for i in sandbox_dump(str(v2.base_url), "invoices") if i["active"]]
    days = sorted(i["invoiceDate"][:10] for i in invoices)
    start, end = days[len(days) // 4], days[3 * len(days) // 4]
    expected: dict[int, list[Any]] = {}
    for inv in invoices:
        if start <= inv["invoiceDate"][:10] <= end:
            row = expected.setdefault(inv["businessUnit"]["id"], [0, Decimal(0)])
            row[0] += 1
            row[1] += Decimal(inv["total"])
    params = [{"name": "From", "value": start}, {"name": "To", "value": end}]
    rows: list[list[Any]] = []
    page = 1
    while True:  # pages of 2 rows
        answer = v2.post(
            tenant_path(REPORTING, f"{REVENUE}/data"),
            params={"page": page, "pageSize": 2},
            json={"parameters": params},
        ).json()
        rows += answer["data"]
        if not answer["hasMore"]:
            break
        page += 1
    assert page > 1
    got = {r[0]: [r[2], Decimal(str(r[3]))] for r in rows}
    assert got == expected
    unit = next(iter(expected))
    only = v2.post(
        tenant_path(REPORTING, f"{REVENUE}/data"),
        json={"parameters": [*params, {"name": "BusinessUnitId", "value": unit}]},
    ).json()
    assert [r[0] for r in only["data"]] == [unit]


def test_the_sixth_run_in_the_window_is_a_429(server: SandboxServer, v2: httpx.Client) -> None:
    v2.post("/_sandbox/reports/limit", json={"runsPerWindow": 5, "windowSeconds": 30})
    run = tenant_path(REPORTING, f"{REVENUE}/data")
    for _ in range(5):
        assert v2.post(run, json={"parameters": FROM_TO}).status_code == 200
    refused = v2.post(run, json={"parameters": FROM_TO})
    assert refused.status_code == 429
    assert 0 < float(refused.headers["Retry-After"]) <= 30
    assert refused.json()["status"] == 429 and refused.json()["data"]["code"] == "rate_limited"
    # Per report, and per app: another report and another app are not limited by it.
    other = tenant_path(REPORTING, "report-category/operations/reports/102/data")
    assert v2.post(other, json={"parameters": FROM_TO}).status_code == 200
    with v2_client(server.base_url, READONLY_APP) as readonly:
        assert readonly.post(run, json={"parameters": FROM_TO}).status_code == 200
    calls = v2.get("/_sandbox/reports").json()["calls"]["accounting/201"]
    assert [c["status"] for c in calls] == [200] * 5 + [429, 200]


def test_the_session_api_runs_the_same_report(server: SandboxServer, v2: httpx.Client) -> None:
    official = v2.post(tenant_path(REPORTING, f"{REVENUE}/data"), json={"parameters": FROM_TO})
    with auth_client(server.base_url) as http:
        catalog = http.get("/reports").json()["data"]
        assert {c["id"] for c in catalog} >= {"operations", "marketing", "accounting"}
        described = http.get("/reports/accounting/201").json()
        assert described["fields"][0]["name"] == "BusinessUnitId"
        answer = http.post("/reports/accounting/201/data", json={"parameters": FROM_TO})
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"] == official.json()["data"]
        missing = http.post("/reports/nope/1/data", json={"parameters": []})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
