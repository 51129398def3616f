"""Writes on the official v2 API: look before you write.

v2 has no idempotency keys, so each write first reads what is there and sends only what
is missing: a retried or re-executed write finds its effect in place and sends nothing.
A dispatch is a reschedule plus assign/unassign calls (undone when a later one is
refused, so a refused dispatch changes nothing); an invoice adds items to the invoice
ServiceTitan created with the job (an identical item already there counts as done).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from st_contract.models import Appointment, Invoice
from st_contract.v2_paths import (
    ASSIGN_TECHNICIANS,
    INVOICE_ITEMS,
    RESCHEDULE,
    UNASSIGN_TECHNICIANS,
    V2Operation,
)
from st_resources.errors import (
    ApiValidationError,
    ConflictError,
    NotFoundError,
    UnsupportedOperation,
)
from st_resources.reads import parse_timestamp
from st_resources.transport import Call, Transport
from st_resources.v2_reads import V2Reader

DISPATCH_FIELDS = frozenset(
    {
        "appointmentId",
        "technicianIds",
        "start",
        "end",
        "arrivalWindowStart",
        "arrivalWindowEnd",
        "status",
    }
)
WINDOW_FIELDS = ("start", "end", "arrivalWindowStart", "arrivalWindowEnd")
INVOICE_EXTRAS = ("payment", "discounts", "taxZoneId", "summary")


@dataclass(frozen=True)
class Written:
    """A write's record afterwards (session API shape) and how many calls changed it."""

    record: dict[str, Any]
    sent: int


@dataclass(frozen=True)
class _Change:
    """One official write call, and the call that undoes it."""

    operation: V2Operation
    url: str
    body: dict[str, Any]


