"""The write-back on the official v2 API backend (``ST_BACKEND=v2``).

v2 has no idempotency keys: the backend looks before it writes, so a re-executed run finds
its change in place and sends nothing. What v2 cannot do (move an appointment to
Dispatched, Working or Done, take a payment, book without a campaign) ends the request
``rejected`` with a message, never a crash or a retry. The writes v2 gained (booking,
hold, cancel, invoice summary, tax zone and discounts, payments' status) are in
``test_v2_writes.py``.
The 100-dispatch scenario runs on v2 too (test_scenarios.py, ``backend_queue``). These
tests use the SQLite queue: the queue's backend is covered by the session scenarios.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from st_contract.v2_paths import V2_PATHS, tenant_path
from st_resources.resource import resource_from_env
from st_resources.writeback.cli import main
from st_resources.writeback.payloads import PayloadError
from st_resources.writeback.preflight import tenant_check
from st_resources.writeback.queue import WriteQueue
from st_resources.writeback.sender import prepare_body, send
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.writeback.conftest import (
    Harness,
    api_calls,
    create_jobs,
    dump,
    future_slot,
    writes_sent,
)
from tests.writeback.test_scenarios import invoice_payload, uninvoiced_completed_job

UNSUPPORTED = "official v2 API has no operation"


def invoiced_completed_job(server: SandboxServer, skip: int = 0) -> dict[str, Any]:
    jobs = [
        j
        for j in dump(server, "jobs")
        if j["jobStatus"] == "Completed" and j["invoiceId"] is not None
    ]
    return jobs[skip]


def invoice_items(server: SandboxServer, invoice_id: int) -> list[dict[str, Any]]:
    [invoice] = [i for i in dump(server, "invoices") if i["id"] == invoice_id]
    return list(invoice["items"])


def items_route(invoice_id: int) -> str:
    """The v2 route that adds an invoice's items (for targeted faults)."""
    return tenant_path(
        SANDBOX_TENANT_ID, V2_PATHS["invoices"].prefix, f"invoices/{invoice_id}/items"
    )


