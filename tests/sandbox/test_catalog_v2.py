"""Faithfulness of the catalog streams on the v2 surface: for every non-core stream, its
list page, export page, alias export and unpaged answer validate against the official
response schema of that path (jsonschema, as ``test_v2_schemas.py``), and every record
carries every property its spec lists; the sandbox serves every official read path of
the catalog, exports included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from st_contract.catalog import STREAMS, path_template
from st_sandbox.catalog.generate import missing_properties
from st_sandbox.catalog.list_shapes import LIST_SHAPES
from st_sandbox.catalog.streams import LIST_OMITS, SERVED
from st_sandbox.server import SandboxServer
from tests.sandbox.catalog_support import errors, list_params, url
from tests.sandbox.v2_support import _resolve, _validator, spec, specs_by_prefix, v2_client

LISTS = [s for s in SERVED if s.list_path and s.read != "unpaged"]
UNPAGED = [s for s in SERVED if s.read == "unpaged"]
EXPORTS = [(s, p) for s in SERVED for p in (s.export_path, *s.alias_exports) if p]


@pytest.fixture(scope="module")
def v2(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with v2_client(sandbox.base_url) as http:
        yield http


def _records_complete(name: str, rows: list[Any], omitted: tuple[str, ...] = ()) -> None:
    """Every record carries every spec property (less what the list answer omits)."""
    assert rows, f"{name}: nothing served to check"
    for row in rows:
        missing = [p for p in missing_properties(name, row) if p not in omitted]
        assert missing == [], (name, row)


def _list_errors(stream: Any, body: Any) -> list[str]:
    """How a list page breaks its official schema; a stream whose list model declares no
    nullability (``ListShape.null_references``: telecom's call bundles) may answer null
    for a string or object without a value, and nothing else."""
    shape = LIST_SHAPES.get(stream.name)
    if shape is None or not shape.null_references:
        return errors(stream, stream.list_path, body)
    operation = spec(stream.prefix)["paths"][path_template(stream.list_path)]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
        for e in _validator(stream.prefix, schema).iter_errors(body)
        if not (e.instance is None and e.validator == "type" and e.validator_value in REFS)
    ][:10]


REFS = ("string", "object")


def _missing_in(prefix: str, schema: dict[str, Any], value: Any, path: str) -> list[str]:
    """Every property of ``schema`` (resolved) that ``value`` lacks, at any depth."""
    schema = _resolve(prefix, schema)
    if isinstance(value, list) and "items" in schema:
        return [m for v in value for m in _missing_in(prefix, schema["items"], v, path + "[]")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    out = [f"{path}.{name}" for name in schema["properties"] if name not in value]
    for name, sub in schema["properties"].items():
        if name in value:
            out += _missing_in(prefix, sub, value[name], f"{path}.{name}")
    return out


def _list_complete(stream: Any, rows: list[Any]) -> None:
    """Every list item carries every property of the list's item schema (nested objects
    included) where its list answers another model than its export (``LIST_SHAPES``),
    else every property of the stream's records less what the list omits."""
    if stream.name not in LIST_SHAPES:
        _records_complete(stream.name, rows, LIST_OMITS.get(stream.name, ()))
        return
    assert rows, f"{stream.name}: nothing served to check"
    operation = spec(stream.prefix)["paths"][path_template(stream.list_path)]["get"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    item = _resolve(stream.prefix, _resolve(stream.prefix, answer)["properties"]["data"])["items"]
    for row in rows:
        assert _missing_in(stream.prefix, item, row, "") == [], row


@pytest.mark.parametrize("stream", LISTS, ids=[s.name for s in LISTS])
def test_list_pages_match_the_spec(v2: httpx.Client, stream: Any) -> None:
    params = list_params(stream, page=1, pageSize=40, includeTotal="true")
    answer = v2.get(url(stream, stream.list_path), params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert _list_errors(stream, body) == []
    _list_complete(stream, body["data"])
    assert body["totalCount"] >= len(body["data"])
    if body["hasMore"]:
        second = v2.get(url(stream, stream.list_path), params={**params, "page": 2})
        assert second.status_code == 200
        assert _list_errors(stream, second.json()) == []


@pytest.mark.parametrize(("stream", "path"), EXPORTS, ids=[p for _, p in EXPORTS])
def test_export_pages_match_the_spec(v2: httpx.Client, stream: Any, path: str) -> None:
    answer = v2.get(url(stream, path))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert errors(stream, path, body) == []
    _records_complete(stream.name, body["data"])
    again = v2.get(url(stream, path), params={"from": body["continueFrom"]})
    assert again.status_code == 200, again.text
    assert errors(stream, path, again.json()) == []


@pytest.mark.parametrize("stream", UNPAGED, ids=[s.name for s in UNPAGED])
def test_unpaged_answers_match_the_spec(v2: httpx.Client, stream: Any) -> None:
    answer = v2.get(url(stream, stream.list_path), params=list_params(stream))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert errors(stream, stream.list_path, body) == []
    if stream.items_key == "":
        rows = [body]
    elif stream.items_key is None:
        rows = body
    else:
        rows = body[stream.items_key]
    _records_complete(stream.name, rows)


def test_a_required_range_is_enforced_and_filters(v2: httpx.Client) -> None:
    stream = next(s for s in SERVED if s.name == "marketingads_attributed_leads")
    path = url(stream, stream.list_path)
    assert v2.get(path).status_code == 400
    everything = v2.get(path, params=list_params(stream, includeTotal="true")).json()
    recent = v2.get(
        path,
        params={
            "fromUtc": "2026-01-01T00:00:00Z",
            "toUtc": "2100-01-01T00:00:00Z",
            "includeTotal": "true",
        },
    ).json()
    assert 0 < recent["totalCount"] < everything["totalCount"]
    assert all(r["dateTime"] >= "2026-01-01" for r in recent["data"])


def test_lists_filter_like_the_official_api(v2: httpx.Client) -> None:
    stream = next(s for s in SERVED if s.name == "inventory_vendors")
    path = url(stream, stream.list_path)
    every = v2.get(path, params={"active": "Any", "pageSize": 500}).json()["data"]
    active = v2.get(path, params={"pageSize": 500}).json()["data"]
    assert {r["id"] for r in active} == {r["id"] for r in every if r["active"]}
    some = [r["id"] for r in every[:3]]
    picked = v2.get(path, params={"ids": ",".join(map(str, some)), "active": "Any"}).json()
    assert sorted(r["id"] for r in picked["data"]) == sorted(some)
    assert v2.get(path, params={"pageSize": 5001}).status_code == 400


def _official_reads() -> set[str]:
    """Every GET of the specs that reads a collection (no path parameter but the tenant)."""
    out = set()
    for prefix, document in specs_by_prefix().items():
        for path, item in document["paths"].items():
            if "get" in item and not re.search(r"\{(?!tenant\})", path):
                out.add(prefix + path)
    return out


def test_the_sandbox_serves_every_official_read_path(sandbox: SandboxServer) -> None:
    served = set(httpx.get(f"{sandbox.base_url}/openapi.json").json()["paths"])
    catalog_paths = {
        s.prefix + path_template(p)
        for s in STREAMS
        for p in (s.list_path, s.export_path, *s.alias_exports)
        if p
    }
    official = _official_reads() & catalog_paths
    missing = sorted(official - served)
    assert missing == []
    assert len(official & served) >= 130
    exports = {p for p in official if "export" in p.rsplit("/tenant/{tenant}/", 1)[1]}
    served_reads = official & served
    print(f"{len(served_reads)} official read paths served, {len(exports)} exports")
    assert len(exports) == 53
    assert exports <= served


def test_telecom_calls_list_bundles_the_exported_calls(v2: httpx.Client) -> None:
    """The numbered list answers each call as the job it led to with the call under
    ``leadCall`` (the official bundle model), from the same records as the export, and
    filters on the calls."""
    stream = next(s for s in SERVED if s.name == "telecom_calls")
    path = url(stream, stream.list_path)
    exported: dict[int, Any] = {}
    params: dict[str, str] = {}
    while True:
        page = v2.get(url(stream, str(stream.export_path)), params=params).json()
        exported.update((r["id"], r) for r in page["data"])
        if not page["hasMore"]:
            break
        params = {"from": page["continueFrom"]}
    listed = v2.get(path, params={"pageSize": 5000, "includeTotal": "true"}).json()
    assert listed["totalCount"] == len(exported)
    booked = 0
    for bundle in listed["data"]:
        call, lead = exported[bundle["id"]], bundle["leadCall"]
        assert lead["id"] == call["id"] and lead["receivedOn"] == call["createdOn"]
        assert (lead["callType"], lead["voiceMailUrl"]) == (call["type"], call["voiceMailPath"])
        for name in ("duration", "from", "to", "direction", "recordingUrl", "modifiedOn"):
            assert lead[name] == call[name], name
        for name in ("reason", "customer", "campaign"):
            assert (lead[name] or {}).get("id") == (call[name] or {}).get("id"), name
        if call["job"] is None:
            assert bundle["jobNumber"] is bundle["businessUnit"] is bundle["type"] is None
        else:
            booked += 1
            assert bundle["jobNumber"] == call["job"]["number"]
            assert bundle["businessUnit"]["id"] and bundle["type"]["id"]
    assert 0 < booked < len(listed["data"])
    some = sorted(exported)[3:6]
    picked = v2.get(path, params={"ids": ",".join(map(str, some))}).json()["data"]
    assert [r["id"] for r in picked] == some
    cut = sorted(r["modifiedOn"] for r in exported.values())[len(exported) // 2]
    recent = v2.get(path, params={"modifiedOnOrAfter": cut, "pageSize": 5000}).json()["data"]
    assert {r["id"] for r in recent} == {i for i, r in exported.items() if r["modifiedOn"] >= cut}
