"""Request bodies of the v2 writes, named after the official schemas. (A model's docstring
is its description in ``/openapi.json``.)"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


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
