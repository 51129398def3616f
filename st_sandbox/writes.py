"""The sandbox's write rules: job creation, dispatch (assignments, windows, status moves,
no double booking, optimistic concurrency) and invoice creation (no duplicate invoice,
decimal arithmetic from ``money.py``, test payment tokens), plus idempotency keys.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from st_sandbox.clock import to_us
from st_sandbox.errors import ApiError
from st_sandbox.money import DiscountInput, LineInput, compute_invoice_totals
from st_sandbox.store import Record, TenantStore

IDEMPOTENCY_TTL = 24 * 3600.0
ACTIVE_APPOINTMENT = {"Scheduled", "Dispatched", "Working", "Hold"}
TRANSITIONS: dict[str, set[str]] = {
    "Scheduled": {"Dispatched", "Hold", "Canceled"},
    "Dispatched": {"Working", "Hold", "Canceled", "Scheduled"},
    "Working": {"Done", "Canceled"},
    "Hold": {"Scheduled", "Canceled"},
    "Done": set(),
    "Canceled": set(),
}
APPROVED_TOKENS = {"tok_visa": "Credit Card", "tok_mastercard": "Credit Card", "ach_ok": "ACH"}
DECLINED_TOKENS = {"tok_declined", "ach_declined"}
MAX_MONEY = Decimal("1000000000")


class Strict(BaseModel):
    """Request bodies refuse unknown fields so that a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Window(Strict):
    start: datetime
    end: datetime
    arrivalWindowStart: datetime | None = None
    arrivalWindowEnd: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        _check_window(self.start, self.end, self.arrivalWindowStart, self.arrivalWindowEnd)
        return self


class CreateJobBody(Strict):
    """``POST /jobs``."""

    customerId: int = Field(gt=0)
    locationId: int = Field(gt=0)
    businessUnitId: int = Field(gt=0)
    jobTypeId: int = Field(gt=0)
    priority: Literal["Low", "Normal", "High", "Urgent"] = "Normal"
    summary: str | None = Field(default=None, max_length=10_000)
    appointment: Window
    technicianIds: list[int] = Field(default_factory=list, max_length=10)


class DispatchBody(Strict):
    """``PATCH /jobs/{jobId}/dispatch``."""

    appointmentId: int | None = Field(default=None, gt=0)
    technicianIds: list[int] | None = Field(default=None, max_length=10)
    start: datetime | None = None
    end: datetime | None = None
    arrivalWindowStart: datetime | None = None
    arrivalWindowEnd: datetime | None = None
    status: Literal["Scheduled", "Dispatched", "Working", "Hold", "Done", "Canceled"] | None = None


class InvoiceItemBody(Strict):
    skuId: int | None = Field(default=None, gt=0)
    description: str | None = Field(default=None, max_length=2000)
    quantity: Decimal = Field(gt=0, le=Decimal("100000"))
    unitPrice: Decimal = Field(ge=0, le=MAX_MONEY)
    taxable: bool = True

    @model_validator(mode="after")
    def _named(self) -> InvoiceItemBody:
        if self.skuId is None and not self.description:
            raise ValueError("an item needs a skuId or a description")
        return self


class DiscountBody(Strict):
    percent: Decimal | None = Field(default=None, gt=0, le=100)
    amount: Decimal | None = Field(default=None, gt=0, le=MAX_MONEY)

    @model_validator(mode="after")
    def _one(self) -> DiscountBody:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount has exactly one of percent or amount")
        return self


class PaymentBody(Strict):
    method: Literal["card", "ach"]
    token: str = Field(min_length=1, max_length=200)
    amount: Decimal | None = Field(default=None, gt=0, le=MAX_MONEY)


class InvoiceBody(Strict):
    """``POST /jobs/{jobId}/invoices``."""

    items: list[InvoiceItemBody] = Field(min_length=1, max_length=500)
    discounts: list[DiscountBody] = Field(default_factory=list, max_length=20)
    taxZoneId: int | None = Field(default=None, gt=0)
    summary: str | None = Field(default=None, max_length=10_000)
    payment: PaymentBody | None = None