class V2Writer:
    """Sends dispatches and invoice items through the official operations."""

    def __init__(self, transport: Transport, reader: V2Reader) -> None:
        self.transport = transport
        self.reader = reader

    def _send(self, change: _Change) -> None:
        self.transport.request(Call(change.operation.method, change.url, json_body=change.body))

    # --- dispatch -----------------------------------------------------------------------------

    def dispatch(self, job_id: int, body: dict[str, Any]) -> Written:
        """Move the window (reschedule) and set the technicians (assign/unassign) of a
        job's appointment; only what differs from the appointment as it stands is sent."""
        unknown = set(body) - DISPATCH_FIELDS
        if unknown:
            raise ApiValidationError(
                f"unknown dispatch fields: {sorted(unknown)}", code="validation_error"
            )
        appt = self._appointment_of(job_id, body.get("appointmentId"))
        if body.get("status") not in (None, appt["status"]):
            raise UnsupportedOperation(
                f"the official v2 API has no operation to change an appointment's status "
                f"({appt['status']} to {body['status']}): send the dispatch without a status, "
                "move the status in ServiceTitan, or use the session API backend",
                code="unsupported",
            )
        changes = self._reschedule(appt, body) + self._assignments(appt, body)
        done: list[tuple[_Change, _Change]] = []
        try:
            for change, undo in changes:
                self._send(change)
                done.append((change, undo))
        except ConflictError:
            # v2 splits one dispatch into several calls; when a later one is refused (409
            # double booking), the earlier ones are undone so a refused dispatch changes
            # nothing.
            for _, undo in reversed(done):
                self._send(undo)
            raise
        record = self.reader.one("appointments", appt["id"])
        return Written(
            Appointment.model_validate(record).model_dump(mode="json", by_alias=True), len(done)
        )

    def _appointment_of(self, job_id: int, appointment_id: int | None) -> dict[str, Any]:
        if appointment_id is None:
            appointment_id = self.reader.one("jobs", job_id)["lastAppointmentId"]
        appt = self.reader.one("appointments", int(appointment_id))
        if appt["jobId"] != job_id:
            raise NotFoundError(
                f"appointment {appointment_id} is not an appointment of job {job_id}",
                code="not_found",
                status=404,
            )
        return appt

    def _reschedule(
        self, appt: dict[str, Any], body: dict[str, Any]
    ) -> list[tuple[_Change, _Change]]:
        """The reschedule call when the window differs, with the call that restores it."""
        window = {k: body[k] for k in WINDOW_FIELDS if body.get(k)}
        if not any(
            appt.get(k) is None or parse_timestamp(str(v)) != parse_timestamp(str(appt[k]))
            for k, v in window.items()
        ):
            return []
        url = RESCHEDULE.url(self.reader.tenant_id, id=appt["id"])
        original = {k: appt[k] for k in WINDOW_FIELDS if appt.get(k)}
        move = _Change(RESCHEDULE, url, {"start": appt["start"], "end": appt["end"], **window})
        return [(move, _Change(RESCHEDULE, url, original))]

    def _assignments(
        self, appt: dict[str, Any], body: dict[str, Any]
    ) -> list[tuple[_Change, _Change]]:
        """Unassign the technicians not wanted, then assign the missing ones."""
        if body.get("technicianIds") is None:
            return []
        wanted = [int(t) for t in body["technicianIds"]]
        held = [a["technicianId"] for a in appt["assignments"] if a.get("active", True)]
        changes = []
        for operation, opposite, techs in (
            (UNASSIGN_TECHNICIANS, ASSIGN_TECHNICIANS, [t for t in held if t not in wanted]),
            (ASSIGN_TECHNICIANS, UNASSIGN_TECHNICIANS, [t for t in wanted if t not in held]),
        ):
            if techs:
                change = {"jobAppointmentId": appt["id"], "technicianIds": techs}
                tenant = self.reader.tenant_id
                changes.append(
                    (
                        _Change(operation, operation.url(tenant), change),
                        _Change(opposite, opposite.url(tenant), change),
                    )
                )
        return changes

    # --- invoice ------------------------------------------------------------------------------

    def invoice(self, job_id: int, body: dict[str, Any]) -> Written:
        """Add the items to the job's invoice (v2 creates it with the job). Items already on
        the invoice (same sku, description, quantity and price) are not added twice."""
        extras = [k for k in INVOICE_EXTRAS if body.get(k)]
        if extras:
            raise UnsupportedOperation(
                f"the official v2 API has no operation here for an invoice's {', '.join(extras)}: "
                "the v2 backend adds items to the job's invoice only; take payments and "
                "discounts in ServiceTitan, or use the session API backend",
                code="unsupported",
            )
        invoice_id = self._invoice_of(job_id)
        existing = Counter(_item_key(i) for i in self.reader.one("invoices", invoice_id)["items"])
        url = INVOICE_ITEMS.url(self.reader.tenant_id, id=invoice_id)
        sent = 0
        for item in body.get("items", []):
            key = _item_key({**item, "price": item["unitPrice"]})
            if existing[key] > 0:  # already there: a retry of this write
                existing[key] -= 1
                continue
            self._send(_Change(INVOICE_ITEMS, url, _item_request(item)))
            sent += 1
        invoice = Invoice.model_validate(self.reader.one("invoices", invoice_id))
        return Written(invoice.model_dump(mode="json", by_alias=True), sent)

    def _invoice_of(self, job_id: int) -> int:
        job = self.reader.one("jobs", job_id)
        if not job.get("invoiceId"):
            # Officially a job's invoice exists from the job's creation; a job without one
            # (the sandbox's never-invoiced jobs) has nothing v2 can add items to, and
            # retrying will not create one.
            raise ConflictError(
                f"job {job_id} has no invoice to add items to (the official v2 API cannot "
                "create one): create the job's invoice in ServiceTitan, then submit again",
                code="no_invoice",
                status=409,
            )
        return int(job["invoiceId"])


def _item_request(item: dict[str, Any]) -> dict[str, Any]:
    """The official body of one invoice item (numbers, not the session API's strings)."""
    return {
        "skuId": item.get("skuId"),
        "description": item.get("description") or "",
        "quantity": float(Decimal(str(item["quantity"]))),
        "unitPrice": float(Decimal(str(item["unitPrice"]))),
    }


def _item_key(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item.get("skuId"),
        item.get("description") or "",
        Decimal(str(item["quantity"])).normalize(),
        Decimal(str(item["price"])).quantize(Decimal("0.01")),
    )
