"""The official jpm writes of jobs and appointments: booking a job (``POST jobs``, with
its ``externalData``), holding an appointment and taking it off hold, canceling a job
and removing the cancellation. They go through the session API's rules
(``st_sandbox/writes/``): double booking is a 409 on both surfaces."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from st_contract.v2_paths import (
    CANCEL_JOB,
    CREATE_JOB,
    HOLD_APPOINTMENT,
    REMOVE_CANCELLATION,
    REMOVE_HOLD,
)
from st_sandbox.routes.deps import TenantDep, json_response
from st_sandbox.v2.bodies import CancelJobRequest, HoldAppointmentRequest, JobCreateRequest
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.oauth import AccessToken
from st_sandbox.v2.shapes import V2_BY_ENTITY, shape
from st_sandbox.v2.state import caller
from st_sandbox.writes.bodies import CreateJobBody, Window

router = APIRouter(route_class=V2Route, tags=["v2"])
JpmWrite = Annotated[AccessToken, Depends(caller("jpm", write=True))]
IdPath = Annotated[int, Path(ge=1, le=2**62)]


def _route(operation_path: str) -> str:
    """The route of an official jpm operation (``jobs/{id}/cancel``)."""
    return f"{CREATE_JOB.prefix}/tenant/{{tenant}}/{operation_path}"


def _client(request: Request) -> tuple[str, int] | None:
    return (request.client.host, request.client.port) if request.client else None


@router.post(_route(CREATE_JOB.path))
async def create_job(
    body: JobCreateRequest, current: JpmWrite, sandbox: TenantDep, request: Request
) -> Response:
    """Book a job with its appointments; the job (``Jpm.V2.JobResponse``)."""
    first, *more = body.appointments
    session_body = CreateJobBody(
        customerId=body.customerId,
        locationId=body.locationId,
        businessUnitId=body.businessUnitId,
        jobTypeId=body.jobTypeId,
        priority=body.priority,
        campaignId=body.campaignId,
        summary=body.summary,
        appointment=_window(first.model_dump()),
        technicianIds=first.technicianIds or [],
    )
    extra = [(_window(a.model_dump()), a.technicianIds or []) for a in more]
    external = None
    if body.externalData is not None:
        items = [item.model_dump() for item in body.externalData.externalData]
        external = (str(body.externalData.applicationGuid), items)
    sandbox.count("write v2 create job")
    # The official API opens the job's invoice with the job (items come later).
    job = sandbox.writes.create_job(session_body, extra, external, with_invoice=True)
    job.pop("appointments", None)
    sandbox.writes.answering("create_job", _client(request))
    return json_response(shape(V2_BY_ENTITY["jobs"], job, export=False))


def _window(fields: dict[str, object]) -> Window:
    return Window.model_validate({k: v for k, v in fields.items() if k != "technicianIds"})


@router.put(_route(HOLD_APPOINTMENT.path.replace("{id}", "{appointment_id}")))
async def hold(
    appointment_id: IdPath, body: HoldAppointmentRequest, current: JpmWrite, sandbox: TenantDep
) -> Response:
    sandbox.count("write v2 hold")
    sandbox.writes.hold(appointment_id, body.reasonId, body.memo)
    return Response(status_code=200)


@router.delete(_route(REMOVE_HOLD.path.replace("{id}", "{appointment_id}")))
async def remove_hold(appointment_id: IdPath, current: JpmWrite, sandbox: TenantDep) -> Response:
    sandbox.count("write v2 remove hold")
    sandbox.writes.remove_hold(appointment_id)
    return Response(status_code=200)


@router.put(_route(CANCEL_JOB.path.replace("{id}", "{job_id}")))
async def cancel(
    job_id: IdPath, body: CancelJobRequest, current: JpmWrite, sandbox: TenantDep
) -> Response:
    sandbox.count("write v2 cancel job")
    sandbox.writes.cancel_job(job_id, body.reasonId, body.memo)
    return Response(status_code=200)


@router.put(_route(REMOVE_CANCELLATION.path.replace("{id}", "{job_id}")))
async def remove_cancellation(job_id: IdPath, current: JpmWrite, sandbox: TenantDep) -> Response:
    sandbox.count("write v2 remove cancellation")
    sandbox.writes.remove_cancellation(job_id)
    return Response(status_code=200)
