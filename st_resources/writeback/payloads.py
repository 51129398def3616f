"""The payloads of write requests, validated with pydantic before anything is stored.

Each payload knows the API body it stands for (``api_body``), so the queue stores what
the user asked for and the op sends exactly that, with the request id as its
Idempotency-Key. Field names on the command line and in Python are snake_case; the API's
camelCase appears only in ``api_body``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from st_resources.reads import api_timestamp

Kind = Literal["create_job", "dispatch", "invoice", "payment_status", "attachment"]
KINDS: tuple[str, ...] = ("create_job", "dispatch", "invoice", "payment_status", "attachment")
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_MONEY = Decimal("1000000000")
ANY_TECHNICIAN = "any"
HELD = ("Hold", "Canceled")
NO_REASON = "no reason_id or memo"
NO_CAMPAIGN = "no campaign_id"

Id = Annotated[int, Field(gt=0, le=2**53)]


class PayloadError(ValueError):
    """A payload was refused; the message says what to fix. Nothing was stored."""


class Payload(BaseModel):
    """Base of the payloads: strict types, unknown fields refused, immutable."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    def api_body(self) -> dict[str, Any]:
        raise NotImplementedError

    def set_fields(self) -> set[str]:
        """The fields this request sets (not None, not empty), and its ``marks``: what a
        backend's ``Capabilities.refusal`` checks."""
        return {
            name for name in type(self).model_fields if getattr(self, name) not in (None, "", [])
        } | self.marks()

    def marks(self) -> set[str]:
        """What a backend may refuse beyond the fields set: a value it has no operation
        for (``status=Working``) or a field it needs that is missing (``no campaign_id``)."""
        return set()


def _check_window(
    start: datetime | None,
    end: datetime | None,
    arrival_start: datetime | None,
    arrival_end: datetime | None,
) -> None:
    for value in (start, end, arrival_start, arrival_end):
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps need a timezone, e.g. 2026-03-04T15:00:00Z")
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither")
    if start is not None and end is not None and end <= start:
        raise ValueError(f"the window must end after it starts (start {start}, end {end})")
    if (arrival_start is None) != (arrival_end is None):
        raise ValueError("give both arrival_start and arrival_end, or neither")
    if arrival_start is not None and arrival_end is not None and arrival_end <= arrival_start:
        raise ValueError("the arrival window must end after it starts")


def _stamp(value: datetime | None) -> str | None:
    return api_timestamp(value) if value is not None else None


class DispatchPayload(Payload):
    """Assign technicians, set the window and move the status of a job's appointment.

    ``technician_ids=["any"]`` asks the dispatch guard to pick an available technician
    of the job's business unit with the job type's skill.
    """

    job_id: Id
    appointment_id: Id | None = None
    technician_ids: list[Id] | list[Literal["any"]] | None = Field(default=None, max_length=10)
    start: datetime | None = None
    end: datetime | None = None
    arrival_start: datetime | None = None
    arrival_end: datetime | None = None
    status: Literal["Scheduled", "Dispatched", "Working", "Hold", "Done", "Canceled"] | None = None
    # Why the appointment goes on hold or the job is canceled (the official v2 API's
    # hold and cancel need a job hold / cancel reason and a memo).
    reason_id: Id | None = None
    memo: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _valid(self) -> DispatchPayload:
        _check_window(self.start, self.end, self.arrival_start, self.arrival_end)
        techs = self.technician_ids or []
        if ANY_TECHNICIAN in techs and len(techs) != 1:
            raise ValueError('"any" technician cannot be combined with technician ids')
        if len(set(techs)) != len(techs):
            raise ValueError("technician_ids has duplicates")
        if self.wants_any_technician and (self.start is None or self.end is None):
            raise ValueError('"any" technician needs start and end, to check availability')
        if (self.reason_id is not None or self.memo) and self.status not in HELD:
            raise ValueError("reason_id and memo go with status Hold or Canceled only")
        return self

    def marks(self) -> set[str]:
        """``status=<status>``, and ``no reason_id or memo`` for a hold or cancel without
        them."""
        marks = {f"status={self.status}"} if self.status else set()
        if self.status in HELD and (self.reason_id is None or not self.memo):
            marks.add(NO_REASON)
        return marks

    @property
    def wants_any_technician(self) -> bool:
        return self.technician_ids == [ANY_TECHNICIAN]

    def with_technicians(self, technician_ids: list[int]) -> DispatchPayload:
        """The same request with concrete technicians (the guard's choice for "any")."""
        return self.model_copy(update={"technician_ids": technician_ids})

    def api_body(self) -> dict[str, Any]:
        if self.wants_any_technician:
            raise ValueError('resolve "any" technician before sending (see guard.py)')
        body: dict[str, Any] = {
            "appointmentId": self.appointment_id,
            "technicianIds": self.technician_ids,
            "start": _stamp(self.start),
            "end": _stamp(self.end),
            "arrivalWindowStart": _stamp(self.arrival_start),
            "arrivalWindowEnd": _stamp(self.arrival_end),
            "status": self.status,
            "reasonId": self.reason_id,
            "memo": self.memo,
        }
        return {k: v for k, v in body.items() if v is not None}


class InvoiceItem(Payload):
    """One invoice line."""

    sku_id: Id | None = None
    description: str | None = Field(default=None, max_length=2000)
    quantity: Decimal = Field(gt=0, le=Decimal("100000"))
    unit_price: Decimal = Field(ge=0, le=MAX_MONEY)
    taxable: bool = True

    @model_validator(mode="after")
    def _named(self) -> InvoiceItem:
        if self.sku_id is None and not self.description:
            raise ValueError("an item needs a sku_id or a description")
        return self


