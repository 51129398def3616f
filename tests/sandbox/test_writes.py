"""Write rules over HTTP: jobs, dispatch transitions, double booking, invoices, idempotency, roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from st_sandbox.server import SandboxServer
from tests.helpers import auth_client, read_all


@pytest.fixture
def server(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory(customers=120)


@pytest.fixture
def admin(server: SandboxServer) -> Iterator[httpx.Client]:
    with auth_client(server.base_url, "dispatcher") as http:
        yield http


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_job(
    http: httpx.Client, start: datetime, techs: list[int], key: str | None = None
) -> httpx.Response:
    customer = read_all(http, "/customers", active="true")[0][0]
    location = http.get("/locations", params={"pageSize": 5000}).json()["data"]
    loc = next(loc for loc in location if loc["customerId"] == customer["id"])
    job_type = http.get("/job-types").json()["data"][0]
    body = {
        "customerId": customer["id"],
        "locationId": loc["id"],
        "businessUnitId": job_type["businessUnitIds"][0],
        "jobTypeId": job_type["id"],
        "summary": "No cooling upstairs",
        "appointment": {
            "start": _iso(start),
            "end": _iso(start + timedelta(hours=2)),
            "arrivalWindowStart": _iso(start),
            "arrivalWindowEnd": _iso(start + timedelta(hours=1)),
        },
        "technicianIds": techs,
    }
    headers = {"Idempotency-Key": key} if key else {}
    return http.post("/jobs", json=body, headers=headers)


def _free_slot() -> datetime:
    # Far in the future: no generated appointment is there.
    return datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=400)


def test_double_booking_is_refused_with_the_conflicting_appointment(admin: httpx.Client) -> None:
    start = _free_slot()
    first = _new_job(admin, start, [1])
    assert first.status_code == 201, first.text
    appt_id = first.json()["appointments"][0]["id"]
    clash = _new_job(admin, start + timedelta(hours=1), [1])
    assert clash.status_code == 409
    error = clash.json()["error"]
    assert error["code"] == "double_booking"
    assert error["details"]["conflictingAppointmentId"] == appt_id
    ok = _new_job(admin, start + timedelta(hours=2), [1])  # back to back is fine
    assert ok.status_code == 201


def test_dispatch_follows_the_product_rules(admin: httpx.Client) -> None:
    job = _new_job(admin, _free_slot() + timedelta(days=1), []).json()
    job_id = job["id"]
    dispatch = lambda body, **h: admin.patch(f"/jobs/{job_id}/dispatch", json=body, headers=h)  # noqa: E731
    no_tech = dispatch({"status": "Dispatched"})
    assert no_tech.status_code == 409 and no_tech.json()["error"]["code"] == "invalid_transition"
    assigned = dispatch({"technicianIds": [2]})
    assert assigned.status_code == 200
    etag = assigned.headers["etag"]
    assert dispatch({"status": "Done"}).json()["error"]["code"] == "invalid_transition"
    assert dispatch({"status": "Dispatched"}, **{"If-Match": etag}).status_code == 200
    stale = dispatch({"status": "Working"}, **{"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_mismatch"
    unassign = dispatch({"technicianIds": []})
    assert unassign.status_code == 409
    assert dispatch({"status": "Working"}).json()["arrivedOn"]
    assert dispatch({"status": "Done"}).json()["status"] == "Done"
    assert admin.get(f"/jobs/{job_id}").json()["jobStatus"] == "Completed"
    assert dispatch({"status": "Scheduled"}).status_code == 409  # Done is final


def test_invoice_rules_arithmetic_and_duplicate(server: SandboxServer, admin: httpx.Client) -> None:
    job = _new_job(admin, _free_slot() + timedelta(days=2), [3]).json()
    with auth_client(server.base_url, "accountant") as accountant:
        items = {
            "items": [
                {
                    "description": "Capacitor",
                    "quantity": "2",
                    "unitPrice": "45.00",
                    "taxable": True,
                },
                {"description": "Labor", "quantity": "1", "unitPrice": "129.00", "taxable": False},
            ],
            "discounts": [{"percent": "10"}],
            "taxZoneId": 2,
        }
        early = accountant.post(f"/jobs/{job['id']}/invoices", json=items)
        assert early.status_code == 422 and early.json()["error"]["code"] == "job_not_completed"
        for status in ("Dispatched", "Working", "Done"):
            assert (
                admin.patch(f"/jobs/{job['id']}/dispatch", json={"status": status}).status_code
                == 200
            )
        forbidden = admin.post(f"/jobs/{job['id']}/invoices", json=items)
        assert forbidden.status_code == 403
        declined = accountant.post(
            f"/jobs/{job['id']}/invoices",
            json={**items, "payment": {"method": "card", "token": "tok_declined"}},
        )
        assert declined.json()["error"]["code"] == "payment_declined"
        created = accountant.post(
            f"/jobs/{job['id']}/invoices",
            json={**items, "payment": {"method": "card", "token": "tok_visa", "amount": "100.00"}},
        )
        assert created.status_code == 201, created.text
        invoice = created.json()
        # Travis County 8.25 %: see tests/sandbox/test_money.py for the hand calculation.
        assert (
            invoice["subTotal"],
            invoice["discountTotal"],
            invoice["salesTax"],
            invoice["total"],
        ) == ("219.00", "21.90", "6.68", "203.78")
        assert Decimal(invoice["balance"]) == Decimal("103.78")
        again = accountant.post(f"/jobs/{job['id']}/invoices", json=items)
        assert again.status_code == 409
        assert again.json()["error"]["details"]["invoiceId"] == invoice["id"]


def test_idempotency_key_replays_and_refuses_reuse(admin: httpx.Client) -> None:
    start = _free_slot() + timedelta(days=3)
    first = _new_job(admin, start, [4], key="job-key-1")
    replay = _new_job(admin, start, [4], key="job-key-1")
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    other = _new_job(admin, start + timedelta(days=1), [4], key="job-key-1")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_roles_and_bad_bodies(server: SandboxServer, admin: httpx.Client) -> None:
    with auth_client(server.base_url, "readonly") as readonly:
        assert _new_job(readonly, _free_slot(), []).status_code == 403
    bad_bodies = [
        b"{not json",
        b'{"customerId": "x"}',
        b'{"customerId": 1, "locationId": 1, "businessUnitId": 1, "jobTypeId": 1, "appointment": {"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T09:00:00Z"}}',
        b'{"customerId": 1, "unknownField": 1}',
        b"[]",
    ]
    for raw in bad_bodies:
        answer = admin.post("/jobs", content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code in (400, 422), raw
        assert answer.json()["error"]["message"]
    huge = admin.post(
        "/jobs", content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert huge.status_code == 413
    assert admin.patch("/jobs/999999999/dispatch", json={"status": "Hold"}).status_code == 404
