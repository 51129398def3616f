"""Dispatch's appointment assignments: list and export them, assign and unassign
technicians. The writes go through the session API's dispatch rule
(``st_sandbox/writes/``), so double booking and status rules are the same on both
surfaces."""

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from st_contract.v2_paths import ASSIGNMENTS
from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import TenantDep, json_response
from st_sandbox.store import TenantStore
from st_sandbox.tenant import Tenant
from st_sandbox.v2.bodies import AssignBody
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.export import export_body, export_chunk
from st_sandbox.v2.oauth import AccessToken
from st_sandbox.v2.params import Opt, PageQ, SizeQ, list_filter, list_page, parse_ids, parse_time
from st_sandbox.v2.state import V2Dep, caller
from st_sandbox.writes.bodies import DispatchBody

router = APIRouter(route_class=V2Route, tags=["v2"])
BASE = f"{ASSIGNMENTS.prefix}/tenant/{{tenant}}"
DispatchRead = Annotated[AccessToken, Depends(caller(ASSIGNMENTS.module))]
DispatchWrite = Annotated[AccessToken, Depends(caller(ASSIGNMENTS.module, write=True))]
# The fields of the official answer to assign/unassign (an appointment without extras).
APPOINTMENT_FIELDS = (
    "id",
    "jobId",
    "appointmentNumber",
    "start",
    "end",
    "arrivalWindowStart",
    "arrivalWindowEnd",
    "status",
    "specialInstructions",
    "createdOn",
    "modifiedOn",
)


def assignments_of(appointments: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The assignments of the appointments, in order."""
    for appt in appointments:
        yield from appt["assignments"]


def appointment_or_404(store: TenantStore, appointment_id: int) -> dict[str, Any]:
    """The appointment, or a 404."""
    appt = store.get("appointments", appointment_id)
    if appt is None:
        raise ApiError(404, "not_found", f"appointment {appointment_id} does not exist")
    return appt


@router.get(f"{BASE}/appointment-assignments")
async def list_assignments(
    current: DispatchRead,
    sandbox: TenantDep,
    page: PageQ = 1,
    pageSize: SizeQ = 50,
    includeTotal: bool = False,
    ids: Opt = None,
    appointmentIds: Opt = None,
    jobId: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    active: Opt = None,
    modifiedOnOrAfter: Opt = None,
    modifiedBefore: Opt = None,
    createdOnOrAfter: Opt = None,
    createdBefore: Opt = None,
    sort: Opt = None,
) -> Response:
    flt = list_filter(
        ids, active, modifiedOnOrAfter, modifiedBefore, createdOnOrAfter, createdBefore
    )
    appt_ids = parse_ids(appointmentIds, "appointmentIds")
    store = sandbox.store
    with store.lock:
        records = store.tables["appointments"].records
        appts: Iterator[dict[str, Any]]
        if appt_ids is not None:
            appts = (records[i] for i in sorted(appt_ids) if i in records)
        elif jobId is not None:
            appts = (records[i] for i in store.job_appointments.get(jobId, []))
        else:
            appts = iter(records.values())
        matched = sorted(
            (
                dict(a)
                for a in assignments_of(appts)
                if flt.matches(a, parse_time(a["modifiedOn"], "modifiedOn") or 0)
            ),
            key=lambda a: a["id"],
        )
    return list_page(matched, page, pageSize, includeTotal, list, sort=sort)


@router.get(f"{BASE}/export/appointment-assignments")
async def export_assignments(
    current: DispatchRead,
    sandbox: TenantDep,
    v2: V2Dep,
    from_: Annotated[str | None, Query(alias="from", max_length=2000)] = None,
    includeRecentChanges: bool = False,
) -> Response:
    # Walks appointments in (modifiedOn, id) order: every assignment change bumps its
    # appointment, so the appointment's position is the assignment's continuation point.
    rows, position, more = export_chunk(v2, sandbox.store, "appointments", from_)
    items = [a for a in assignments_of(iter(rows))]
    return Response(
        export_body(v2, items, "appointments", position, more), media_type="application/json"
    )


def reassign(
    tenant: Tenant, body: AssignBody, kind: str, pick: Callable[[list[int]], list[int]]
) -> Response:
    """Give the appointment the technicians ``pick`` makes of those it holds, through the
    session API's dispatch rule; the appointment's official fields."""
    store = tenant.store
    with store.lock:
        appt = appointment_or_404(store, body.jobAppointmentId)
        held = [a["technicianId"] for a in appt["assignments"] if a["active"]]
        update = DispatchBody(appointmentId=appt["id"], technicianIds=pick(held))
        tenant.count(f"write v2 {kind}")
        result = tenant.writes.dispatch(appt["jobId"], update, None)
        return json_response({k: result.get(k) for k in APPOINTMENT_FIELDS})


# Adds technicians to those the appointment holds (in the order given).
@router.post(f"{BASE}/appointment-assignments/assign-technicians")
async def assign_technicians(
    body: AssignBody, current: DispatchWrite, sandbox: TenantDep
) -> Response:
    def pick(held: list[int]) -> list[int]:
        return held + [t for t in dict.fromkeys(body.technicianIds) if t not in held]

    return reassign(sandbox, body, "assign", pick)


@router.post(f"{BASE}/appointment-assignments/unassign-technicians")
async def unassign_technicians(
    body: AssignBody, current: DispatchWrite, sandbox: TenantDep
) -> Response:
    def pick(held: list[int]) -> list[int]:
        return [t for t in held if t not in set(body.technicianIds)]

    return reassign(sandbox, body, "unassign", pick)