def _check_window(
    start: datetime | None,
    end: datetime | None,
    arrival_start: datetime | None,
    arrival_end: datetime | None,
) -> None:
    for value in (start, end, arrival_start, arrival_end):
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps need a timezone, e.g. 2026-03-04T15:00:00Z")
    if start is not None and end is not None and end <= start:
        raise ValueError("the window must end after it starts")
    if (arrival_start is None) != (arrival_end is None):
        raise ValueError("give both arrivalWindowStart and arrivalWindowEnd, or neither")
    if arrival_start is not None and arrival_end is not None and arrival_end <= arrival_start:
        raise ValueError("the arrival window must end after it starts")


class IdempotencyStore:
    """Answers remembered per key for 24 h: a replay returns the first answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, str], tuple[str, int, dict[str, Any], float]] = {}
        # Serializes concurrent requests with the same key so only one does the work.
        self.key_locks: dict[tuple[str, str], threading.Lock] = {}

    def key_lock(self, scope: str, key: str) -> threading.Lock:
        with self.lock:
            return self.key_locks.setdefault((scope, key), threading.Lock())

    def lookup(self, scope: str, key: str, fingerprint: str) -> tuple[int, dict[str, Any]] | None:
        with self.lock:
            entry = self.entries.get((scope, key))
            if entry is None or entry[3] < time.time():
                return None
            if entry[0] != fingerprint:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another request body; use a new key "
                    "for a different request",
                )
            return entry[1], entry[2]

    def remember(
        self, scope: str, key: str, fingerprint: str, status: int, body: dict[str, Any]
    ) -> None:
        with self.lock:
            self.entries[(scope, key)] = (fingerprint, status, body, time.time() + IDEMPOTENCY_TTL)


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    """What makes two requests "the same" for an idempotency key."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + raw_body).hexdigest()


