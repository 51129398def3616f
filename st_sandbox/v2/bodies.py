"""Request bodies of the v2 writes, named after the official schemas. (A model's docstring
is its description in ``/openapi.json``.)"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from st_sandbox.writes.bodies import check_window


# Request bodies refuse unknown fields, as the official API's do.
class Strict(BaseModel):
    """Request bodies refuse unknown fields so that a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class RescheduleBody(Strict):
    """``Jpm.V2.AppointmentRescheduleRequest``."""

    start: datetime | None = None
    end: datetime | None = None
    arrivalWindowStart: datetime | None = None
    arrivalWindowEnd: datetime | None = None


class AssignBody(Strict):
    """``Dispatch.V2.AssignTechniciansRequest`` (and the unassign request, same shape)."""

    jobAppointmentId: int = Field(ge=1, le=2**62)
    technicianIds: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(max_length=50)


class AppointmentInformation(Strict):
    """``Jpm.V2.AppointmentInformation``: one appointment of a new job."""

    start: datetime
    end: datetime
    arrivalWindowStart: datetime | None = None
    arrivalWindowEnd: datetime | None = None
    technicianIds: list[Annotated[int, Field(ge=1, le=2**62)]] | None = Field(
        default=None, max_length=50
    )

    @model_validator(mode="after")
    def _ordered(self) -> AppointmentInformation:
        check_window(self.start, self.end, self.arrivalWindowStart, self.arrivalWindowEnd)
        return self


class ExternalDataModel(Strict):
    """``Jpm.V2.ExternalDataModel``."""

    key: str = Field(min_length=1, max_length=500)
    value: str = Field(max_length=10_000)


class ExternalDataCreateRequest(Strict):
    """``Jpm.V2.ExternalDataCreateRequest``: items readable with the same application guid."""

    applicationGuid: UUID
    externalData: list[ExternalDataModel] = Field(max_length=100)


class JobCreateRequest(Strict):
    """``Jpm.V2.JobCreateRequest`` (the fields the sandbox does not model are accepted
    and ignored, as the official schema has them)."""

    customerId: int = Field(ge=1, le=2**62)
    locationId: int = Field(ge=1, le=2**62)
    businessUnitId: int = Field(ge=1, le=2**62)
    jobTypeId: int = Field(ge=1, le=2**62)
    priority: Literal["Low", "Normal", "High", "Urgent"]
    campaignId: int = Field(ge=1, le=2**62)
    appointments: list[AppointmentInformation] = Field(min_length=1, max_length=50)
    summary: str | None = Field(default=None, max_length=10_000)
    externalData: ExternalDataCreateRequest | None = None
    projectId: int | None = None
    jobGeneratedLeadSource: dict[str, Any] | None = None
    customFields: list[dict[str, Any]] | None = None
    tagTypeIds: list[int] | None = None
    invoiceSignatureIsRequired: bool | None = None
    customerPo: str | None = None
    soldById: int | None = None
    partnerLeadCallId: int | None = None
    leadId: int | None = None
    bookingId: int | None = None
    noCharge: bool | None = None


class HoldAppointmentRequest(Strict):
    """``Jpm.V2.HoldAppointmentRequest``."""

    reasonId: int = Field(ge=1, le=2**62)
    memo: str = Field(max_length=10_000)


class CancelJobRequest(Strict):
    """``Jpm.V2.CancelJobRequest``."""

    reasonId: int = Field(ge=1, le=2**62)
    memo: str = Field(max_length=10_000)


class PaymentStatusBatchRequest(Strict):
    """``Accounting.V2.PaymentStatusBatchRequest``."""

    paymentIds: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(min_length=1, max_length=500)
    status: Literal["Pending", "Posted", "Exported"]
