"""The v2 backend against the sandbox's v2 surface: reads equal the dump, writes look
before they write (a replay changes nothing), every request body we send validates
against the official request schema, and secrets stay out of reprs and errors."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from st_contract.entities import ENTITIES_BY_NAME
from st_contract.models import Appointment
from st_contract.v2_paths import ACCOUNTING, DISPATCH, JPM
from st_resources.errors import AuthenticationError
from st_resources.resource import V2ApiResource
from st_resources.settings import V2Settings
from st_resources.v2 import V2Backend
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.sandbox.v2_support import request_errors

APP = DEMO_APPS[0]
# (method, path pattern) of every write the backend sends -> the official operation.
OPERATIONS = [
    (
        "PATCH",
        r"/jpm/v2/tenant/\d+/appointments/\d+/reschedule$",
        JPM,
        "appointments/{id}/reschedule",
    ),
    (
        "POST",
        r"/dispatch/v2/tenant/\d+/appointment-assignments/(un)?assign-technicians$",
        DISPATCH,
        None,
    ),
    (
        "PATCH",
        r"/accounting/v2/tenant/\d+/invoices/\d+/items$",
        ACCOUNTING,
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
def v2_client_for() -> Iterator[Callable[[SandboxServer], tuple[V2Backend, list[Any]]]]:
    made: list[V2Backend] = []

    def make(server: SandboxServer) -> tuple[V2Backend, list[Any]]:
        backend = V2Backend(_settings(server.base_url))
        sent: list[httpx.Request] = []
        backend.transport.http.event_hooks["request"].append(sent.append)
        made.append(backend)
        return backend, sent

    yield make
    for backend in made:
        backend.close()


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

    def dispatch(body: dict[str, Any], key: str) -> Appointment:
        result = client.send_write("dispatch", body, job_id=appt["jobId"], idempotency_key=key)
        return Appointment.model_validate(result.body)

    first = dispatch(body, "req-1")
    assert [a.technician_id for a in first.assignments] == [tech]
    assert first.start == start
    after_first = _writes(server)
    assert after_first == {
        "write v2 reschedule": 1,
        "write v2 assign": 1,
        "write v2 unassign": 1,
    }, held
    again = dispatch(body, "req-1")
    assert _writes(server) == after_first  # the replay found everything in place
    assert again.modified_on == first.modified_on
    emptied = dispatch({"appointmentId": appt["id"], "technicianIds": []}, "req-2")
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
    first = client.send_write("invoice", body, job_id=job["id"], idempotency_key="inv-1")
    assert len(first.body["items"]) == len(before["items"]) + 2 and not first.replayed
    replay = client.send_write("invoice", body, job_id=job["id"], idempotency_key="inv-1")
    assert len(replay.body["items"]) == len(first.body["items"]) and replay.replayed
    assert _writes(server)["write v2 invoice items"] == 2
    assert _check_bodies(sent) == 2


def test_reads_equal_the_dump_and_secrets_stay_hidden(
    sandbox: SandboxServer, v2_client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = v2_client_for(sandbox)
    customers = list(client.iter_records(ENTITIES_BY_NAME["customers"]))
    assert {c["id"]: c["modifiedOn"] for c in customers} == {
        c["id"]: c["modifiedOn"] for c in sandbox.tenant.store.iter_records("customers")
    }
    assert APP.client_secret not in repr(client) and APP.app_key not in repr(client)
    assert APP.client_secret not in repr(client.settings)
    assert APP.client_secret not in repr(client.transport.auth)
    wrong = V2Backend(_settings(sandbox.base_url, secret="cs1.wrong-secret-value"))
    with pytest.raises(AuthenticationError) as refused:
        list(wrong.iter_records(ENTITIES_BY_NAME["customers"]))
    wrong.close()
    assert "ST_CLIENT_SECRET" in str(refused.value)
    assert "cs1.wrong-secret-value" not in str(refused.value)
    assert APP.client_secret not in caplog.text and APP.app_key not in caplog.text


def test_the_v2_resource_builds_the_v2_backend_and_says_what_is_missing(
    sandbox: SandboxServer,
) -> None:
    resource = V2ApiResource(
        client_id=APP.client_id,
        client_secret=APP.client_secret,
        app_key=APP.app_key,
        tenant_id=SANDBOX_TENANT_ID,
        auth_url=sandbox.base_url,
        api_url=sandbox.base_url,
    )
    backend = resource.get_backend()
    assert backend.name == "v2" and backend.change_feed is None
    assert resource.get_backend() is backend  # one per process and settings
    production = V2ApiResource(client_id="c", client_secret="s", app_key="k", tenant_id=5)
    assert production.settings().api_base == "https://api.servicetitan.io"
    assert production.settings().auth_base == "https://auth.servicetitan.io"
    integration = V2ApiResource(
        client_id="c", client_secret="s", app_key="k", tenant_id=5, environment="integration"
    )
    assert integration.settings().api_base == "https://api-integration.servicetitan.io"
    with pytest.raises(ValidationError) as missing:
        V2ApiResource(client_id="c", client_secret="s")  # type: ignore[call-arg]
    assert {"app_key", "tenant_id"} <= {e["loc"][0] for e in missing.value.errors()}


def test_an_incremental_export_resumes_from_its_saved_token(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Any
) -> None:
    server = sandbox_factory(customers=80)
    settings = _settings(server.base_url).model_copy(update={"state_dir": tmp_path})
    jobs = ENTITIES_BY_NAME["jobs"]
    cut = datetime.now(UTC)

    def window(backend: V2Backend, start: datetime, end: datetime) -> list[dict[str, Any]]:
        tables = backend.iter_window_tables(jobs, start, end, datetime.now(UTC))
        return [row for table in tables for row in table.to_pylist()]

    with V2Backend(settings) as client:
        before = [r["id"] for r in window(client, cut - timedelta(days=4000), cut)]
    assert sorted(before) == sorted(j["id"] for j in server.tenant.store.iter_records("jobs"))
    state = json.loads((tmp_path / f"v2-export-{SANDBOX_TENANT_ID}.json").read_text())
    assert state["jobs"]["through"].startswith(cut.strftime("%Y-%m-%dT%H:%M:%S"))
    changed = before[3]
    server.tenant.store.update("jobs", changed, {"summary": "changed after the first sync"})
    # A new process (a restarted sync) picks the token up and reads only what followed.
    with V2Backend(settings) as client:
        sent: list[httpx.Request] = []
        client.transport.http.event_hooks["request"].append(sent.append)
        after = window(client, cut, cut + timedelta(days=1))
    exports = [r for r in sent if "/export/jobs" in r.url.path]
    assert exports[0].url.params["from"] == state["jobs"]["continueFrom"]
    assert [(r["id"], r["summary"]) for r in after] == [(changed, "changed after the first sync")]
