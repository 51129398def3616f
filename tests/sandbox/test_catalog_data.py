"""The catalog streams' generated data and the session API: references point at records
that exist, stamps fall in the history, the session and v2 surfaces serve the same
records, and the drift knob adds a field on both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from st_sandbox.catalog.refs import references
from st_sandbox.catalog.streams import SERVED, layout
from st_sandbox.clock import to_us_from_ts
from st_sandbox.generate import TenantData, generate
from st_sandbox.server import SandboxServer
from tests.helpers import auth_client
from tests.sandbox.catalog_support import list_params, url
from tests.sandbox.v2_support import v2_client

ANCHOR = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def data() -> TenantData:
    return generate(seed=11, customers=300, anchor=ANCHOR)


def test_every_stream_is_generated_with_unique_ids(data: TenantData) -> None:
    for stream in SERVED:
        rows = data.tables[stream.name]
        assert rows, stream.name
        if layout(stream.name).int_id:
            assert len({r["id"] for r in rows}) == len(rows), stream.name


def test_references_point_at_existing_records(data: TenantData) -> None:
    checked = 0
    for stream in SERVED:
        for field, table in references(stream.name).items():
            ids = {r["id"] for r in data.tables[table]}
            for row in data.tables[stream.name]:
                value = row[field]
                for ref in value if isinstance(value, list) else [value]:
                    assert ref is None or ref in ids, (stream.name, field, ref, table)
                    checked += ref is not None
    assert checked > 1000


def test_stamps_fall_in_the_history(data: TenantData) -> None:
    anchor_us = to_us_from_ts(ANCHOR.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    for stream in SERVED:
        for row in data.tables[stream.name]:
            created = row.get("createdOn")
            modified = row.get("modifiedOn")
            if created and modified:
                assert to_us_from_ts(created) <= to_us_from_ts(modified), stream.name
            for stamp in (created, modified):
                if stamp:
                    assert to_us_from_ts(stamp) <= anchor_us, stream.name


def test_generation_is_deterministic(data: TenantData) -> None:
    again = generate(seed=11, customers=300, anchor=ANCHOR)
    assert all(again.tables[s.name] == data.tables[s.name] for s in SERVED)


def _session_all(http: httpx.Client, path: str) -> list[Any]:
    rows: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"pageSize": 100}
        if cursor:
            params["cursor"] = cursor
        body = http.get(path, params=params).json()
        rows += body["data"]
        cursor = body["nextCursor"]
        if not body["hasMore"]:
            return rows


@pytest.mark.parametrize(
    "name", ["inventory_vendors", "payroll_locations_rates", "crm_contacts", "jpm_job_history"]
)
def test_session_and_v2_serve_the_same_records(sandbox: SandboxServer, name: str) -> None:
    stream = next(s for s in SERVED if s.name == name)
    session_http = auth_client(sandbox.base_url)
    session_rows = _session_all(session_http, stream.session_path)
    with v2_client(sandbox.base_url) as v2:
        if stream.read == "export":
            v2_rows = v2.get(url(stream, str(stream.export_path))).json()["data"]
        else:
            params = list_params(stream, pageSize=5000)
            v2_rows = v2.get(url(stream, str(stream.list_path)), params=params).json()["data"]
    key = "id" if stream.key == "id" else None
    if key:
        assert {r[key]: r for r in session_rows} == {r[key]: r for r in v2_rows}
    else:
        assert sorted(map(repr, session_rows)) == sorted(map(repr, v2_rows))
    if layout(name).int_id:
        one = session_http.get(f"{stream.session_path}/{session_rows[0]['id']}")
        assert one.status_code == 200 and one.json() == session_rows[0]


def test_drift_adds_a_field_on_both_surfaces(sandbox_factory: Any) -> None:
    server = sandbox_factory(customers=40)
    stream = next(s for s in SERVED if s.name == "inventory_vendors")
    knob = {"stream": stream.name, "field": "surpriseField", "value": 42}
    assert httpx.post(f"{server.base_url}/_sandbox/drift", json=knob).status_code == 200
    with v2_client(server.base_url) as v2:
        rows = v2.get(url(stream, str(stream.list_path)), params={"active": "Any"}).json()["data"]
    assert rows and all(r["surpriseField"] == 42 for r in rows)
    with auth_client(server.base_url) as http:
        rows = http.get(stream.session_path).json()["data"]
    assert rows and all(r["surpriseField"] == 42 for r in rows)
    known = {**knob, "field": "name"}
    assert httpx.post(f"{server.base_url}/_sandbox/drift", json=known).status_code == 400
