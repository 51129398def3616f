"""Pure helpers of the write-back: payload validation, business keys, scrubbing, the
sensor's cursor and run requests, the guard's overlap rule and the auto-invoice builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
from pydantic import SecretStr

from st_assets.defs.names import asset_key
from st_assets.defs.writeback.sensors import affected_assets
from st_assets.writes.cursor import dump_cursor, parse_cursor
from st_assets.writes.sensors import batches, run_request_for, run_request_for_batch
from st_contract.models import Estimate, Job, Location, MembershipSummary, MembershipType
from st_resources.errors import UnsupportedOperation
from st_resources.session import SESSION_CAPABILITIES
from st_resources.settings import V2Settings
from st_resources.v2 import V2_CAPABILITIES, V2Backend
from st_resources.writeback.auto_invoice import build_invoice, membership_discount
from st_resources.writeback.guard import Booking, overlapping
from st_resources.writeback.payloads import (
    MAX_PAYLOAD_BYTES,
    NO_CAMPAIGN,
    NO_REASON,
    DispatchPayload,
    InvoicePayload,
    PayloadError,
    parse_payload,
    payload_json,
)
from st_resources.writeback.queue import WriteQueue, business_key, scrub

T0 = datetime(2026, 5, 1, 9, tzinfo=UTC)
STAMP = "2026-01-01T00:00:00Z"


def test_a_dispatch_payload_becomes_the_api_body_in_utc() -> None:
    payload = parse_payload(
        "dispatch",
        {
            "job_id": 7,
            "technician_ids": [3, 4],
            "start": "2026-05-01T11:00:00+02:00",
            "end": "2026-05-01T11:00:00Z",
            "status": "Dispatched",
        },
    )
    assert payload.api_body() == {
        "technicianIds": [3, 4],
        "start": "2026-05-01T09:00:00.000000Z",
        "end": "2026-05-01T11:00:00.000000Z",
        "status": "Dispatched",
    }


def test_an_invoice_payload_keeps_money_as_decimal_strings() -> None:
    payload = parse_payload(
        "invoice",
        {
            "job_id": 7,
            "items": [{"sku_id": 5, "quantity": 2, "unit_price": "45.10"}],
            "discounts": [{"percent": "10"}, {"amount": "25.00"}],
            "payment": {"method": "card", "token": "tok_visa"},
        },
    )
    body = payload.api_body()
    assert body["items"] == [{"skuId": 5, "quantity": "2", "unitPrice": "45.10", "taxable": True}]
    assert body["discounts"] == [{"percent": "10"}, {"amount": "25.00"}]
    assert body["payment"] == {"method": "card", "token": "tok_visa"}


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("dispatch", {"job_id": 1, "start": "2026-05-01T09:00:00Z"}, "give both start and end"),
        (
            "dispatch",
            {"job_id": 1, "start": "2026-05-01T09:00:00", "end": "2026-05-01T10:00:00"},
            "timezone",
        ),
        ("dispatch", {"job_id": 1, "technician_ids": ["any", 3]}, "technician_ids"),
        ("dispatch", {"job_id": 1, "technician_ids": ["any"]}, "needs start and end"),
        ("dispatch", {"job_id": 1, "technician_ids": [3, 3]}, "duplicates"),
        ("dispatch", {"job_id": 0}, "job_id: Input should be greater than 0"),
        ("dispatch", {"job_id": 1, "status": "Teleported"}, "status"),
        ("dispatch", {"job_id": 1, "colour": "red"}, "colour: Extra inputs are not permitted"),
        ("invoice", {"job_id": 1, "items": []}, "items: List should have at least 1 item"),
        ("invoice", {"job_id": 1, "items": [{"quantity": 1, "unit_price": 1}]}, "sku_id"),
        (
            "invoice",
            {"job_id": 1, "items": [{"description": "x", "quantity": 1, "unit_price": "-1"}]},
            "unit_price",
        ),
        (
            "invoice",
            {
                "job_id": 1,
                "items": [{"description": "x", "quantity": 1, "unit_price": 1}],
                "discounts": [{"percent": 5, "amount": 5}],
            },
            "exactly one of percent or amount",
        ),
        (
            "invoice",
            {
                "job_id": 1,
                "items": [{"description": "x", "quantity": 1, "unit_price": 1}],
                "payment": {"method": "card", "token": "4111 1111 1111 1111"},
            },
            "payment.token",
        ),
        ("invoice", "{not json", "invalid invoice payload"),
    ],
)
def test_bad_payloads_say_what_to_fix(kind: str, payload: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_payload(kind, payload)


def test_a_huge_payload_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadError, match="bytes; the limit is"):
        parse_payload("invoice", '{"job_id": 1, "summary": "' + "x" * MAX_PAYLOAD_BYTES + '"}')


def test_business_keys_group_invoices_by_job_and_other_requests_by_content() -> None:
    item = [{"description": "x", "quantity": 1, "unit_price": 1}]
    one = parse_payload("invoice", {"job_id": 4, "items": item})
    other = parse_payload("invoice", {"job_id": 4, "items": item, "summary": "again"})
    assert business_key("invoice", one) == business_key("invoice", other) == "invoice:job:4"
    a = parse_payload("dispatch", {"job_id": 4, "technician_ids": [1]})
    b = parse_payload("dispatch", {"job_id": 4, "technician_ids": [2]})
    assert business_key("dispatch", a) != business_key("dispatch", b)
    assert business_key("dispatch", a) == business_key(
        "dispatch", parse_payload("dispatch", payload_json(a))
    )


def test_scrub_drops_secret_fields_and_masks_secret_shapes() -> None:
    value = {
        "payment": {"method": "card", "token": "tok_visa"},
        "note": "Authorization: Bearer abc.def.ghi",
        "items": [{"password": "x", "ok": 1}],
    }
    assert scrub(value) == {
        "payment": {"method": "card"},
        "note": "Authorization: Bearer [REDACTED]",
        "items": [{"ok": 1}],
    }


@pytest.mark.parametrize(
    ("cursor", "value"),
    [
        (None, 0),
        ("", 0),
        ('{"queue": "q1", "seq": 42}', 42),
        ('{"queue": "q0", "seq": 42}', 0),  # another queue: start over
        ("42", 0),  # the old plain-number cursor names no queue
    ],
)
def test_parse_cursor(cursor: str | None, value: int) -> None:
    assert parse_cursor(cursor, "q1") == value
    assert parse_cursor(dump_cursor("q1", 7), "q1") == 7


@pytest.mark.parametrize("cursor", ["abc", '{"queue": "q1", "seq": -1}'])
def test_a_bad_cursor_is_an_error(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        parse_cursor(cursor, "q1")


def test_the_run_request_of_a_write_request_is_keyed_by_its_id(tmp_path: Any) -> None:
    queue = WriteQueue(f"sqlite:///{tmp_path / 'q.sqlite'}")
    request = queue.submit("dispatch", {"job_id": 3, "technician_ids": [1]}, requested_by="al")
    run = run_request_for(request.request)
    assert isinstance(run, dg.RunRequest)
    assert run.run_key == request.request.id
    assert run.job_name == "writeback_dispatch"
    assert run.run_config == {
        "ops": {"send_dispatch": {"config": {"request_ids": [request.request.id]}}}
    }
    assert run.tags["writeback/requested_by"] == "al"
    assert run.tags[f"writeback_request/{request.request.id}"] == "1"


def test_pending_requests_go_out_in_batches_of_one_kind(tmp_path: Any) -> None:
    queue = WriteQueue(f"sqlite:///{tmp_path / 'q.sqlite'}")
    for job in range(1, 31):
        queue.submit("dispatch", {"job_id": job, "technician_ids": [1]}, requested_by="al")
    queue.submit("create_job", _create_job(), requested_by="bo")
    pending = queue.pending_after(0)
    found = list(batches(pending, size=25))
    assert [(b[0].kind, len(b)) for b in found] == [
        ("dispatch", 25),
        ("dispatch", 5),
        ("create_job", 1),
    ]
    runs = [run_request_for_batch(b) for b in found]
    assert len({r.run_key for r in runs}) == 3
    assert runs[0].run_key == f"{found[0][0].id}..{found[0][-1].id}"
    assert runs[0].run_config["ops"]["send_dispatch"]["config"]["request_ids"] == [
        r.id for r in found[0]
    ]
    assert "writeback/request_id" not in runs[0].tags  # only single-request runs carry it
    assert runs[2].job_name == "writeback_create_job" and runs[2].run_key == found[2][0].id
    with pytest.raises(ValueError, match="one kind"):
        run_request_for_batch([found[0][0], found[2][0]])


def _create_job() -> dict[str, Any]:
    return {
        "customer_id": 1,
        "location_id": 1,
        "business_unit_id": 1,
        "job_type_id": 1,
        "start": "2026-05-01T09:00:00Z",
        "end": "2026-05-01T11:00:00Z",
    }


def test_affected_assets_are_the_union_in_a_stable_order() -> None:
    assert affected_assets(["dispatch", "invoice", "dispatch"]) == [
        asset_key(n) for n in ("appointments", "customers", "invoices", "jobs", "payments")
    ]


def test_overlap_ignores_the_same_job_and_touching_windows() -> None:
    booked = [Booking("r1", 10, 5, T0, T0 + timedelta(hours=2))]
    assert overlapping(booked, 5, T0 + timedelta(hours=1), T0 + timedelta(hours=3), 11)
    assert overlapping(booked, 5, T0 + timedelta(hours=2), T0 + timedelta(hours=3), 11) is None
    assert overlapping(booked, 5, T0, T0 + timedelta(hours=1), 10) is None
    assert overlapping(booked, 6, T0, T0 + timedelta(hours=1), 11) is None


def _membership_type(mid: int, discount: str, active: bool = True) -> MembershipType:
    return MembershipType.model_validate(
        {
            "id": mid,
            "name": f"m{mid}",
            "active": active,
            "discountMode": "Basic",
            "discount": discount,
            "createdOn": STAMP,
            "modifiedOn": STAMP,
        }
    )


def test_membership_discount_takes_the_best_active_membership() -> None:
    types = {
        1: _membership_type(1, "10"),
        2: _membership_type(2, "15"),
        3: _membership_type(3, "0"),
    }
    summaries = [
        MembershipSummary(id=1, membership_type_id=1, status="Active"),
        MembershipSummary(id=2, membership_type_id=2, status="Expired"),
    ]
    assert membership_discount(summaries, types) == Decimal("10")
    assert (
        membership_discount([MembershipSummary(id=3, membership_type_id=3, status="Active")], types)
        is None
    )
    assert membership_discount([], types) is None


def test_build_invoice_from_a_sold_estimate() -> None:
    job = Job.model_validate(
        {
            "id": 9,
            "jobNumber": "9",
            "customerId": 2,
            "locationId": 3,
            "jobStatus": "Completed",
            "businessUnitId": 1,
            "jobTypeId": 1,
            "createdOn": STAMP,
            "modifiedOn": STAMP,
        }
    )
    item = {
        "sku": {"id": 5, "name": "Capacitor", "type": "Material"},
        "description": "",
        "qty": 2.0,
        "unitRate": "45.00",
        "total": "90.00",
        "taxable": True,
        "createdOn": STAMP,
        "modifiedOn": STAMP,
    }
    estimate = Estimate.model_validate(
        {
            "id": 4,
            "status": {"value": 1, "name": "Sold"},
            "reviewStatus": "Approved",
            "items": [
                {**item, "id": 1},
                {**item, "id": 2, "chargeable": False},
            ],
            "subtotal": "90.00",
            "tax": "0",
            "active": True,
            "createdOn": STAMP,
            "modifiedOn": STAMP,
        }
    )
    location = Location.model_validate(
        {
            "id": 3,
            "customerId": 2,
            "active": True,
            "name": "Home",
            "address": {"street": "1 A St", "city": "X", "state": "TX", "zip": "75001"},
            "taxZoneId": 6,
            "createdOn": STAMP,
            "modifiedOn": STAMP,
        }
    )
    payload = build_invoice(
        job,
        estimate,
        location,
        [MembershipSummary(id=1, membership_type_id=1, status="Active")],
        {1: _membership_type(1, "10")},
    )
    assert isinstance(payload, InvoicePayload)
    assert payload.api_body() == {
        "items": [
            {
                "skuId": 5,
                "description": "Capacitor",
                "quantity": "2",
                "unitPrice": "45.00",
                "taxable": True,
            }
        ],
        "discounts": [{"percent": "10"}],
        "taxZoneId": 6,
        "summary": "From sold estimate 4",
    }


def test_any_technician_must_be_resolved_before_sending() -> None:
    payload = DispatchPayload.model_validate(
        {"job_id": 1, "technician_ids": ["any"], "start": T0, "end": T0 + timedelta(hours=1)}
    )
    assert payload.wants_any_technician
    with pytest.raises(ValueError, match="resolve"):
        payload.api_body()
    assert payload.with_technicians([4]).api_body()["technicianIds"] == [4]


@pytest.mark.parametrize(
    ("kind", "body", "refused"),
    [
        ("create_job", {"customerId": 1}, "only with its marketing campaign"),
        ("refund", {}, "no operation for refund"),
    ],
)
def test_the_v2_backend_refuses_a_write_it_has_no_operation_for_before_any_call(
    kind: str, body: dict[str, Any], refused: str
) -> None:
    # An unreachable host: the refusal must come before any request.
    backend = V2Backend(
        V2Settings(
            client_id="cid",
            client_secret=SecretStr("cs"),
            app_key=SecretStr("ak"),
            tenant_id=1,
            auth_url="http://127.0.0.1:9",
            api_url="http://127.0.0.1:9",
        )
    )
    with pytest.raises(UnsupportedOperation, match=refused):
        backend.send_write(kind, body, job_id=3, idempotency_key="k")
    assert backend.metrics.snapshot()["calls"] == 0


def test_capabilities_say_what_each_backend_cannot_send_and_what_to_do() -> None:
    status = {"job_id", "status"}
    assert SESSION_CAPABILITIES.refusal("dispatch", status) is None
    assert SESSION_CAPABILITIES.refusal("create_job", {"customer_id"}) is None
    assert V2_CAPABILITIES.refusal("dispatch", {"job_id", "technician_ids"}) is None
    # v2 holds and cancels (with a reason), and has no operation for the technician's moves.
    assert V2_CAPABILITIES.refusal("dispatch", {*status, "status=Hold"}) is None
    refusal = V2_CAPABILITIES.refusal("dispatch", {*status, "status=Working"})
    assert refusal is not None and "(status=Working)" in refusal and "drop the status" in refusal
    refusal = V2_CAPABILITIES.refusal("dispatch", {*status, "status=Hold", NO_REASON})
    assert refusal is not None and "needs reason_id and memo" in refusal
    assert V2_CAPABILITIES.refusal("invoice", {"job_id", "items", "discounts"}) is None
    refusal = V2_CAPABILITIES.refusal("invoice", {"job_id", "items", "payment", "discounts"})
    assert refusal is not None and "drop the payment" in refusal
    assert V2_CAPABILITIES.refusal("create_job", {"customer_id", "campaign_id"}) is None
    refusal = V2_CAPABILITIES.refusal("create_job", {"customer_id", NO_CAMPAIGN})
    assert refusal is not None and "give campaign_id" in refusal
    refusal = SESSION_CAPABILITIES.refusal("payment_status", {"payment_ids", "status"})
    assert refusal is not None and "use the v2 backend" in refusal
    assert SESSION_CAPABILITIES.auto_invoice and not V2_CAPABILITIES.auto_invoice


def test_submit_wait_exits_by_outcome_and_times_out(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from st_resources.writeback import cli

    url = f"sqlite:///{tmp_path / 'q.sqlite'}"
    argv = ["--db-url", url, "submit", "--no-check", "--wait", "--timeout", "0.3"]
    dispatch = ["dispatch", "--job", "3", "--technician", "1"]
    assert cli.main([*argv, *dispatch]) == cli.EXIT_TIMEOUT  # no daemon: still pending
    queue = WriteQueue(url)
    [request] = queue.recent()
    queue.record_attempt(request, outcome="conflict", status="conflict")
    assert cli.wait_for_outcome(queue, request.id, 0.3) == cli.EXIT_CODES["conflict"] == 3
    assert '"status": "conflict"' in capsys.readouterr().out
    assert cli.EXIT_CODES == {"succeeded": 0, "conflict": 3, "rejected": 4, "failed": 5}
