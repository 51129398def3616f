"""The v2 backend of the client against the sandbox's v2 surface: reads equal the dump,
writes look before they write (a replay changes nothing), every request body we send
validates against the official request schema, and secrets stay out of reprs and errors."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from st_resources.errors import AuthenticationError
from st_resources.resource import ServiceTitanResource
from st_resources.v2 import ServiceTitanV2Client, V2Settings
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.sandbox.v2_support import request_errors

APP = DEMO_APPS[0]
# (method, path pattern) of every write the client sends -> the official operation.
OPERATIONS = [
    (
        "PATCH",
        r"/jpm/v2/tenant/\d+/appointments/\d+/reschedule$",
        "jpm",
        "appointments/{id}/reschedule",
    ),
    (
        "POST",
        r"/dispatch/v2/tenant/\d+/appointment-assignments/(un)?assign-technicians$",
        "dispatch",
        None,
    ),
    (
        "PATCH",
        r"/accounting/v2/tenant/\d+/invoices/\d+/items$",
        "accounting",
        "invoices/{invoiceId}/items",
    ),
]


def _settings(base_url: str, secret: str = APP.client_secret) -> V2Settings:
    return V2Settings(
        client_id=APP.client_id,
        client_secret=SecretStr(secret),
        app_key=SecretStr(APP.app_key),
        tenant_id=SANDBOX_TENANT_ID,
        auth_url=base_url,
        api_url=base_url,
        max_retry_seconds=20,
    )


@pytest.fixture
def v2_client_for() -> Iterator[Callable[[SandboxServer], tuple[ServiceTitanV2Client, list[Any]]]]:
    made: list[ServiceTitanV2Client] = []

    def make(server: SandboxServer) -> tuple[ServiceTitanV2Client, list[Any]]:
        client = ServiceTitanV2Client(_settings(server.base_url))
        sent: list[httpx.Request] = []
        client.http.event_hooks["request"].append(sent.append)
        made.append(client)
        return client, sent

    yield make
    for client in made:
        client.close()


def _writes(server: SandboxServer) -> dict[str, int]:
    with server.tenant.stats_lock:
        return {k: v for k, v in server.tenant.stats.items() if k.startswith("write v2")}


def _check_bodies(sent: list[httpx.Request]) -> int:
    checked = 0
    for request in sent:
        if request.method not in ("POST", "PATCH") or request.url.path.endswith("/connect/token"):
            continue
        for method, pattern, module, op in OPERATIONS:
            match = re.search(pattern, request.url.path)
            if method == request.method and match:
                name = op or request.url.path.split("/v2/tenant/")[1].split("/", 1)[1]
                body = json.loads(request.content)
                assert request_errors(module, method.lower(), name, body) == [], request.url.path
                checked += 1
                break
        else:
            raise AssertionError(f"unexpected write {request.method} {request.url.path}")
    return checked


def test_dispatch_looks_before_it_writes_and_sends_official_bodies(
    sandbox_factory: Callable[..., SandboxServer], v2_client_for: Any
) -> None:
    server = sandbox_factory(customers=150)
    client, sent = v2_client_for(server)
    store = server.tenant.store
    appt = next(
        a
        for a in store.iter_records("appointments")
        if a["status"] == "Scheduled" and a["active"] and a["assignments"]
    )
    held = [x["technicianId"] for x in appt["assignments"]]
    # A year ahead nobody is booked yet, so any other technician is free then.
    tech = next(
        t["id"] for t in store.iter_records("technicians") if t["active"] and t["id"] not in held
    )
    start = datetime.fromisoformat(appt["start"].replace("Z", "+00:00")) + timedelta(days=400)
    end = datetime.fromisoformat(appt["end"].replace("Z", "+00:00")) + timedelta(days=400)
    body = {
        "appointmentId": appt["id"],
        "technicianIds": [tech],
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    first = client.dispatch(appt["jobId"], body, idempotency_key="req-1")
    assert [a.technician_id for a in first.assignments] == [tech]
    assert first.start == start
    after_first = _writes(server)
    assert after_first == {
        "write v2 reschedule": 1,
        "write v2 assign": 1,
        "write v2 unassign": 1,
    }, held
    again = client.dispatch(appt["jobId"], body, idempotency_key="req-1")
    assert _writes(server) == after_first  # the replay found everything in place
    assert again.modified_on == first.modified_on
    emptied = client.dispatch(
        appt["jobId"], {"appointmentId": appt["id"], "technicianIds": []}, idempotency_key="req-2"
    )
    assert emptied.assignments == []
    assert _writes(server)["write v2 unassign"] == 2
    assert _check_bodies(sent) == 4


def test_invoice_items_are_added_once_even_when_the_write_is_replayed(
    sandbox_factory: Callable[..., SandboxServer], v2_client_for: Any
) -> None:
    server = sandbox_factory(customers=60)
    client, sent = v2_client_for(server)
    job = next(j for j in server.tenant.store.iter_records("jobs") if j["invoiceId"])
    body = {
        "items": [
            {"description": "Filter", "quantity": "2", "unitPrice": "12.50", "taxable": True},
            {"description": "Filter", "quantity": "2", "unitPrice": "12.50", "taxable": True},
        ]
    }
    before = server.tenant.store.get("invoices", job["invoiceId"])
    assert before is not None
    first = client.create_invoice(job["id"], body, idempotency_key="inv-1")
    assert len(first.items) == len(before["items"]) + 2
    replay = client.create_invoice(job["id"], body, idempotency_key="inv-1")
    assert len(replay.items) == len(first.items)
    assert _writes(server)["write v2 invoice items"] == 2
    assert _check_bodies(sent) == 2


def test_reads_equal_the_dump_and_secrets_stay_hidden(
    sandbox: SandboxServer, v2_client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = v2_client_for(sandbox)
    customers = [r for page in client.iter_pages("/customers") for r in page.records]
    assert {c["id"]: c["modifiedOn"] for c in customers} == {
        c["id"]: c["modifiedOn"] for c in sandbox.tenant.store.iter_records("customers")
    }
    assert APP.client_secret not in repr(client) and APP.app_key not in repr(client)
    assert APP.client_secret not in repr(client.v2) and APP.client_secret not in repr(client.auth)
    wrong = ServiceTitanV2Client(_settings(sandbox.base_url, secret="cs1.wrong-secret-value"))
    with pytest.raises(AuthenticationError) as refused:
        list(wrong.iter_pages("/customers"))
    wrong.close()
    assert "ST_CLIENT_SECRET" in str(refused.value)
    assert "cs1.wrong-secret-value" not in str(refused.value)
    assert APP.client_secret not in caplog.text and APP.app_key not in caplog.text


def test_the_resource_selects_the_backend_and_says_what_is_missing(sandbox: SandboxServer) -> None:
    resource = ServiceTitanResource(
        auth="client_credentials",
        client_id=APP.client_id,
        client_secret=APP.client_secret,
        app_key=APP.app_key,
        tenant_id=str(SANDBOX_TENANT_ID),
        auth_url=sandbox.base_url,
        api_url=sandbox.base_url,
    )
    assert isinstance(resource.get_client(), ServiceTitanV2Client)
    production = ServiceTitanResource(
        auth="client_credentials", client_id="c", client_secret="s", app_key="k", tenant_id="5"
    ).v2_settings()
    assert production.api_base == "https://api.servicetitan.io"
    assert production.auth_base == "https://auth.servicetitan.io"
    integration = ServiceTitanResource(
        auth="client_credentials",
        client_id="c",
        client_secret="s",
        app_key="k",
        tenant_id="5",
        environment="integration",
    ).v2_settings()
    assert integration.api_base == "https://api-integration.servicetitan.io"
    with pytest.raises(ValueError, match="ST_APP_KEY, ST_TENANT_ID"):
        ServiceTitanResource(
            auth="client_credentials", client_id="c", client_secret="s"
        ).get_client()
    with pytest.raises(ValueError, match="ST_AUTH=client_credentials"):
        ServiceTitanResource().get_client()


def test_an_incremental_export_resumes_from_its_saved_token(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Any
) -> None:
    server = sandbox_factory(customers=80)
    settings = _settings(server.base_url).model_copy(update={"state_dir": tmp_path})
    cut = datetime.now(UTC)
    with ServiceTitanV2Client(settings) as client:
        before = [
            r["id"]
            for p in client.iter_window_pages("/jobs", cut - timedelta(days=4000), cut)
            for r in p.records
        ]
    assert sorted(before) == sorted(j["id"] for j in server.tenant.store.iter_records("jobs"))
    state = json.loads((tmp_path / f"v2-export-{SANDBOX_TENANT_ID}.json").read_text())
    assert state["jobs"]["through"].startswith(cut.strftime("%Y-%m-%dT%H:%M:%S"))
    changed = before[3]
    server.tenant.store.update("jobs", changed, {"summary": "changed after the first sync"})
    # A new process (a restarted sync) picks the token up and reads only what followed.
    with ServiceTitanV2Client(settings) as client:
        sent: list[httpx.Request] = []
        client.http.event_hooks["request"].append(sent.append)
        after = [
            r
            for p in client.iter_window_pages("/jobs", cut, cut + timedelta(days=1))
            for r in p.records
        ]
    exports = [r for r in sent if "/export/jobs" in r.url.path]
    assert exports[0].url.params["from"] == state["jobs"]["continueFrom"]
    assert [(r["id"], r["summary"]) for r in after] == [(changed, "changed after the first sync")]