def test_v2_dispatch_re_executed_after_the_api_call_changes_the_appointment_once(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    [job] = create_jobs(server, 1)
    tech = next(t["id"] for t in dump(server, "technicians") if t["active"])
    start, end = future_slot(50, 9)
    harness = harness_factory(server, sqlite_queue_url, backend="v2")
    queue = harness.queue
    payload = {"job_id": job["id"], "technician_ids": [tech], "start": start, "end": end}
    request = queue.submit("dispatch", payload, requested_by="alice").request
    assert queue.submit("dispatch", payload, requested_by="bob").duplicate
    [run_request] = harness.tick().run_requests or []

    # The first run gets as far as the API calls (reschedule + assign), then dies.
    backend = harness.api().get_backend()
    before = writes_sent(server)
    claimed = queue.claim(request.id)
    first = send(backend, claimed, prepare_body(queue, backend, claimed))
    assert not first.replayed and writes_sent(server) == before + 2

    assert harness.execute(run_request).success  # the re-executed run looks, finds, skips
    assert writes_sent(server) == before + 2
    done = queue.get(request.id)
    assert done.status == "succeeded" and done.result is not None
    assert done.result["technicianIds"] == [tech]
    [row] = queue.audit(request.id)
    assert row["replayed"] is True and row["outcome"] == "succeeded"
    [appointment] = [a for a in dump(server, "appointments") if a["jobId"] == job["id"]]
    assert [a["technicianId"] for a in appointment["assignments"] if a["active"]] == [tech]
    assert appointment["start"].startswith(start[:19])


def test_v2_invoice_adds_the_items_to_the_jobs_invoice_once(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    job = invoiced_completed_job(server)
    items_before = invoice_items(server, job["invoiceId"])
    harness = harness_factory(server, sqlite_queue_url, backend="v2")
    queue = harness.queue
    first = queue.submit("invoice", invoice_payload(job["id"]), requested_by="alice")
    assert queue.submit("invoice", invoice_payload(job["id"]), requested_by="bob").duplicate
    [run_request] = harness.tick().run_requests or []

    backend = harness.api().get_backend()
    claimed = queue.claim(first.request.id)
    answer = send(backend, claimed, prepare_body(queue, backend, claimed))
    assert not answer.replayed and answer.body["id"] == job["invoiceId"]
    assert harness.execute(run_request).success  # re-executed: the item is already there

    done = queue.get(first.request.id)
    assert done.status == "succeeded" and done.result is not None
    assert done.result["invoiceId"] == job["invoiceId"]
    [row] = queue.audit(first.request.id)
    assert row["replayed"] is True
    added = invoice_items(server, job["invoiceId"])[len(items_before) :]
    assert [(i["description"], Decimal(i["quantity"])) for i in added] == [("Capacitor", 2)]
    assert queue.submit("invoice", invoice_payload(job["id"]), requested_by="carol").duplicate


def test_v2_invoice_of_a_job_without_an_invoice_is_a_conflict_that_says_why(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    # Officially every job has an invoice from its creation; the sandbox's never-invoiced
    # jobs answer invoiceId null, and v2 has no operation that creates an invoice.
    job = uninvoiced_completed_job(server)
    harness = harness_factory(server, sqlite_queue_url, backend="v2")
    request = harness.queue.submit("invoice", invoice_payload(job["id"]), requested_by="a").request
    before = writes_sent(server)
    assert [r.success for r in harness.tick_and_run()] == [True]
    done = harness.queue.get(request.id)
    assert done.status == "conflict" and done.attempts == 1 and done.result is not None
    assert done.result["code"] == "no_invoice"
    assert "cannot create one" in done.result["message"]
    assert writes_sent(server) == before

    # Submitted with the tenant check, it is refused before it is stored.
    check = tenant_check(harness.api().get_backend())
    other = next(
        j
        for j in dump(server, "jobs")
        if j["jobStatus"] == "Completed" and j["invoiceId"] is None and j["id"] != job["id"]
    )
    with pytest.raises(PayloadError, match=f"job {other['id']} has no invoice"):
        harness.queue.submit("invoice", invoice_payload(other["id"]), requested_by="b", check=check)
    with pytest.raises(PayloadError, match="drop the payment"):
        payload = invoice_payload(
            invoiced_completed_job(server)["id"], payment={"method": "card", "token": "tok_visa"}
        )
        harness.queue.submit("invoice", payload, requested_by="b", check=check)


def test_v2_operations_without_an_official_counterpart_are_rejected_not_retried(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    [job] = create_jobs(server, 1)
    location = next(loc for loc in dump(server, "locations") if loc["active"])
    job_type = dump(server, "job_types")[0]
    start, end = future_slot(60, 9)
    harness = harness_factory(server, sqlite_queue_url, backend="v2")
    queue = harness.queue
    ids = [
        queue.submit(kind, payload, requested_by="alice").request.id
        for kind, payload in (
            (
                "create_job",
                {
                    "customer_id": location["customerId"],
                    "location_id": location["id"],
                    "business_unit_id": job_type["businessUnitIds"][0],
                    "job_type_id": job_type["id"],
                    "start": start,
                    "end": end,
                },
            ),
            ("dispatch", {"job_id": job["id"], "status": "Dispatched"}),
            (
                "invoice",
                invoice_payload(
                    invoiced_completed_job(server)["id"],
                    payment={"method": "card", "token": "tok_visa"},
                ),
            ),
        )
    ]
    before = writes_sent(server)
    assert [r.success for r in harness.tick_and_run()] == [True, True, True]
    assert writes_sent(server) == before
    reasons = ("its marketing campaign", UNSUPPORTED, UNSUPPORTED)
    for request_id, why in zip(ids, reasons, strict=True):
        done = queue.get(request_id)
        assert done.status == "rejected" and done.attempts == 1, done
        assert done.result is not None and done.result["code"] == "unsupported"
        assert why in done.result["message"], done.result


def test_v2_audit_under_a_fault_expiring_tokens_and_a_read_only_app_leaks_no_secret(
    sandbox_factory: Callable[..., SandboxServer],
    sqlite_queue_url: str,
    harness_factory: Callable[..., Harness],
) -> None:
    server = sandbox_factory(token_ttl=1)
    job = invoiced_completed_job(server)
    items_before = len(invoice_items(server, job["invoiceId"]))
    # One 503 on the invoice's items route, and a backend that does not retry it itself:
    # the op's RetryPolicy retries, and the retry looks before it writes.
    httpx.post(
        f"{server.base_url}/_sandbox/faults",
        json={"targeted": [{"route": items_route(job["invoiceId"]), "nth": 1, "status": 503}]},
    )
    writer = harness_factory(
        server, sqlite_queue_url, backend="v2", api_options={"max_attempts": 1}
    )
    queue = writer.queue
    paid = queue.submit("invoice", invoice_payload(job["id"]), requested_by="alice").request
    assert [r.success for r in writer.tick_and_run()] == [True]
    time.sleep(1.2)  # every token issued so far has expired

    # The read-only app may not dispatch: 403, rejected, one attempt.
    [other] = create_jobs(server, 1)
    tech = next(t["id"] for t in dump(server, "technicians") if t["active"])
    refused = queue.submit(
        "dispatch", {"job_id": other["id"], "technician_ids": [tech]}, requested_by="bob"
    ).request
    reader = harness_factory(server, sqlite_queue_url, backend="v2-readonly")
    reader.cursors = dict(writer.cursors)
    assert [r.success for r in reader.tick_and_run()] == [True]

    done = queue.get(paid.id)
    assert done.status == "succeeded" and done.attempts == 2
    rows = queue.audit(paid.id)
    assert [r["outcome"] for r in rows] == ["transient_error", "succeeded"]
    assert rows[0]["http_status"] == 503 and all(r["run_id"] for r in rows)
    assert len(invoice_items(server, job["invoiceId"])) == items_before + 1
    rejected = queue.get(refused.id)
    assert rejected.status == "rejected" and rejected.attempts == 1
    [row] = queue.audit(refused.id)
    assert row["http_status"] == 403
    assert len(queue.audit()) == done.attempts + rejected.attempts
    stats = httpx.get(f"{server.base_url}/_sandbox/stats").json()
    assert stats["requests"]["v2 token"] >= 2  # tokens expired and were renewed

    text = json.dumps(queue.audit(), default=str) + json.dumps(
        [queue.get(i).to_json() for i in (paid.id, refused.id)], default=str
    )
    tokens = [
        h.api().get_backend().transport.auth._token  # type: ignore[attr-defined]
        for h in (writer, reader)
    ]
    secrets = [s for app in DEMO_APPS[:2] for s in (app.client_secret, app.app_key)]
    for secret in (*secrets, *filter(None, tokens), "tok_visa", "Bearer"):
        assert secret not in text


def _v2_env(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, tmp: Path, selector: dict[str, str]
) -> None:
    """The code location's environment for the sandbox's v2 surface as the demo app."""
    app = DEMO_APPS[0]
    for var in ("ST_BACKEND", "ST_AUTH", "ST_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    for var, value in {
        **selector,
        "ST_CLIENT_ID": app.client_id,
        "ST_CLIENT_SECRET": app.client_secret,
        "ST_APP_KEY": app.app_key,
        "ST_TENANT_ID": str(SANDBOX_TENANT_ID),
        "ST_AUTH_URL": server.base_url,
        "ST_API_URL": server.base_url,
        "ST_RATE_LIMIT": "1000",
        "DAGSTER_HOME": str(tmp / "home"),
    }.items():
        monkeypatch.setenv(var, value)


def test_v2_cli_checks_the_tenant_and_the_code_locations_jobs_write_through_v2(
    server: SandboxServer,
    sqlite_queue_url: str,
    harness_factory: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # The older selector still selects v2 (ST_BACKEND=v2 is the documented one).
    _v2_env(monkeypatch, server, tmp_path, {"ST_AUTH": "client_credentials"})
    items = tmp_path / "items.json"
    items.write_text(json.dumps([{"description": "Fan", "quantity": "1", "unit_price": "9"}]))

    def submit(job_id: int) -> int:
        argv = ["--db-url", sqlite_queue_url, "submit", "--requested-by", "alice", "invoice"]
        return main([*argv, "--job", str(job_id), "--items", str(items)])

    no_invoice = uninvoiced_completed_job(server)
    assert submit(no_invoice["id"]) == 2
    assert f"job {no_invoice['id']} has no invoice" in capsys.readouterr().err
    job = invoiced_completed_job(server, skip=1)
    assert submit(job["id"]) == 0
    request_id = json.loads(capsys.readouterr().out)["id"]

    harness = harness_factory(server, sqlite_queue_url, backend="env")
    assert [r.success for r in harness.tick_and_run()] == [True]
    assert harness.queue.get(request_id).status == "succeeded"
    assert invoice_items(server, job["invoiceId"])[-1]["description"] == "Fan"
    # Auto-invoice bills from estimates with discounts and tax zones: session API only.
    auto = (
        harness.defs().resolve_job_def("auto_invoice").execute_in_process(instance=harness.instance)
    )
    assert auto.success and auto.output_for_node("submit_auto_invoices") == 0
    assert harness.queue.recent(kind="invoice") == [harness.queue.get(request_id)]

    dispatch = ["--db-url", sqlite_queue_url, "submit", "dispatch", "--job", str(job["id"])]
    assert main([*dispatch, "--status", "Dispatched"]) == 2
    assert "none moves an appointment to Dispatched" in capsys.readouterr().err

    monkeypatch.delenv("ST_APP_KEY")
    assert submit(job["id"]) == 2
    assert "set ST_APP_KEY, or pass --no-check" in capsys.readouterr().err


def test_a_write_the_v2_backend_cannot_send_is_refused_before_it_is_queued(
    server: SandboxServer,
    sqlite_queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _v2_env(monkeypatch, server, tmp_path, {"ST_BACKEND": "v2"})
    location = next(loc for loc in dump(server, "locations") if loc["active"])
    job_type = dump(server, "job_types")[0]
    start, end = future_slot(70, 9)
    before = api_calls(server)
    argv = ["--db-url", sqlite_queue_url, "submit", "--requested-by", "alice", "create-job"]
    argv += ["--customer", str(location["customerId"]), "--location", str(location["id"])]
    argv += ["--business-unit", str(job_type["businessUnitIds"][0])]
    argv += ["--job-type", str(job_type["id"]), "--start", start, "--end", end]
    assert main(argv) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("refused: the official v2 API books a job only with its marketing")
    assert "give campaign_id (--campaign;" in refused
    assert WriteQueue(sqlite_queue_url).recent() == []
    assert api_calls(server) == before  # declared, not discovered: not even a token

    # From Python, the same check refuses before the queue stores anything.
    backend = resource_from_env().process_config_and_initialize().get_backend()
    with pytest.raises(PayloadError, match="has no operation for an invoice's payment"):
        WriteQueue(sqlite_queue_url).submit(
            "invoice",
            invoice_payload(1, payment={"method": "card", "token": "tok_visa"}),
            requested_by="alice",
            check=tenant_check(backend),
        )
    assert WriteQueue(sqlite_queue_url).recent() == [] and api_calls(server) == before
