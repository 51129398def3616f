"""The request bodies of the session API's writes (validated by pydantic, documented in
``/openapi.json``). A model's docstring is its description in ``/openapi.json``, so the
models that never had one are described in comments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_MONEY = Decimal("1000000000")


class Strict(BaseModel):
    """Request bodies refuse unknown fields so that a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# An appointment's window and, optionally, its arrival window.
class Window(Strict):
    start: datetime
    end: datetime
    arrivalWindowStart: datetime | None = None
    arrivalWindowEnd: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        check_window(self.start, self.end, self.arrivalWindowStart, self.arrivalWindowEnd)
        return self


class CreateJobBody(Strict):
    """``POST /jobs``."""

    customerId: int = Field(gt=0)
    locationId: int = Field(gt=0)
    businessUnitId: int = Field(gt=0)
    jobTypeId: int = Field(gt=0)
    priority: Literal["Low", "Normal", "High", "Urgent"] = "Normal"
    campaignId: int | None = Field(default=None, gt=0)
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


# One item of ``POST /jobs/{jobId}/invoices``: a sku or a described line.
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


# A discount of an invoice: a percent or an amount.
class DiscountBody(Strict):
    percent: Decimal | None = Field(default=None, gt=0, le=100)
    amount: Decimal | None = Field(default=None, gt=0, le=MAX_MONEY)

    @model_validator(mode="after")
    def _one(self) -> DiscountBody:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount has exactly one of percent or amount")
        return self


# A payment taken with the invoice (sandbox test tokens only).
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


def check_window(
    start: datetime | None,
    end: datetime | None,
    arrival_start: datetime | None,
    arrival_end: datetime | None,
) -> None:
    """A ``ValueError`` unless the window and the arrival window are aware and ordered."""
    for value in (start, end, arrival_start, arrival_end):
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps need a timezone, e.g. 2026-03-04T15:00:00Z")
    if start is not None and end is not None and end <= start:
        raise ValueError("the window must end after it starts")
    if (arrival_start is None) != (arrival_end is None):
        raise ValueError("give both arrivalWindowStart and arrivalWindowEnd, or neither")
    if arrival_start is not None and arrival_end is not None and arrival_end <= arrival_start:
        raise ValueError("the arrival window must end after it starts")