class Discount(Payload):
    """A percent of the subtotal or a fixed amount."""

    percent: Decimal | None = Field(default=None, gt=0, le=100)
    amount: Decimal | None = Field(default=None, gt=0, le=MAX_MONEY)

    @model_validator(mode="after")
    def _one(self) -> Discount:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount has exactly one of percent or amount")
        return self


class Payment(Payload):
    """A payment taken with the invoice (a card or ACH token, never a card number)."""

    method: Literal["card", "ach"]
    token: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$")
    amount: Decimal | None = Field(default=None, gt=0, le=MAX_MONEY)


class InvoicePayload(Payload):
    """Create the invoice of a completed job."""

    job_id: Id
    items: list[InvoiceItem] = Field(min_length=1, max_length=500)
    discounts: list[Discount] = Field(default_factory=list, max_length=20)
    tax_zone_id: Id | None = None
    summary: str | None = Field(default=None, max_length=10_000)
    payment: Payment | None = None

    def api_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "items": [
                {
                    k: v
                    for k, v in {
                        "skuId": i.sku_id,
                        "description": i.description,
                        "quantity": format(i.quantity.normalize(), "f"),
                        "unitPrice": format(i.unit_price, "f"),
                        "taxable": i.taxable,
                    }.items()
                    if v is not None
                }
                for i in self.items
            ],
            "discounts": [
                {"percent": format(d.percent, "f")}
                if d.percent is not None
                else {"amount": format(d.amount or 0, "f")}
                for d in self.discounts
            ],
        }
        if self.tax_zone_id is not None:
            body["taxZoneId"] = self.tax_zone_id
        if self.summary is not None:
            body["summary"] = self.summary
        if self.payment is not None:
            payment: dict[str, Any] = {"method": self.payment.method, "token": self.payment.token}
            if self.payment.amount is not None:
                payment["amount"] = format(self.payment.amount, "f")
            body["payment"] = payment
        return body


class CreateJobPayload(Payload):
    """Book a new job with its first appointment."""

    customer_id: Id
    location_id: Id
    business_unit_id: Id
    job_type_id: Id
    # The job's marketing campaign: optional on the session API, required by v2.
    campaign_id: Id | None = None
    priority: Literal["Low", "Normal", "High", "Urgent"] = "Normal"
    summary: str | None = Field(default=None, max_length=10_000)
    start: datetime
    end: datetime
    arrival_start: datetime | None = None
    arrival_end: datetime | None = None
    technician_ids: list[Id] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _valid(self) -> CreateJobPayload:
        _check_window(self.start, self.end, self.arrival_start, self.arrival_end)
        return self

    def marks(self) -> set[str]:
        """``no campaign_id`` when the job has no campaign."""
        return {NO_CAMPAIGN} if self.campaign_id is None else set()

    def api_body(self) -> dict[str, Any]:
        appointment = {
            "start": _stamp(self.start),
            "end": _stamp(self.end),
            "arrivalWindowStart": _stamp(self.arrival_start),
            "arrivalWindowEnd": _stamp(self.arrival_end),
        }
        body: dict[str, Any] = {
            "customerId": self.customer_id,
            "locationId": self.location_id,
            "businessUnitId": self.business_unit_id,
            "jobTypeId": self.job_type_id,
            "priority": self.priority,
            "appointment": {k: v for k, v in appointment.items() if v is not None},
            "technicianIds": self.technician_ids,
        }
        if self.summary is not None:
            body["summary"] = self.summary
        if self.campaign_id is not None:
            body["campaignId"] = self.campaign_id
        return body


class PaymentStatusPayload(Payload):
    """Set the export status of customer payments (``Pending``, ``Posted``,
    ``Exported``): the official ``POST payments/status``."""

    payment_ids: list[Id] = Field(min_length=1, max_length=500)
    status: Literal["Pending", "Posted", "Exported"]

    @model_validator(mode="after")
    def _unique(self) -> PaymentStatusPayload:
        if len(set(self.payment_ids)) != len(self.payment_ids):
            raise ValueError("payment_ids has duplicates")
        return self

    def api_body(self) -> dict[str, Any]:
        return {"paymentIds": list(self.payment_ids), "status": self.status}


MODELS: dict[str, type[Payload]] = {
    "create_job": CreateJobPayload,
    "dispatch": DispatchPayload,
    "invoice": InvoicePayload,
    "payment_status": PaymentStatusPayload,
}


def _register_attachment() -> None:
    # Its own module (st_resources/writeback/attachment_payload.py) imports this one.
    from st_resources.writeback.attachment_payload import AttachmentPayload

    MODELS["attachment"] = AttachmentPayload


_register_attachment()


def parse_payload(kind: str, payload: Any) -> Payload:
    """The validated payload of a request of ``kind``; ``PayloadError`` says what to fix.

    ``payload`` is a dict, a model or a JSON string. Its JSON size is checked first, so a
    huge payload is refused before it is parsed.
    """
    model = MODELS.get(kind)
    if model is None:
        raise PayloadError(f"unknown request kind {kind!r}; use one of {', '.join(KINDS)}")
    if isinstance(payload, model):
        return payload
    if isinstance(payload, Payload):
        raise PayloadError(f"a {type(payload).__name__} is not a {kind} payload")
    raw = payload if isinstance(payload, str | bytes) else json.dumps(payload, default=str)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            f"the {kind} payload is {len(raw):,} bytes; the limit is {MAX_PAYLOAD_BYTES:,} "
            "bytes (at most 500 invoice items): split it or remove what is not needed"
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in exc.errors()[:10]
        )
        raise PayloadError(f"invalid {kind} payload: {problems}") from None


def payload_json(payload: Payload) -> str:
    """The canonical JSON stored in the queue (stable, so equal requests compare equal)."""
    return payload.model_dump_json(exclude_none=True)
