"""The v2 surface answers every error in the official shape (``ApiErrorResponse``), also
for routes it does not have and for modules the tenant has not licensed; the session API
keeps its own shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from st_contract.v2_paths import CRM, JPM
from st_sandbox.server import SandboxServer
from tests.helpers import auth_client
from tests.sandbox.v2_support import response_errors, tenant_path, v2_client

OFFICIAL = {"type", "title", "status", "traceId", "errors", "data"}


def _official(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == OFFICIAL, body
    assert body["status"] == status and body["traceId"] == answer.headers["x-request-id"]
    return body


def _session(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


def test_unknown_routes_and_methods_under_a_v2_prefix_answer_the_official_shape(
    sandbox: SandboxServer,
) -> None:
    with v2_client(sandbox.base_url) as http:
        for path in (
            tenant_path(CRM, "no-such-resource"),
            # An official path of a served module that the sandbox does not serve.
            tenant_path("/payroll/v2", "technicians/1/payrolls"),
            "/no-such-module/v2/tenant/1000001/things",
            "/telecom/tenant/1000001/v2/export/calls",
            "/crm/v2",
        ):
            body = _official(http.get(path), 404)
            assert body["data"]["code"] == "not_found", path
        wrong_method = http.delete(tenant_path(CRM, "customers"))
        assert _official(wrong_method, 405)["data"]["code"] == "method_not_allowed"
        # The spec documents ApiErrorResponse for a 404: the body validates against it.
        missing = http.get(tenant_path(JPM, "appointments/12345/nothing"))
        _official(missing, 404)
        assert response_errors(CRM, "get", "customers/{id}", 404, missing.json()) == []
    # Elsewhere, the session API's shape.
    assert _session(httpx.get(f"{sandbox.base_url}/no-such-route"), 404)["code"] == "not_found"
    assert _session(httpx.delete(f"{sandbox.base_url}/customers"), 405)["code"] == (
        "method_not_allowed"
    )


def test_an_unlicensed_module_answers_403_on_both_surfaces(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=20, unlicensed_modules=["payroll", "telecom", "crm"])
    url = server.base_url
    with v2_client(url) as http:
        for path in (
            tenant_path("/payroll/v2", "jobs/timesheets"),
            tenant_path("/payroll/v2", "export/jobs/timesheets"),
            "/telecom/tenant/1000001/v2/export/calls",
            tenant_path(CRM, "customers"),
        ):
            body = _official(http.get(path), 403)
            assert body["data"]["code"] == "module_not_licensed", path
        assert _official(http.post(tenant_path(CRM, "customers"), json={}), 403)
        # Licensed modules answer as always.
        assert http.get(tenant_path(JPM, "jobs")).status_code == 200
    with auth_client(url, "demo") as http:
        for path in ("/payroll/jobs/timesheets", "/telecom/calls", "/crm/anything"):
            error = _session(http.get(path), 403)
            assert error["code"] == "module_not_licensed" and error["details"]["module"] in path
        assert http.get("/jobs", params={"pageSize": 1}).status_code == 200
