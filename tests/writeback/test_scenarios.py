"""The issue's scenarios on both queue backends (SQLite and PostgreSQL), with the sandbox
over HTTP and a real Dagster instance: sensor ticks, then the runs they ask for."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import dagster as dg
import httpx
import pytest

from st_resources.writeback.payloads import PayloadError
from st_resources.writeback.preflight import tenant_check
from st_resources.writeback.queue import WriteQueue
from st_resources.writeback.sender import prepare_body, send
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.server import SandboxServer
from tests.helpers import PASSWORDS
from tests.writeback.conftest import Harness, create_jobs, dump, future_slot, writes_sent

ACTIVE = {"Scheduled", "Dispatched", "Working", "Hold"}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def uninvoiced_completed_job(server: SandboxServer) -> dict[str, Any]:
    return next(
        j for j in dump(server, "jobs") if j["jobStatus"] == "Completed" and j["invoiceId"] is None
    )


def invoice_payload(job_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "items": [{"description": "Capacitor", "quantity": "2", "unit_price": "45.00"}],
        **extra,
    }


def invoices_of(server: SandboxServer, job_id: int) -> list[dict[str, Any]]:
    return [i for i in dump(server, "invoices") if i["job"]["id"] == job_id and i["active"]]


def test_100_concurrent_dispatches_never_double_book(
    server: SandboxServer, backend_queue: tuple[str, str], harness_factory: Any
) -> None:
    backend, queue_url = backend_queue
    # The official v2 API has no status operation: v2 dispatches set technicians and window.
    status = "Dispatched" if backend == "session" else None
    jobs = create_jobs(server, 100)
    techs = [t["id"] for t in dump(server, "technicians") if t["active"]][:5]
    queue = WriteQueue(queue_url)

    def submit(i: int) -> str:
        # Requests i and i + 50 want the same technician in overlapping windows.
        start, end = future_slot(30, 3 * ((i // 5) % 10) + (1 if i >= 50 else 0))
        payload = {
            "job_id": jobs[i]["id"],
            "technician_ids": [techs[i % 5]],
            "start": start,
            "end": end,
            "status": status,
        }
        return queue.submit("dispatch", payload, requested_by=f"dispatcher-{i % 4}").request.id

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(submit, range(100)))
    assert len(set(ids)) == 100

    harness: Harness = harness_factory(server, queue_url, user="dispatcher", backend=backend)
    runs = harness.tick_and_run()
    assert len(runs) == 4 and all(r.success for r in runs)  # batches of 25
    assert harness.tick().run_requests == []  # the cursor moved past every request

    requests = [queue.get(i) for i in ids]
    assert Counter(r.status for r in requests) == {"succeeded": 50, "conflict": 50}
    for r in requests:
        assert r.result, r
        if r.status == "conflict":
            assert r.result["code"] == "double_booking" and r.result["message"]
            assert r.result["details"]["technicianId"] in techs

    # Ground truth: no technician of the pool holds two overlapping active appointments.
    for tech in techs:
        windows = sorted(
            (_when(a["start"]), _when(a["end"]))
            for a in dump(server, "appointments")
            if a["active"]
            and a["status"] in ACTIVE
            and any(s["technicianId"] == tech and s["active"] for s in a["assignments"])
        )
        for (_, end), (next_start, _) in itertools.pairwise(windows):
            assert end <= next_start, f"technician {tech} is double-booked"


def test_run_killed_after_the_api_call_replays_through_the_key(
    server: SandboxServer, queue_url: str, harness_factory: Any
) -> None:
    job = uninvoiced_completed_job(server)
    harness: Harness = harness_factory(server, queue_url, user="accountant")
    queue = harness.queue
    request = queue.submit("invoice", invoice_payload(job["id"]), requested_by="alice").request
    [run_request] = harness.tick().run_requests or []
    assert run_request.run_key == request.id

    # The first run does what the op does up to the API call, then dies.
    backend = harness.resources()["servicetitan"].get_backend()
    claimed = queue.claim(request.id)
    first = send(backend, claimed, prepare_body(queue, backend, claimed))
    assert first.status_code == 201 and not first.replayed
    assert queue.get(request.id).status == "running"

    result = harness.execute(run_request)  # the re-executed run
    assert result.success
    done = queue.get(request.id)
    assert done.status == "succeeded"
    assert done.result is not None and done.result["invoiceId"] == first.body["id"]
    [row] = queue.audit(request.id)
    assert row["replayed"] is True and row["outcome"] == "succeeded"
    assert len(invoices_of(server, job["id"])) == 1


def test_the_same_business_request_twice_gives_one_invoice(
    server: SandboxServer, queue_url: str, harness_factory: Any
) -> None:
    job = uninvoiced_completed_job(server)
    harness: Harness = harness_factory(server, queue_url, user="accountant")
    queue = harness.queue
    first = queue.submit("invoice", invoice_payload(job["id"]), requested_by="alice")
    again = queue.submit("invoice", invoice_payload(job["id"]), requested_by="bob")
    other_items = queue.submit(
        "invoice", invoice_payload(job["id"], summary="retyped"), requested_by="bob"
    )
    assert not first.duplicate and again.duplicate and other_items.duplicate
    assert again.request.id == other_items.request.id == first.request.id

    assert [r.success for r in harness.tick_and_run()] == [True]
    after = queue.submit("invoice", invoice_payload(job["id"]), requested_by="carol")
    assert after.duplicate and after.request.status == "succeeded"
    assert harness.tick_and_run() == []
    assert len(invoices_of(server, job["id"])) == 1

    # A job invoiced outside the queue: the server's 409 decides, and is not retried.
    invoiced = next(j for j in dump(server, "jobs") if j["invoiceId"] is not None)
    request = queue.submit("invoice", invoice_payload(invoiced["id"]), requested_by="alice")
    assert [r.success for r in harness.tick_and_run()] == [True]
    done = queue.get(request.request.id)
    assert done.status == "conflict" and done.attempts == 1
    assert done.result is not None and done.result["code"] == "duplicate_invoice"
    assert done.result["details"]["invoiceId"] == invoiced["invoiceId"]
    assert len(invoices_of(server, invoiced["id"])) == 1


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("invoice", invoice_payload(99_999_999), "job 99999999 does not exist"),
        (
            "invoice",
            invoice_payload(1, items=[{"description": "x", "quantity": "-1", "unit_price": "1"}]),
            "items.0.quantity",
        ),
        (
            "dispatch",
            {"job_id": 1, "start": "2026-05-01T11:00:00Z", "end": "2026-05-01T09:00:00Z"},
            "must end after it starts",
        ),
        ("invoice", invoice_payload(1, summary="x" * 10_000_000), "the limit is"),
        ("dispatch", {"job_id": "twelve", "technician_ids": ["x"]}, "job_id"),
        ("create_job", {"customer_id": 1}, "location_id"),
        ("refund", {"job_id": 1}, "unknown request kind"),
    ],
    ids=["unknown-job", "negative-quantity", "window", "10MB", "wrong-types", "missing", "kind"],
)
def test_bad_payloads_are_refused_before_anything_is_stored_or_sent(
    server: SandboxServer, queue_url: str, kind: str, payload: Any, message: str
) -> None:
    queue = WriteQueue(queue_url)
    check = tenant_check(_backend(server, "accountant"))
    with pytest.raises(PayloadError, match=message):
        queue.submit(kind, payload, requested_by="alice", check=check)
    assert queue.recent() == []
    assert writes_sent(server) == 0


def test_an_invoice_for_a_job_not_completed_is_refused(
    server: SandboxServer, queue_url: str
) -> None:
    queue = WriteQueue(queue_url)
    job = next(j for j in dump(server, "jobs") if j["jobStatus"] == "Scheduled")
    check = tenant_check(_backend(server, "accountant"))
    with pytest.raises(PayloadError, match=r"is Scheduled; only Completed jobs can be invoiced"):
        queue.submit("invoice", invoice_payload(job["id"]), requested_by="alice", check=check)
    assert queue.recent() == [] and writes_sent(server) == 0


def test_the_audit_log_has_one_row_per_attempt_and_no_secret(
    server: SandboxServer, queue_url: str, harness_factory: Any
) -> None:
    job = uninvoiced_completed_job(server)
    # One 503 on the invoice route, and a backend that does not retry it itself: the op's
    # RetryPolicy retries with the same Idempotency-Key.
    httpx.post(
        f"{server.base_url}/_sandbox/faults",
        json={"targeted": [{"route": f"/jobs/{job['id']}/invoices", "nth": 1, "status": 503}]},
    )
    accountant: Harness = harness_factory(
        server, queue_url, user="accountant", api_options={"max_attempts": 1}
    )
    queue = accountant.queue
    paid = queue.submit(
        "invoice",
        invoice_payload(job["id"], payment={"method": "card", "token": "tok_visa"}),
        requested_by="alice",
    ).request
    assert [r.success for r in accountant.tick_and_run()] == [True]

    # The dispatcher may not invoice: 403, rejected, one attempt.
    other = next(
        j
        for j in dump(server, "jobs")
        if j["jobStatus"] == "Completed" and j["invoiceId"] is None and j["id"] != job["id"]
    )
    refused = queue.submit("invoice", invoice_payload(other["id"]), requested_by="bob").request
    dispatcher: Harness = harness_factory(server, queue_url, user="dispatcher")
    dispatcher.cursors = dict(accountant.cursors)
    assert [r.success for r in dispatcher.tick_and_run()] == [True]

    done = queue.get(paid.id)
    assert done.status == "succeeded" and done.attempts == 2
    rows = queue.audit(paid.id)
    assert [r["outcome"] for r in rows] == ["transient_error", "succeeded"]
    assert [r["attempt"] for r in rows] == [1, 2]
    assert rows[0]["http_status"] == 503 and rows[1]["api_request_id"]
    assert all(r["requested_by"] == "alice" and r["run_id"] for r in rows)
    assert len(invoices_of(server, job["id"])) == 1

    rejected = queue.get(refused.id)
    assert rejected.status == "rejected" and rejected.attempts == 1
    [row] = queue.audit(refused.id)
    assert row["http_status"] == 403 and row["error_code"] == "forbidden"
    assert len(queue.audit()) == done.attempts + rejected.attempts

    text = json.dumps(queue.audit(), default=str) + json.dumps(
        [queue.get(i).to_json() for i in (paid.id, refused.id)], default=str
    )
    for secret in (*PASSWORDS.values(), DEMO_TOTP_SECRET, "tok_visa", "Bearer", "at_", "rt_"):
        assert secret not in text


def _backend(server: SandboxServer, user: str) -> Any:
    from tests.writeback.conftest import api_resource

    return api_resource(server.base_url, user, _token_dir()).get_backend()


def _token_dir() -> Any:
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="st-wb-tokens-"))


def _launched(tick: dg.SensorResult) -> list[str]:
    """The request ids a tick launched, a batch of them per run."""
    return [
        request_id
        for run in tick.run_requests or []
        for op in (run.run_config or {})["ops"].values()
        for request_id in op["config"]["request_ids"]
    ]


def test_the_sensor_cursor_never_skips_a_request_committed_during_a_tick(
    server: SandboxServer, queue_url: str, harness_factory: Any
) -> None:
    queue = WriteQueue(queue_url)
    harness: Harness = harness_factory(server, queue_url)
    keys: list[str] = []

    def submit(i: int) -> str:
        payload = {"job_id": 1 + i, "technician_ids": [1 + i % 7]}
        return queue.submit("dispatch", payload, requested_by="load").request.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(submit, i) for i in range(60)]
        while not all(f.done() for f in futures):
            keys += _launched(harness.tick())
        ids = {f.result() for f in futures}
    keys += _launched(harness.tick())
    assert sorted(keys) == sorted(ids)  # each request once, none skipped