class WriteService:
    """Applies writes to the store under its lock and records events."""

    def __init__(self, store: TenantStore) -> None:
        self.store = store

    # --- helpers ----------------------------------------------------------------------------

    def _job(self, job_id: int) -> Record:
        job = self.store.get("jobs", job_id)
        if job is None or not job.get("active", True):
            raise ApiError(404, "not_found", f"job {job_id} does not exist", {"jobId": job_id})
        return job

    def _technician(self, tech_id: int) -> Record:
        tech = self.store.get("technicians", tech_id)
        if tech is None or not tech["active"]:
            raise ApiError(
                422,
                "validation_error",
                f"technician {tech_id} does not exist or is inactive",
                {"errors": [{"loc": ["technicianIds"], "msg": f"unknown technician {tech_id}"}]},
            )
        return tech

    def _check_overlap(
        self, tech_ids: list[int], start_us: int, end_us: int, skip: int | None
    ) -> None:
        """409 double_booking if a technician holds another overlapping active appointment."""
        wanted = set(tech_ids)
        records = self.store.tables["appointments"].records
        candidates = set().union(*(self.store.tech_appointments.get(t, set()) for t in wanted))
        for appt in (records[i] for i in sorted(candidates)):
            if appt["id"] == skip or appt["status"] not in ACTIVE_APPOINTMENT or not appt["active"]:
                continue
            holders = {a["technicianId"] for a in appt["assignments"] if a["active"]} & wanted
            if not holders:
                continue
            a_start = to_us(datetime.fromisoformat(appt["start"].replace("Z", "+00:00")))
            a_end = to_us(datetime.fromisoformat(appt["end"].replace("Z", "+00:00")))
            if a_start < end_us and start_us < a_end:
                tech = min(holders)
                raise ApiError(
                    409,
                    "double_booking",
                    f"technician {tech} already holds appointment {appt['id']} from "
                    f"{appt['start']} to {appt['end']}; pick another technician or window",
                    {"technicianId": tech, "conflictingAppointmentId": appt["id"]},
                )

    def _assignments(
        self, appt: Record, job: Record, tech_ids: list[int], status: str
    ) -> list[Record]:
        stamp = self.store.stamp(self.store.now_us())
        existing = {a["technicianId"]: a for a in appt.get("assignments", []) if a["active"]}
        out = []
        asg_status = (
            status if status in ("Scheduled", "Dispatched", "Working", "Done") else "Scheduled"
        )
        for tech_id in tech_ids:
            tech = self._technician(tech_id)
            prior = existing.get(tech_id)
            out.append(
                {
                    "id": prior["id"] if prior else self.store.next_id("_assignments"),
                    "technicianId": tech_id,
                    "technicianName": tech["name"],
                    "assignedById": 1,
                    "assignedOn": prior["assignedOn"] if prior else stamp,
                    "status": asg_status,
                    "isPaused": False,
                    "jobId": job["id"],
                    "appointmentId": appt["id"],
                    "active": True,
                    "createdOn": prior["createdOn"] if prior else stamp,
                    "modifiedOn": stamp,
                }
            )
        return out

    # --- POST /jobs -------------------------------------------------------------------------

    def create_job(self, body: CreateJobBody) -> Record:
        store = self.store
        with store.lock:
            customer = store.get("customers", body.customerId)
            if customer is None or not customer["active"]:
                raise ApiError(404, "not_found", f"customer {body.customerId} does not exist")
            location = store.get("locations", body.locationId)
            if location is None or location["customerId"] != body.customerId:
                raise ApiError(
                    422,
                    "validation_error",
                    f"location {body.locationId} does not belong to customer {body.customerId}",
                    {"errors": [{"loc": ["locationId"], "msg": "not a location of the customer"}]},
                )
            if store.get("business_units", body.businessUnitId) is None:
                raise ApiError(
                    422, "validation_error", f"unknown business unit {body.businessUnitId}"
                )
            job_type = store.get("job_types", body.jobTypeId)
            if job_type is None:
                raise ApiError(422, "validation_error", f"unknown job type {body.jobTypeId}")
            window = body.appointment
            start_us, end_us = to_us(window.start), to_us(window.end)
            if body.technicianIds:
                for tech_id in body.technicianIds:
                    self._technician(tech_id)
                self._check_overlap(body.technicianIds, start_us, end_us, None)
            job_id = store.next_id("jobs")
            appt_id = store.next_id("appointments")
            now = store.stamp(store.now_us())
            status = "Scheduled"
            job = {
                "id": job_id,
                "jobNumber": str(job_id),
                "customerId": body.customerId,
                "locationId": body.locationId,
                "jobStatus": status,
                "completedOn": None,
                "businessUnitId": body.businessUnitId,
                "jobTypeId": body.jobTypeId,
                "priority": body.priority,
                "campaignId": None,
                "appointmentCount": 1,
                "firstAppointmentId": appt_id,
                "lastAppointmentId": appt_id,
                "membershipId": None,
                "invoiceId": None,
                "total": None,
                "createdFromEstimateId": None,
                "estimateIds": [],
                "summary": body.summary,
                "active": True,
                "createdOn": now,
                "createdById": 1,
            }
            appt: Record = {
                "id": appt_id,
                "jobId": job_id,
                "appointmentNumber": f"{job_id}-1",
                "start": store.stamp(start_us),
                "end": store.stamp(end_us),
                "arrivalWindowStart": store.stamp(to_us(window.arrivalWindowStart))
                if window.arrivalWindowStart
                else None,
                "arrivalWindowEnd": store.stamp(to_us(window.arrivalWindowEnd))
                if window.arrivalWindowEnd
                else None,
                "status": "Scheduled",
                "specialInstructions": None,
                "customerId": body.customerId,
                "unused": False,
                "isConfirmed": False,
                "active": True,
                "arrivedOn": None,
                "assignments": [],
                "createdOn": now,
                "createdById": 1,
            }
            appt["assignments"] = self._assignments(appt, job, body.technicianIds, "Scheduled")
            store.insert("jobs", job)
            store.insert("appointments", appt)
            store.emit("job.created", "jobs", job_id, {"customerId": body.customerId})
            result = store.get("jobs", job_id) or job
            result["appointments"] = [store.get("appointments", appt_id)]
            return result

    # --- PATCH /jobs/{id}/dispatch --------------------------------------------------------

    def dispatch(self, job_id: int, body: DispatchBody, if_match: str | None) -> Record:
        store = self.store
        with store.lock:
            job = self._job(job_id)
            appt_id = body.appointmentId or job["lastAppointmentId"]
            appt = store.get("appointments", appt_id)
            if appt is None or appt["jobId"] != job_id:
                raise ApiError(
                    404, "not_found", f"appointment {appt_id} is not an appointment of job {job_id}"
                )
            if if_match is not None and if_match.strip('"') != etag_version(store, appt_id):
                raise ApiError(
                    412,
                    "version_mismatch",
                    "the appointment changed since you read it: read it again and retry",
                    {"currentETag": etag(store, appt_id)},
                )
            current = appt["status"]
            target = body.status or current
            if target != current and target not in TRANSITIONS.get(current, set()):
                raise ApiError(
                    409,
                    "invalid_transition",
                    f"an appointment cannot move from {current} to {target}",
                    {"from": current, "to": target},
                )
            if current in ("Done", "Canceled") and (
                body.technicianIds is not None or body.start or body.end or body.arrivalWindowStart
            ):
                raise ApiError(
                    409,
                    "invalid_transition",
                    f"a {current} appointment cannot be changed",
                    {"from": current},
                )
            start = body.start or datetime.fromisoformat(appt["start"].replace("Z", "+00:00"))
            end = body.end or datetime.fromisoformat(appt["end"].replace("Z", "+00:00"))
            try:
                _check_window(start, end, body.arrivalWindowStart, body.arrivalWindowEnd)
            except ValueError as exc:
                raise ApiError(
                    422,
                    "validation_error",
                    str(exc),
                    {"errors": [{"loc": ["body"], "msg": str(exc)}]},
                ) from None
            current_techs = [a["technicianId"] for a in appt["assignments"] if a["active"]]
            techs = body.technicianIds if body.technicianIds is not None else current_techs
            if len(set(techs)) != len(techs):
                raise ApiError(422, "validation_error", "technicianIds has duplicates")
            if not techs and target in ("Dispatched", "Working", "Done"):
                raise ApiError(
                    409,
                    "invalid_transition",
                    f"a {target} appointment needs at least one technician",
                    {"from": current, "to": target},
                )
            start_us, end_us = to_us(start), to_us(end)
            if target in ACTIVE_APPOINTMENT and techs:
                self._check_overlap(techs, start_us, end_us, appt_id)
            changes: Record = {
                "start": store.stamp(start_us),
                "end": store.stamp(end_us),
                "status": target,
                "isConfirmed": target != "Scheduled" or appt["isConfirmed"],
            }
            if body.arrivalWindowStart and body.arrivalWindowEnd:
                changes["arrivalWindowStart"] = store.stamp(to_us(body.arrivalWindowStart))
                changes["arrivalWindowEnd"] = store.stamp(to_us(body.arrivalWindowEnd))
            if target == "Working" and not appt.get("arrivedOn"):
                changes["arrivedOn"] = store.stamp(store.now_us())
            changes["assignments"] = (
                [] if target == "Canceled" else self._assignments(appt, job, techs, target)
            )
            store.update("appointments", appt_id, changes)
            if body.technicianIds is not None and body.technicianIds != current_techs:
                store.emit(
                    "appointment.dispatched", "appointments", appt_id, {"technicianIds": techs}
                )
            if target != current:
                store.emit(
                    "appointment.status_changed",
                    "appointments",
                    appt_id,
                    {"from": current, "to": target},
                )
            self._sync_job_status(job_id)
            result = store.get("appointments", appt_id)
            assert result is not None
            return result

    def _sync_job_status(self, job_id: int) -> None:
        store = self.store
        job = store.get("jobs", job_id)
        assert job is not None
        records = store.tables["appointments"].records
        statuses = [
            records[i]["status"]
            for i in store.job_appointments.get(job_id, [])
            if records[i]["active"]
        ]
        live = [s for s in statuses if s != "Canceled"]
        if not live:
            new = "Canceled"
        elif all(s == "Done" for s in live):
            new = "Completed"
        elif any(s in ("Working", "Done") for s in live):
            new = "InProgress"
        elif any(s == "Dispatched" for s in live):
            new = "Dispatched"
        elif all(s == "Hold" for s in live):
            new = "Hold"
        else:
            new = "Scheduled"
        if new != job["jobStatus"]:
            changes: Record = {"jobStatus": new}
            if new == "Completed":
                changes["completedOn"] = store.stamp(store.now_us())
            store.update("jobs", job_id, changes)
            store.emit("job.status_changed", "jobs", job_id, {"from": job["jobStatus"], "to": new})

    # --- POST /jobs/{id}/invoices --------------------------------------------------------

    def create_invoice(self, job_id: int, body: InvoiceBody) -> Record:
        store = self.store
        with store.lock:
            job = self._job(job_id)
            if job["invoiceId"] is not None:
                first = store.get("invoices", job["invoiceId"])
                if first is not None and first["active"]:
                    raise ApiError(
                        409,
                        "duplicate_invoice",
                        f"job {job_id} already has invoice {first['id']}; adjust that invoice "
                        "instead of creating another",
                        {"invoiceId": first["id"], "jobId": job_id},
                    )
            if job["jobStatus"] != "Completed":
                raise ApiError(
                    422,
                    "job_not_completed",
                    f"job {job_id} is {job['jobStatus']}; only Completed jobs can be invoiced",
                    {"jobId": job_id, "jobStatus": job["jobStatus"]},
                )
            customer = store.get("customers", job["customerId"]) or {}
            location = store.get("locations", job["locationId"]) or {}
            zone_id = body.taxZoneId or location.get("taxZoneId")
            if zone_id is not None and zone_id not in store.tax_rates:
                raise ApiError(422, "validation_error", f"unknown tax zone {zone_id}")
            rate = store.tax_rates.get(zone_id or 0, Decimal(0))
            exempt = bool(customer.get("taxExempt") or location.get("taxExempt"))
            lines = [LineInput(i.quantity, i.unitPrice, i.taxable) for i in body.items]
            discounts = [DiscountInput(d.percent, d.amount) for d in body.discounts]
            totals = compute_invoice_totals(lines, discounts, rate, exempt)
            paid = Decimal(0)
            pay_method = None
            if body.payment is not None:
                if body.payment.token in DECLINED_TOKENS:
                    raise ApiError(
                        422,
                        "payment_declined",
                        "the payment was declined; no invoice was created: try another card "
                        "or create the invoice without a payment",
                        {"token": body.payment.token},
                    )
                pay_method = APPROVED_TOKENS.get(body.payment.token)
                if pay_method is None:
                    raise ApiError(
                        422,
                        "validation_error",
                        "unknown payment token; sandbox tokens: tok_visa, tok_mastercard, ach_ok "
                        "(approve), tok_declined, ach_declined (decline)",
                    )
                paid = min(body.payment.amount or totals.total, totals.total)
            now_us = store.now_us()
            now = store.stamp(now_us)
            inv_id = store.next_id("invoices")
            skus = {}
            for name in ("pricebook_services", "pricebook_materials", "pricebook_equipment"):
                for sid in {i.skuId for i in body.items if i.skuId}:
                    rec = store.tables[name].records.get(sid)
                    if rec is not None:
                        skus[sid] = (rec.get("displayName") or rec["code"], name)
            missing = [i.skuId for i in body.items if i.skuId and i.skuId not in skus]
            if missing:
                raise ApiError(422, "validation_error", f"unknown skuId {missing[0]}")
            kind = {
                "pricebook_services": "Service",
                "pricebook_materials": "Material",
                "pricebook_equipment": "Equipment",
            }
            items = []
            for order, (item, line_total) in enumerate(
                zip(body.items, totals.line_totals, strict=True)
            ):
                sku = skus.get(item.skuId or 0)
                items.append(
                    {
                        "id": store.next_id("_invoice_items"),
                        "description": item.description or (sku[0] if sku else None),
                        "quantity": format(item.quantity, "f"),
                        "price": format(item.unitPrice.quantize(Decimal("0.01")), "f"),
                        "total": format(line_total, "f"),
                        "type": kind[sku[1]] if sku else "Unspecified",
                        "skuId": item.skuId,
                        "skuName": sku[0] if sku else None,
                        "taxable": item.taxable,
                        "order": order,
                        "membershipTypeId": None,
                        "createdOn": now,
                        "modifiedOn": now,
                    }
                )
            bu = store.get("business_units", job["businessUnitId"]) or {"name": None}
            job_type = store.get("job_types", job["jobTypeId"]) or {"name": None}
            balance = totals.balance(paid)
            invoice = {
                "id": inv_id,
                "referenceNumber": f"INV-{inv_id:07d}",
                "invoiceDate": now,
                "dueDate": store.stamp(now_us + 30 * 86400 * 1_000_000),
                "subTotal": format(totals.sub_total, "f"),
                "discountTotal": format(totals.discount_total, "f"),
                "salesTax": format(totals.sales_tax, "f"),
                "total": format(totals.total, "f"),
                "balance": format(balance, "f"),
                "taxZoneId": zone_id,
                "customer": {"id": job["customerId"], "name": customer.get("name")},
                "location": {"id": job["locationId"], "name": location.get("name")},
                "businessUnit": {"id": job["businessUnitId"], "name": bu["name"]},
                "job": {"id": job_id, "number": job["jobNumber"], "type": job_type["name"]},
                "membershipId": job.get("membershipId"),
                "sentStatus": "NotSent",
                "reviewStatus": "NeedsReview",
                "paidOn": now if balance == 0 and paid > 0 else None,
                "summary": body.summary,
                "items": items,
                "active": True,
                "createdOn": now,
            }
            store.insert("invoices", invoice)
            store.update("jobs", job_id, {"invoiceId": inv_id, "total": invoice["total"]})
            store.emit(
                "invoice.created", "invoices", inv_id, {"jobId": job_id, "total": invoice["total"]}
            )
            if paid > 0:
                pay_id = store.next_id("payments")
                store.insert(
                    "payments",
                    {
                        "id": pay_id,
                        "type": pay_method,
                        "typeId": 1 if pay_method == "Credit Card" else 2,
                        "referenceNumber": f"P{pay_id:08d}",
                        "authCode": f"A{pay_id % 1_000_000:06d}",
                        "checkNumber": None,
                        "memo": None,
                        "date": now,
                        "total": format(paid, "f"),
                        "unappliedAmount": "0.00",
                        "customer": {"id": job["customerId"], "name": customer.get("name")},
                        "businessUnit": {"id": job["businessUnitId"], "name": bu["name"]},
                        "appliedTo": [
                            {
                                "appliedAmount": format(paid, "f"),
                                "appliedId": pay_id,
                                "appliedTo": inv_id,
                                "appliedOn": now,
                                "appliedBy": "api",
                            }
                        ],
                        "active": True,
                        "createdOn": now,
                    },
                )
                store.emit("payment.created", "payments", pay_id, {"invoiceId": inv_id})
                if balance == 0:
                    store.emit("invoice.paid", "invoices", inv_id, {"paymentId": pay_id})
            if customer:
                new_balance = Decimal(customer["balance"]) + balance
                store.update("customers", customer["id"], {"balance": format(new_balance, "f")})
            result = store.get("invoices", inv_id)
            assert result is not None
            return result


def etag_version(store: TenantStore, appointment_id: int) -> str:
    """The appointment's version: its modifiedOn in µs, which every change bumps."""
    return str(store.tables["appointments"].mod_us.get(appointment_id, 0))


def etag(store: TenantStore, appointment_id: int) -> str:
    """The ``ETag`` header value of an appointment."""
    return f'"{etag_version(store, appointment_id)}"'
