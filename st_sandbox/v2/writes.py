"""The v2 writes outside dispatch and jobs (``jobs.py``): rescheduling an appointment
(jpm), adding or changing an invoice's items, its summary and tax zone (accounting,
``invoices.py``), and payments' export status."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from st_sandbox.routes.deps import TenantDep, json_response
from st_sandbox.v2.bodies import PaymentStatusBatchRequest, RescheduleBody
from st_sandbox.v2.dispatch import appointment_or_404
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.invoices import (
    InvoiceItemUpdate,
    InvoiceUpdate,
    patch_invoice_items,
    update_invoice,
)
from st_sandbox.v2.oauth import AccessToken
from st_sandbox.v2.shapes import V2_BY_ENTITY, shape
from st_sandbox.v2.state import caller
from st_sandbox.writes.bodies import DispatchBody

router = APIRouter(route_class=V2Route, tags=["v2"])
JpmWrite = Annotated[AccessToken, Depends(caller("jpm", write=True))]
AccountingWrite = Annotated[AccessToken, Depends(caller("accounting", write=True))]


# Moves the appointment's window through the session API's dispatch rule.
@router.patch("/jpm/v2/tenant/{tenant}/appointments/{appointment_id}/reschedule")
async def reschedule(
    appointment_id: Annotated[int, Path(ge=1, le=2**62)],
    body: RescheduleBody,
    current: JpmWrite,
    sandbox: TenantDep,
) -> Response:
    store = sandbox.store
    with store.lock:
        appt = appointment_or_404(store, appointment_id)
        update = DispatchBody(appointmentId=appointment_id, **body.model_dump())
        sandbox.count("write v2 reschedule")
        result = sandbox.writes.dispatch(appt["jobId"], update, None)
        return json_response(shape(V2_BY_ENTITY["appointments"], result, export=False))


@router.patch("/accounting/v2/tenant/{tenant}/invoices/{invoice_id}/items")
async def invoice_items(
    invoice_id: Annotated[int, Path(ge=1, le=2**62)],
    body: InvoiceItemUpdate,
    current: AccountingWrite,
    sandbox: TenantDep,
) -> Response:
    sandbox.count("write v2 invoice items")
    patch_invoice_items(sandbox.store, invoice_id, body)
    return Response(status_code=200)


@router.patch("/accounting/v2/tenant/{tenant}/invoices/{invoice_id}")
async def invoice_update(
    invoice_id: Annotated[int, Path(ge=1, le=2**62)],
    body: InvoiceUpdate,
    current: AccountingWrite,
    sandbox: TenantDep,
) -> Response:
    sandbox.count("write v2 invoice update")
    update_invoice(sandbox.store, invoice_id, body)
    return Response(status_code=200)


@router.post("/accounting/v2/tenant/{tenant}/payments/status")
async def payment_status(
    body: PaymentStatusBatchRequest, current: AccountingWrite, sandbox: TenantDep
) -> Response:
    sandbox.count("write v2 payment status")
    sandbox.writes.payment_status(body.paymentIds, body.status)
    return Response(status_code=200)
