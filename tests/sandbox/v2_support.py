"""Helpers for the v2 surface tests: a token-holding HTTP client and the official specs."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID, AppClient

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "servicetitan-openapi"
DEMO_APP = DEMO_APPS[0]
READONLY_APP = DEMO_APPS[1]


def v2_client(base_url: str, app: AppClient = DEMO_APP) -> httpx.Client:
    """An httpx client with a fresh client-credentials token and the app key set."""
    token = httpx.post(
        f"{base_url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    assert token.status_code == 200, token.text
    return httpx.Client(
        base_url=base_url,
        headers={
            "Authorization": f"Bearer {token.json()['access_token']}",
            "ST-App-Key": app.app_key,
        },
        timeout=30,
    )


def tenant_path(module: str, path: str) -> str:
    return f"/{module}/v2/tenant/{SANDBOX_TENANT_ID}/{path}"


@cache
def spec(module: str) -> dict[str, Any]:
    """The official OpenAPI document of a module; skips (fails under CI) when absent."""
    path = SPEC_DIR / f"{module}-v2.json"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the official spec {path} is missing")
        pytest.skip(f"the official ServiceTitan specs are not at {SPEC_DIR}")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _validator(module: str, schema: dict[str, Any]) -> Draft202012Validator:
    # Refs in the specs are document-relative (#/components/...): validate from a root
    # that carries the document's components.
    root = {**schema, "components": spec(module)["components"]}
    return Draft202012Validator(root, format_checker=FormatChecker())


def operation(module: str, method: str, path: str) -> dict[str, Any]:
    op = spec(module)["paths"].get(f"/tenant/{{tenant}}/{path}", {}).get(method)
    assert op is not None, f"the official {module} spec has no {method.upper()} {path}"
    return op  # type: ignore[no-any-return]


# The deliberate differences of docs/api.md ("v2 surface") that show in a schema: a job
# the sandbox has not invoiced yet answers invoiceId null (the official API creates the
# job's invoice with the job).
ALLOWED_NULLS = {("jpm", "invoiceId")}


def response_errors(module: str, method: str, path: str, status: int, body: Any) -> list[str]:
    """Every way ``body`` breaks the official response schema of that operation, less the
    documented differences (``ALLOWED_NULLS``)."""
    responses = operation(module, method, path)["responses"]
    content = responses[str(status)].get("content", {}).get("application/json")
    assert content is not None, f"{method.upper()} {path} documents no JSON body for {status}"
    validator = _validator(module, content["schema"])
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
        for e in validator.iter_errors(body)
        if not (e.instance is None and (module, str(e.absolute_path[-1])) in ALLOWED_NULLS)
    ][:10]


def request_errors(module: str, method: str, path: str, body: Any) -> list[str]:
    """Every way ``body`` breaks the official request schema of that operation."""
    content = operation(module, method, path)["requestBody"]["content"]["application/json"]
    validator = _validator(module, content["schema"])
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ][:10]
