"""The API description: docs/api.md and /openapi.json agree, and no bad input gives a 500."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings

from st_sandbox.server import SandboxServer
from tests.helpers import login

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_route_is_documented(sandbox: SandboxServer) -> None:
    spec = httpx.get(f"{sandbox.base_url}/openapi.json").json()
    doc = DOC.read_text()
    for path in spec["paths"]:
        generic = re.sub(r"\{[^}]+\}", "{id}", path)
        base = "/" + path.strip("/").split("/")[0]
        assert path in doc or generic in doc or f"`{base}`" in doc or base.lstrip("/") in doc, path


def test_documented_write_routes_exist(sandbox: SandboxServer) -> None:
    paths = set(httpx.get(f"{sandbox.base_url}/openapi.json").json()["paths"])
    for route in (
        "/sessions",
        "/sessions/mfa",
        "/sessions/refresh",
        "/events",
        "/jobs",
        "/jobs/{job_id}/dispatch",
        "/jobs/{job_id}/invoices",
        "/_sandbox/outbox",
    ):
        assert route in paths


def test_no_input_gives_a_server_error(sandbox: SandboxServer) -> None:
    """Schemathesis explores every operation (a few examples each); none may answer 5xx."""
    schema = schemathesis.openapi.from_url(f"{sandbox.base_url}/openapi.json")
    token = login(sandbox.base_url, "readonly")["token"]
    failures: list[str] = []
    for operation in schema.get_all_operations():
        op = operation.ok()
        if op.path.startswith("/_sandbox"):
            continue

        @given(case=op.as_strategy())
        @settings(
            max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(
                base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        check()
    assert not failures, failures
