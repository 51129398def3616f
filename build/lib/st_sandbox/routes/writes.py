"""Writes: ``POST /jobs``, ``PATCH /jobs/{id}/dispatch`` and ``POST /jobs/{id}/invoices``
(docs/api.md, "Writes"), each for the roles that may make it and each idempotent under an
``Idempotency-Key``. The rules themselves are in ``st_sandbox/writes/``.

The routes carry comments rather than docstrings: a docstring would become the
operation's description in ``/openapi.json``, where the summary already says it.
"""

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response

from st_sandbox.auth import Session
from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import SessionDep, TenantDep, json_response, request_id
from st_sandbox.tenant import Tenant
from st_sandbox.writes.bodies import CreateJobBody, DispatchBody, InvoiceBody
from st_sandbox.writes.idempotency import fingerprint
from st_sandbox.writes.rules import etag

router = APIRouter(tags=["writes"])
WRITE_ROLES = {
    "create_job": {"admin", "dispatcher"},
    "dispatch": {"admin", "dispatcher"},
    "invoice": {"admin", "accountant"},
}
IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
Write = Callable[[], tuple[int, dict[str, Any]]]


async def idempotent(
    tenant: Tenant, request: Request, current: Session, kind: str, key: str | None, action: Write
) -> Response:
    """Run a write for a user whose roles allow it; under ``key``, run it once and replay
    its answer (a 5xx is not remembered, so a retry runs it again)."""
    if not current.user.roles or not (set(current.user.roles) & WRITE_ROLES[kind]):
        raise ApiError(
            403, "forbidden", f"user {current.user.username!r} may not {kind.replace('_', ' ')}"
        )
    if key is not None and not 1 <= len(key) <= 200:
        raise ApiError(422, "validation_error", "Idempotency-Key must be 1 to 200 characters")
    tenant.count(f"write {kind}")
    rid = request_id(request)
    if key is None:
        status, body = _run_write(action, rid)
        return json_response(body, status)
    raw = await request.body()
    fp = fingerprint(request.method, request.url.path, raw)
    scope = current.user.username
    with tenant.idempotency.key_lock(scope, key):
        replay = tenant.idempotency.lookup(scope, key, fp)
        if replay is not None:
            return json_response(replay[1], replay[0], {"Idempotent-Replayed": "true"})
        status, body = _run_write(action, rid)
        if status < 500:
            tenant.idempotency.remember(scope, key, fp, status, body)
        tenant.count(f"write {kind} applied" if status < 300 else f"write {kind} refused")
    return json_response(body, status)


def _run_write(action: Write, rid: str) -> tuple[int, dict[str, Any]]:
    """The write's (status, body); a refused write's error body, so it can be remembered."""
    try:
        status, body = action()
    except ApiError as exc:
        return exc.status, exc.body(rid)
    return status, body


@router.post("/jobs", status_code=201, summary="Create a job with its first appointment")
async def create_job(
    request: Request,
    body: CreateJobBody,
    current: SessionDep,
    tenant: TenantDep,
    idempotency_key: IdemHeader = None,
) -> Response:
    return await idempotent(
        tenant,
        request,
        current,
        "create_job",
        idempotency_key,
        lambda: (201, tenant.writes.create_job(body)),
    )


# Answers the appointment with its new ETag.
@router.patch("/jobs/{job_id}/dispatch", summary="Assign technicians, move windows, change status")
async def dispatch(
    request: Request,
    job_id: Annotated[int, Path(ge=1, le=2**62)],
    body: DispatchBody,
    current: SessionDep,
    tenant: TenantDep,
    idempotency_key: IdemHeader = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    def act() -> tuple[int, dict[str, Any]]:
        return 200, tenant.writes.dispatch(job_id, body, if_match)

    response = await idempotent(tenant, request, current, "dispatch", idempotency_key, act)
    if response.status_code == 200:
        appointment_id = orjson.loads(response.body)["id"]
        response.headers["ETag"] = etag(tenant.store, appointment_id)
    return response


@router.post("/jobs/{job_id}/invoices", status_code=201, summary="Invoice a completed job")
async def create_invoice(
    request: Request,
    job_id: Annotated[int, Path(ge=1, le=2**62)],
    body: InvoiceBody,
    current: SessionDep,
    tenant: TenantDep,
    idempotency_key: IdemHeader = None,
) -> Response:
    return await idempotent(
        tenant,
        request,
        current,
        "invoice",
        idempotency_key,
        lambda: (201, tenant.writes.create_invoice(job_id, body)),
    )
