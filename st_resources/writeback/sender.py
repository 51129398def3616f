"""Send one write request exactly once and record its outcome.

The request id is the Idempotency-Key: a retry of the op after a transient error, or a
run re-executed after it died between the API call and the recorded outcome, sends the
same body with the same key, and the API replays its first answer instead of writing
again. The official v2 API has no keys: its backend looks before it writes, so the
re-executed run finds the change in place and sends nothing (``replayed``).

Outcomes: 2xx → ``succeeded``; 409 → ``conflict`` (not retried); 400/403/404/412/422,
and what the backend's capabilities refuse (v2: moves to Dispatched, Working or Done,
payments with an invoice; the session API: payments' status; checked before any call)
→ ``rejected``; transient errors → retried by the op's
RetryPolicy, then ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from st_resources.backend import Backend, WriteResult
from st_resources.errors import (
    ConflictError,
    RateLimitExceeded,
    ServiceTitanError,
    TransientError,
    UnsupportedOperation,
)
from st_resources.writeback.guard import GuardRefusal, guard_dispatch
from st_resources.writeback.payloads import DispatchPayload, PayloadError
from st_resources.writeback.queue import (
    CONFLICT,
    FAILED,
    REJECTED,
    SUCCEEDED,
    WriteQueue,
    WriteRequest,
)

REJECTED_STATUSES = {400, 403, 404, 412, 413, 422}

# The warehouse entities a successful write changes (for the freshness sensor).
AFFECTED_ENTITIES: dict[str, tuple[str, ...]] = {
    "create_job": ("jobs", "appointments"),
    "dispatch": ("jobs", "appointments"),
    "invoice": ("jobs", "invoices", "payments", "customers"),
    "payment_status": ("payments",),
    # Attachments are not a stream; the job is refreshed, as ServiceTitan touches it.
    "attachment": ("jobs",),
}


class TransientWriteError(Exception):
    """A transient failure the op should retry (same request, same Idempotency-Key)."""


def result_of(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The ids and figures worth keeping from a successful answer."""
    if kind == "create_job":
        return {
            "jobId": body.get("id"),
            "appointmentIds": [a["id"] for a in body.get("appointments") or []],
        }
    if kind == "attachment":
        return {k: body.get(k) for k in ("jobId", "id", "fileName", "sha256")}
    if kind == "payment_status":
        return {"paymentIds": body.get("paymentIds"), "status": body.get("status")}
    if kind == "dispatch":
        return {
            "jobId": body.get("jobId"),
            "appointmentId": body.get("id"),
            "status": body.get("status"),
            "technicianIds": [a["technicianId"] for a in body.get("assignments") or []],
        }
    return {
        "jobId": (body.get("job") or {}).get("id"),
        "invoiceId": body.get("id"),
        "total": body.get("total"),
        "balance": body.get("balance"),
    }


@dataclass(frozen=True)
class Attempt:
    """What one attempt did: the request after it, and whether the API was called."""

    request: WriteRequest
    sent: bool


def prepare_body(queue: WriteQueue, backend: Backend, request: WriteRequest) -> dict[str, Any]:
    """The body to send, fixed in the queue before the first send (the guard runs once)."""
    if request.sent_body is not None:
        return request.sent_body
    payload = request.model()
    if isinstance(payload, DispatchPayload):
        payload = guard_dispatch(queue, backend, request.id, payload)
    return queue.fix_sent_body(request.id, payload.api_body())


def send(backend: Backend, request: WriteRequest, body: dict[str, Any]) -> WriteResult:
    """The API call itself, keyed by the request id."""
    job_id = request.payload.get("job_id")
    return backend.send_write(
        request.kind,
        body,
        job_id=int(job_id) if job_id is not None else None,
        idempotency_key=request.id,
    )


def process(
    queue: WriteQueue,
    backend: Backend,
    request_id: str,
    *,
    run_id: str | None = None,
    final_attempt: bool = True,
) -> Attempt:
    """Claim, guard, send and record one attempt of a request.

    Raises ``TransientWriteError`` after recording a transient failure when this is not
    the final attempt; on the final one the request ends ``failed``.
    """
    request = queue.claim(request_id)
    if request.terminal:
        return Attempt(request, sent=False)
    refusal = backend.capabilities.refusal(request.kind, request.model().set_fields())
    if refusal is not None:  # queued without the tenant check: refused before any call
        refused = UnsupportedOperation(refusal, code="unsupported")
        return Attempt(_record_error(queue, request, refused, run_id, final_attempt), sent=False)
    try:
        body = prepare_body(queue, backend, request)
    except PayloadError as exc:  # e.g. the job vanished since the request was queued
        done = queue.record_attempt(
            request,
            outcome=REJECTED,
            status=REJECTED,
            result={"code": "invalid_request", "message": str(exc)},
            run_id=run_id,
            error_code="invalid_request",
            message=str(exc),
        )
        return Attempt(done, sent=False)
    except ServiceTitanError as exc:  # the guard's reads failed
        return Attempt(_record_error(queue, request, exc, run_id, final_attempt), sent=False)
    except GuardRefusal as exc:
        done = queue.record_attempt(
            request,
            outcome=CONFLICT,
            status=CONFLICT,
            result={"code": exc.code, "message": exc.message, "details": exc.details},
            run_id=run_id,
            error_code=exc.code,
            message=exc.message,
        )
        return Attempt(done, sent=False)
    try:
        answer = send(backend, request, body)
    except ServiceTitanError as exc:
        return Attempt(_record_error(queue, request, exc, run_id, final_attempt), sent=True)
    done = queue.record_attempt(
        request,
        outcome=SUCCEEDED,
        status=SUCCEEDED,
        result=result_of(request.kind, answer.body),
        run_id=run_id,
        http_status=answer.status_code,
        api_request_id=answer.request_id,
        replayed=answer.replayed,
    )
    return Attempt(done, sent=True)


def _record_error(
    queue: WriteQueue,
    request: WriteRequest,
    exc: ServiceTitanError,
    run_id: str | None,
    final_attempt: bool,
) -> WriteRequest:
    result = {
        "code": exc.code,
        "message": exc.message,
        "status": exc.status,
        "requestId": exc.request_id,
        "details": exc.details,
    }
    common: dict[str, Any] = {
        "run_id": run_id,
        "http_status": exc.status,
        "api_request_id": exc.request_id,
        "error_code": exc.code,
        "message": exc.message,
        "result": result,
    }
    if isinstance(exc, ConflictError):
        return queue.record_attempt(request, outcome=CONFLICT, status=CONFLICT, **common)
    if exc.status in REJECTED_STATUSES or isinstance(exc, UnsupportedOperation):
        return queue.record_attempt(request, outcome=REJECTED, status=REJECTED, **common)
    if isinstance(exc, TransientError | RateLimitExceeded) and not final_attempt:
        queue.record_attempt(request, outcome="transient_error", status=None, **common)
        raise TransientWriteError(str(exc)) from None
    # Exhausted transient errors, and authentication problems (no retry can fix those):
    # the request ends failed and can be submitted again as a new request.
    return queue.record_attempt(request, outcome=FAILED, status=FAILED, **common)
