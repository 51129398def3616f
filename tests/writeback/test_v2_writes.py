"""The writes the official v2 API gained on the v2 backend, against the sandbox's v2
surface over HTTP: booking a job exactly once (found again by its ``externalData`` after
a lost answer), holding and canceling (and back), an invoice's summary, tax zone and
discounts, payments' export status; what v2 has no operation for is refused before it
is queued; the sandbox's v2 bodies are validated as the official API's are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from st_resources.backend import Backend
from st_resources.errors import ApiValidationError
from st_resources.settings import DEFAULT_APPLICATION_GUID, V2Settings
from st_resources.v2_writes_jobs import job_request
from st_resources.writeback.payloads import PayloadError, parse_payload
from st_resources.writeback.preflight import tenant_check
from st_resources.writeback.sender import prepare_body, send
from st_sandbox.config import SandboxConfig
from st_sandbox.demo import sandbox_env
from st_sandbox.demo_writes import run_demo_writes
from st_sandbox.server import SandboxServer
from tests.conftest import DEFAULT_TEST_CONFIG
from tests.sandbox.v2_support import request_errors, response_errors, tenant_path, v2_client
from tests.writeback.conftest import Harness, create_jobs, dump, future_slot, writes_sent
from tests.writeback.test_scenarios import invoice_payload
from tests.writeback.test_v2 import invoiced_completed_job

JPM = "/jpm/v2"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """One small tenant for the module: each test writes to records of its own."""
    started = SandboxServer(SandboxConfig(**{**DEFAULT_TEST_CONFIG, "customers": 80})).start()
    yield started
    started.stop()


def _booking(server: SandboxServer, summary: str, **extra: Any) -> dict[str, Any]:
    location = next(loc for loc in dump(server, "locations") if loc["active"])
    job_type = dump(server, "job_types")[0]
    start, end = future_slot(90, 9)
    return {
        "customer_id": location["customerId"],
        "location_id": location["id"],
        "business_unit_id": job_type["businessUnitIds"][0],
        "job_type_id": job_type["id"],
        "campaign_id": dump(server, "marketing_campaigns")[0]["id"],
        "summary": summary,
        "start": start,
        "end": end,
        **extra,
    }


def _reason(server: SandboxServer, table: str) -> int:
    return int(next(r["id"] for r in dump(server, table) if r["active"]))


def _appointment(server: SandboxServer, job_id: int) -> dict[str, Any]:
    [appt] = [a for a in dump(server, "appointments") if a["jobId"] == job_id]
    return appt


def _send(backend: Backend, kind: str, payload: dict[str, Any], key: str = "k") -> Any:
    model = parse_payload(kind, payload)
    job_id = payload.get("job_id")
    return backend.send_write(kind, model.api_body(), job_id=job_id, idempotency_key=key)


def test_v2_books_a_job_exactly_once_when_the_answer_was_lost(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    harness = harness_factory(server, sqlite_queue_url, backend="v2")
    queue = harness.queue
    tech = next(t["id"] for t in dump(server, "technicians") if t["active"])
    payload = _booking(server, "booked once", technician_ids=[tech])
    request = queue.submit("create_job", payload, requested_by="alice").request
    [run_request] = harness.tick().run_requests or []

    # The first attempt books the job, then dies before recording the answer.
    backend = harness.api().get_backend()
    claimed = queue.claim(request.id)
    body = prepare_body(queue, backend, claimed)
    assert (
        request_errors(JPM, "post", "jobs", job_request(body, DEFAULT_APPLICATION_GUID, "x")) == []
    )
    first = send(backend, claimed, body)
    assert not first.replayed
    before = writes_sent(server)

    assert harness.execute(run_request).success  # re-executed: finds the job, books none
    assert writes_sent(server) == before
    done = queue.get(request.id)
    assert done.status == "succeeded" and done.result is not None
    assert done.result["jobId"] == first.body["id"]
    assert done.result["appointmentIds"] == [a["id"] for a in first.body["appointments"]]
    [row] = queue.audit(request.id)
    assert row["replayed"] is True
    [job] = [j for j in dump(server, "jobs") if j["summary"] == "booked once"]
    assert job["campaignId"] == payload["campaign_id"]
    assert job["externalData"] == [{"key": "writeRequestId", "value": request.id}]
    appt = _appointment(server, job["id"])
    assert [a["technicianId"] for a in appt["assignments"]] == [tech]

    # The official jobs list finds it by its external data, and only with the guid.
    with v2_client(server.base_url) as http:
        query = {"externalDataKey": "writeRequestId", "externalDataValues": request.id}
        found = http.get(tenant_path(JPM, "jobs"), params=query).json()["data"]
        assert found == []
        query["externalDataApplicationGuid"] = DEFAULT_APPLICATION_GUID
        answer = http.get(tenant_path(JPM, "jobs"), params=query).json()
        assert [j["id"] for j in answer["data"]] == [job["id"]]
        assert response_errors(JPM, "get", "jobs", 200, answer) == []


def test_v2_holds_cancels_and_brings_back_an_appointment_looking_first(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    [job] = create_jobs(server, 1)
    backend = harness_factory(server, sqlite_queue_url, backend="v2").api().get_backend()
    hold = _reason(server, "jpm_job_hold_reasons")
    cancel = _reason(server, "jpm_job_cancel_reasons")
    steps: list[tuple[dict[str, Any], str, str]] = [
        ({"status": "Hold", "reason_id": hold, "memo": "parts"}, "Hold", "Hold"),
        ({"status": "Hold", "reason_id": hold, "memo": "parts"}, "Hold", "Hold"),
        ({"status": "Scheduled"}, "Scheduled", "Scheduled"),
        ({"status": "Canceled", "reason_id": cancel, "memo": "moved"}, "Canceled", "Canceled"),
        ({"status": "Scheduled"}, "Scheduled", "Scheduled"),
    ]
    sent = []
    for change, appt_status, job_status in steps:
        before = writes_sent(server)
        answer = _send(backend, "dispatch", {"job_id": job["id"], **change})
        sent.append(writes_sent(server) - before)
        assert answer.body["status"] == appt_status
        assert _appointment(server, job["id"])["status"] == appt_status
        [now] = [j for j in dump(server, "jobs") if j["id"] == job["id"]]
        assert now["jobStatus"] == job_status
    assert sent == [1, 0, 1, 1, 1]  # already on hold: nothing sent

    # A reason the tenant does not have is the official 400, and nothing changes.
    with pytest.raises(ApiValidationError, match="reasonId 999999"):
        _send(
            backend,
            "dispatch",
            {"job_id": job["id"], "status": "Hold", "reason_id": 999999, "memo": "x"},
        )
    assert _appointment(server, job["id"])["status"] == "Scheduled"


def test_v2_refuses_what_it_has_no_operation_for_before_queueing(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    [job] = create_jobs(server, 1)
    v2 = tenant_check(harness_factory(server, sqlite_queue_url, backend="v2").api().get_backend())
    session = tenant_check(harness_factory(server, sqlite_queue_url).api().get_backend())
    queue = harness_factory(server, sqlite_queue_url).queue
    for status in ("Dispatched", "Working", "Done"):
        with pytest.raises(PayloadError, match=f"status={status}.*mobile app"):
            queue.submit(
                "dispatch", {"job_id": job["id"], "status": status}, requested_by="a", check=v2
            )
    with pytest.raises(PayloadError, match="no reason_id or memo"):
        queue.submit(
            "dispatch", {"job_id": job["id"], "status": "Hold"}, requested_by="a", check=v2
        )
    with pytest.raises(PayloadError, match="only with its marketing campaign"):
        queue.submit(
            "create_job", _booking(server, "x", campaign_id=None), requested_by="a", check=v2
        )
    held = {"job_id": job["id"], "status": "Hold", "reason_id": 1, "memo": "m"}
    with pytest.raises(PayloadError, match="session API's dispatch takes no memo, reason_id"):
        queue.submit("dispatch", held, requested_by="a", check=session)
    statuses = {"payment_ids": [1], "status": "Exported"}
    with pytest.raises(PayloadError, match="session API has no operation for payments"):
        queue.submit("payment_status", statuses, requested_by="a", check=session)
    assert queue.recent() == []


def test_v2_invoice_sets_summary_tax_zone_and_discount_items_once(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    job = invoiced_completed_job(server)
    backend = harness_factory(server, sqlite_queue_url, backend="v2").api().get_backend()
    [before] = [i for i in dump(server, "invoices") if i["id"] == job["invoiceId"]]
    zone = next(z["id"] for z in dump(server, "tax_zones") if z["id"] != before["taxZoneId"])
    payload = invoice_payload(
        job["id"],
        discounts=[{"percent": "10"}, {"amount": "5.00"}],
        tax_zone_id=zone,
        summary="Replaced the capacitor",
    )
    first = _send(backend, "invoice", payload)
    assert not first.replayed
    [after] = [i for i in dump(server, "invoices") if i["id"] == job["invoiceId"]]
    assert after["summary"] == "Replaced the capacitor" and after["taxZoneId"] == zone
    discounts = [i for i in after["items"] if i["type"] == "PriceModifier"]
    subtotal = sum(
        (
            Decimal(i["quantity"]) * Decimal(i["price"])
            for i in after["items"]
            if i["type"] != "PriceModifier"
        ),
        Decimal(0),
    )
    tenth = (subtotal / 10).quantize(Decimal("0.01"))
    assert sorted(Decimal(i["price"]) for i in discounts) == sorted([-tenth, Decimal("-5.00")])
    assert Decimal(after["discountTotal"]) == Decimal(before["discountTotal"]) + tenth + 5
    pricebook = {d["id"]: d for d in dump(server, "pricebook_discounts_and_fees")}
    assert all(pricebook[i["skuId"]]["type"] == "Discount" for i in discounts)

    sent = writes_sent(server)
    again = _send(backend, "invoice", payload)  # a re-run: everything is in place
    assert again.replayed and writes_sent(server) == sent
    assert again.body["total"] == first.body["total"]


def test_v2_sets_payments_export_status_once(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    harness = harness_factory(server, sqlite_queue_url, backend="v2")
    ids = [p["id"] for p in dump(server, "payments")[:3]]
    request = harness.queue.submit(
        "payment_status", {"payment_ids": ids, "status": "Exported"}, requested_by="a"
    ).request
    assert [r.success for r in harness.tick_and_run()] == [True]
    done = harness.queue.get(request.id)
    assert done.status == "succeeded" and done.result == {"paymentIds": ids, "status": "Exported"}
    assert {p["id"]: p["syncStatus"] for p in dump(server, "payments") if p["id"] in ids} == {
        i: "Exported" for i in ids
    }
    sent = writes_sent(server)
    again = _send(
        harness.api().get_backend(), "payment_status", {"payment_ids": ids, "status": "Exported"}
    )
    assert again.replayed and writes_sent(server) == sent


def test_the_sandbox_validates_v2_write_bodies_as_the_official_api(server: SandboxServer) -> None:
    [job] = create_jobs(server, 1)
    appt = _appointment(server, job["id"])
    official = job_request(
        parse_payload("create_job", _booking(server, "over http")).api_body(),
        DEFAULT_APPLICATION_GUID,
        "req-1",
    )
    with v2_client(server.base_url) as http:
        missing = {k: v for k, v in official.items() if k != "campaignId"}
        answer = http.post(tenant_path(JPM, "jobs"), json=missing)
        assert answer.status_code == 400 and "campaignId" in answer.json()["title"]
        assert response_errors(JPM, "post", "jobs", 400, answer.json()) == []
        booked = http.post(tenant_path(JPM, "jobs"), json=official)
        assert booked.status_code == 200, booked.text
        assert response_errors(JPM, "post", "jobs", 200, booked.json()) == []
        hold = tenant_path(JPM, f"appointments/{appt['id']}/hold")
        assert http.put(hold, json={"reasonId": 1}).status_code == 400  # memo is required
        assert http.put(hold, json={"reasonId": 999999, "memo": "m"}).status_code == 400
        assert http.delete(hold).status_code == 409  # not on hold
        uncancel = tenant_path(JPM, f"jobs/{job['id']}/remove-cancellation")
        assert http.put(uncancel).status_code == 400  # not canceled
        assert (
            http.put(
                tenant_path(JPM, "jobs/999999999/cancel"), json={"reasonId": 2, "memo": "m"}
            ).status_code
            == 404
        )
        lookup = {"externalDataKey": "writeRequestId"}
        assert http.get(tenant_path(JPM, "jobs"), params=lookup).status_code == 400
        statuses = tenant_path("/accounting/v2", "payments/status")
        assert http.post(statuses, json={"paymentIds": [1], "status": "Done"}).status_code == 400
        assert (
            http.post(statuses, json={"paymentIds": [999999], "status": "Posted"}).status_code
            == 400
        )


def test_the_demo_books_dispatches_and_invoices_a_job_through_v2(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var, value in {**sandbox_env(server.base_url, "v2"), "ST_RATE_LIMIT": "1000"}.items():
        monkeypatch.setenv(var, value)
    before = {j["id"] for j in dump(server, "jobs")}
    ids = run_demo_writes(server.base_url, tmp_path)
    [job] = [j for j in dump(server, "jobs") if j["id"] not in before]
    assert ids["job"] == job["id"] and job["jobStatus"] == "Completed"
    assert job["invoiceId"] == ids["invoiceId"]
    [invoice] = [i for i in dump(server, "invoices") if i["id"] == ids["invoiceId"]]
    assert invoice["summary"] == "Seasonal tune-up" and Decimal(invoice["discountTotal"]) > 0
    assert [a["id"] for a in dump(server, "appointments") if a["jobId"] == job["id"]] == [
        ids["appointment"]
    ]


def test_a_bad_application_guid_says_what_to_fix() -> None:
    with pytest.raises(ValueError, match=r"ST_APPLICATION_GUID .* must be a guid such as"):
        V2Settings(client_id="c", client_secret="s", app_key="k", tenant_id=1, application_guid="x")
