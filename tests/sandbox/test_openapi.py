"""The API description: docs/api.md and /openapi.json agree, and no bad input gives a 500."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from st_sandbox.server import SandboxServer
from tests.helpers import login

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
# Operations FastAPI adds for every app; docs/api.md does not document them.
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _normalize(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path.rstrip("/") or "/")


def _documented_operations(doc: str) -> set[tuple[str, str]]:
    """Every ``METHOD /path`` docs/api.md names (bar those it says are not offered), with the
    generic ``GET /{resource}`` and ``GET /{resource}/{id}`` expanded over its resource list."""
    ops = set()
    for line in doc.splitlines():
        for method, path in re.findall(rf"\b({'|'.join(METHODS)}) (/[^\s`?,)]*)", line):
            if "not** offered" not in line and not path.startswith("/{"):
                ops.add((method, _normalize(path)))
    listing = doc.split("`GET /{resource}` for:", 1)[1].split("`GET /{resource}/{id}`", 1)[0]
    resources = re.findall(r"`([a-z/-]+)`", listing)
    assert len(resources) > 10, "the list of readable resources in docs/api.md moved"
    for resource in resources:
        ops |= {("GET", f"/{resource}"), ("GET", f"/{resource}/{{}}")}
    return ops | _documented_v2_operations(doc) | _catalog_operations(doc)


def _catalog_operations(doc: str) -> set[tuple[str, str]]:
    """docs/api.md's "Catalog streams" section promises each non-core catalog stream's
    session and official v2 read paths (listed by st_contract/catalog, not one by one)
    and the drift knob."""
    if "## Catalog streams" not in doc or "/_sandbox/drift" not in doc:
        return set()
    from st_contract.catalog import STREAMS, path_template
    from st_sandbox.catalog.streams import SERVED, layout

    ops = {("POST", "/_sandbox/drift"), ("DELETE", "/_sandbox/drift")}
    for stream in SERVED:
        ops.add(("GET", stream.session_path))
        if layout(stream.name).int_id:
            ops.add(("GET", f"{stream.session_path}/{{}}"))
    for stream in STREAMS:
        paths = (stream.export_path, *stream.alias_exports)
        if not stream.core:
            paths = (stream.list_path, *paths)
        for path in paths:
            if path and (not stream.core or path in stream.alias_exports):
                ops.add(("GET", _normalize(stream.prefix + path_template(path))))
    return ops


def _documented_v2_operations(doc: str) -> set[tuple[str, str]]:
    """The v2 table: per module, each list endpoint (and its ``export/`` twin unless marked
    "list only") and each write, under ``{prefix}/tenant/{tenant}/``."""
    table = doc.split("Under `{prefix}/tenant/{tenant}/`", 1)[1].split("\n\n", 2)[1]
    ops = set()
    for row in table.splitlines()[2:]:
        module_cell, reads, writes = (cell.strip() for cell in row.strip("|").split("|"))
        base = f"{module_cell.strip('`')}/tenant/{{}}/"
        for name, rest in re.findall(r"`([a-z/-]+)`( \(list only\))?", reads):
            ops.add(("GET", base + name))
            if not rest:
                ops.add(("GET", f"{base}export/{name}"))
        for method, path in re.findall(rf"`({'|'.join(METHODS)}) ([^`]+)`", writes):
            ops.add((method, _normalize(base + path)))
    assert len(ops) > 30, "the v2 table in docs/api.md moved"
    return ops


def _spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), _normalize(path))
        for path, item in spec["paths"].items()
        if path not in FRAMEWORK_PATHS
        for method in item
        if method.upper() in METHODS
    }


def _schema_properties(spec: dict[str, Any], schema: dict[str, Any], seen: set[str]) -> set[str]:
    """Property names of a request schema, nested objects and ``$ref`` included."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return set()
        seen.add(name)
        schema = spec["components"]["schemas"][name]
    names = set(schema.get("properties", {}))
    children = list(schema.get("properties", {}).values())
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            children.append(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        children += schema.get(key, [])
    for child in children:
        names |= _schema_properties(spec, child, seen)
    return names


def test_docs_and_openapi_list_the_same_operations(sandbox: SandboxServer) -> None:
    """Both ways: every operation of /openapi.json is in docs/api.md with its method, and
    every operation docs/api.md promises is served."""
    spec = httpx.get(f"{sandbox.base_url}/openapi.json").json()
    documented, served = _documented_operations(DOC.read_text()), _spec_operations(spec)
    assert not served - documented, f"served but not in docs/api.md: {sorted(served - documented)}"
    assert not documented - served, f"in docs/api.md but not served: {sorted(documented - served)}"


def test_documented_parameters_and_bodies_match_the_schema(sandbox: SandboxServer) -> None:
    """Query parameters, write headers, body fields and the documented limits are the ones
    /openapi.json declares."""
    spec = httpx.get(f"{sandbox.base_url}/openapi.json").json()
    doc = DOC.read_text()
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_-]*", doc))
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                if param["in"] in ("query", "header") and param["name"] != "authorization":
                    assert param["name"] in words, (method, path, param["name"])
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                missing = _schema_properties(spec, body["schema"], set()) - words
                assert not missing, (method, path, sorted(missing))
    page_size = next(
        p["schema"] for p in spec["paths"]["/jobs"]["get"]["parameters"] if p["name"] == "pageSize"
    )
    assert (page_size["minimum"], page_size["maximum"], page_size["default"]) == (1, 5000, 500)
    assert "`pageSize` (1..5000, default 500)" in doc
    limit = next(
        p["schema"] for p in spec["paths"]["/events"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert (limit["minimum"], limit["maximum"]) == (1, 1000) and "limit=1..1000" in doc
    writes = {
        ("post", "/jobs"),
        ("patch", "/jobs/{job_id}/dispatch"),
        ("post", "/jobs/{job_id}/invoices"),
    }
    for method, path in writes:
        headers = {p["name"] for p in spec["paths"][path][method]["parameters"]}
        assert "Idempotency-Key" in headers, (method, path)
    dispatch = spec["paths"]["/jobs/{job_id}/dispatch"]["patch"]["parameters"]
    assert "If-Match" in {p["name"] for p in dispatch} and "If-Match" in doc


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
