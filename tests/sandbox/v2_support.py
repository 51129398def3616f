"""Helpers for the v2 surface tests: a token-holding HTTP client and the official specs."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from st_contract.v2_paths import JPM
from st_contract.v2_paths import tenant_path as contract_tenant_path
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


def tenant_path(prefix: str, path: str) -> str:
    """The sandbox tenant's URL of ``path`` under a module ``prefix`` (``/crm/v2``)."""
    return contract_tenant_path(SANDBOX_TENANT_ID, prefix, path)


@cache
def specs_by_prefix() -> dict[str, dict[str, Any]]:
    """Every official OpenAPI document, by its ``servers`` path (``/sales/v2``): the URL
    prefix ServiceTitan serves the module under, whatever the file is called. Skips
    (fails under CI) when the specs are absent."""
    files = sorted(SPEC_DIR.glob("*.json"))
    if not files:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the official specs are missing from {SPEC_DIR}")
        pytest.skip(f"the official ServiceTitan specs are not at {SPEC_DIR}")
    found: dict[str, dict[str, Any]] = {}
    for file in files:
        document = json.loads(file.read_text())
        prefixes = {urlsplit(server["url"]).path.rstrip("/") for server in document["servers"]}
        assert len(prefixes) == 1, f"{file.name} serves under several prefixes: {prefixes}"
        found[prefixes.pop()] = document
    return found


def spec(prefix: str) -> dict[str, Any]:
    """The official OpenAPI document served under ``prefix``; a clear failure when no
    official module is served there."""
    documents = specs_by_prefix()
    assert prefix in documents, (
        f"no official spec is served under {prefix}; official prefixes: {sorted(documents)}"
    )
    return documents[prefix]


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
ALLOWED_NULLS = {(JPM, "invoiceId")}


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


def _resolve(module: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a ``$ref`` (or a one-branch ``oneOf``/``anyOf``/``allOf``) stands for."""
    while True:
        if "$ref" in schema:
            schema = spec(module)["components"]["schemas"][schema["$ref"].split("/")[-1]]
            continue
        for key in ("oneOf", "anyOf", "allOf"):
            branches = [b for b in schema.get(key, []) if b.get("type") != "null"]
            if len(branches) == 1:
                schema = branches[0]
                break
        else:
            return schema


def item_properties(module: str, path: str) -> set[str]:
    """Every property the official schema defines for one record of a list or export
    answer (``data`` items) of ``GET path``."""
    content = operation(module, "get", path)["responses"]["200"]["content"]["application/json"]
    answer = _resolve(module, content["schema"])
    item = _resolve(module, _resolve(module, answer["properties"]["data"])["items"])
    return set(item["properties"])
