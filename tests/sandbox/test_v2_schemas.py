"""Faithfulness: every v2 response the sandbox gives, on several pages of every endpoint,
validates against the official ServiceTitan response schemas (jsonschema, draft 2020-12,
as the specs declare OpenAPI 3.1), and so do the request bodies we send."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from st_contract.v2_paths import ACCOUNTING, ASSIGNMENTS, CRM, DISPATCH, JPM, SETTINGS, V2_PATHS
from st_sandbox.server import SandboxServer
from tests.sandbox.v2_support import (
    request_errors,
    response_errors,
    tenant_path,
    v2_client,
)

PAGES = 3
PAGE_SIZE = 60
READS = [(p.prefix, p.path, p.export) for p in (*V2_PATHS.values(), ASSIGNMENTS)]
EXPORTS = [r for r in READS if r[2]]


@pytest.fixture(scope="module")
def v2(sandbox_factory_module: Any) -> Iterator[httpx.Client]:
    server: SandboxServer = sandbox_factory_module
    with v2_client(server.base_url) as http:
        assert http.post("/_sandbox/v2/export-page-size", json={"exportPageSize": 200}).is_success
        yield http


@pytest.fixture(scope="module")
def sandbox_factory_module() -> Iterator[SandboxServer]:
    from st_sandbox.config import SandboxConfig
    from tests.conftest import DEFAULT_TEST_CONFIG

    # Its own small tenant: the export page size is changed and writes are made.
    server = SandboxServer(SandboxConfig(**{**DEFAULT_TEST_CONFIG, "customers": 150})).start()
    yield server
    server.stop()


@pytest.mark.parametrize(("module", "path", "export"), READS, ids=[r[1] for r in READS])
def test_list_pages_match_the_official_schema(
    v2: httpx.Client, module: str, path: str, export: str | None
) -> None:
    seen = 0
    for page in range(1, PAGES + 1):
        params = {"page": page, "pageSize": PAGE_SIZE, "includeTotal": "true", "active": "Any"}
        answer = v2.get(tenant_path(module, path), params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert response_errors(module, "get", path, 200, body) == []
        seen += len(body["data"])
        assert body["totalCount"] >= seen
        if not body["hasMore"]:
            break
    assert seen > 0, f"{path}: the sandbox served nothing to validate"


@pytest.mark.parametrize(("module", "path", "export"), EXPORTS, ids=[str(r[2]) for r in EXPORTS])
def test_export_pages_match_the_official_schema(
    v2: httpx.Client, module: str, path: str, export: str
) -> None:
    token = ""
    pages = 0
    for _ in range(PAGES):
        answer = v2.get(tenant_path(module, f"export/{export}"), params={"from": token})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert response_errors(module, "get", f"export/{export}", 200, body) == []
        pages += 1
        token = body["continueFrom"]
        if not body["hasMore"]:
            break
    assert pages >= 1


def _appointment(v2: httpx.Client, status: str) -> dict[str, Any]:
    for page in range(1, 50):
        answer = v2.get(
            tenant_path(JPM, "appointments"), params={"page": page, "pageSize": 500}
        ).json()
        for appt in answer["data"]:
            if appt["status"] == status:
                return appt  # type: ignore[no-any-return]
        if not answer["hasMore"]:
            break
    raise AssertionError(f"no {status} appointment in the sandbox")


def test_writes_and_errors_match_the_official_schemas(v2: httpx.Client) -> None:
    appt = _appointment(v2, "Scheduled")
    technicians = v2.get(tenant_path(SETTINGS, "technicians"), params={"pageSize": 50}).json()
    tech = technicians["data"][-1]["id"]

    reschedule = {"start": appt["start"], "end": appt["end"]}
    assert request_errors(JPM, "patch", "appointments/{id}/reschedule", reschedule) == []
    moved = v2.patch(tenant_path(JPM, f"appointments/{appt['id']}/reschedule"), json=reschedule)
    assert moved.status_code == 200, moved.text
    assert response_errors(JPM, "patch", "appointments/{id}/reschedule", 200, moved.json()) == []

    for action in ("assign-technicians", "unassign-technicians"):
        body = {"jobAppointmentId": appt["id"], "technicianIds": [tech]}
        op = f"appointment-assignments/{action}"
        assert request_errors(DISPATCH, "post", op, body) == []
        answer = v2.post(tenant_path(DISPATCH, op), json=body)
        if answer.status_code == 409:  # that technician is busy then: the official 409 shape
            assert response_errors(DISPATCH, "post", op, 409, answer.json()) == []
            continue
        assert answer.status_code == 200, answer.text
        assert response_errors(DISPATCH, "post", op, 200, answer.json()) == []

    invoices = v2.get(tenant_path(ACCOUNTING, "invoices"), params={"pageSize": 1}).json()
    item = {"description": "Filter replacement", "quantity": 1, "unitPrice": 25.5}
    assert request_errors(ACCOUNTING, "patch", "invoices/{invoiceId}/items", item) == []
    patched = v2.patch(
        tenant_path(ACCOUNTING, f"invoices/{invoices['data'][0]['id']}/items"), json=item
    )
    assert patched.status_code == 200, patched.text

    too_many = ",".join(str(i) for i in range(1, 52))
    refused = v2.get(tenant_path(CRM, "customers"), params={"ids": too_many})
    assert refused.status_code == 400
    assert response_errors(CRM, "get", "customers", 400, refused.json()) == []
