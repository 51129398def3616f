"""The write op (one per request kind) and the auto-invoice op."""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from st_assets.defs.names import API_POOL
from st_resources.resource import ServiceTitanResource
from st_resources.writeback.auto_invoice import uninvoiced_jobs
from st_resources.writeback.queue import FAILED, WriteQueueResource
from st_resources.writeback.sender import process

# Transient errors only reach the op after the backend's own retries; a few more, spaced
# out, ride through a short outage. Retries stay in the op (same run, same key): a
# sensor's run_key is spent once its run exists, even if the run fails.
WRITE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
AUTOMATION_USER = "automation:auto_invoice"


class WriteRequestConfig(dg.Config):
    """Which queued request the run sends."""

    request_id: str = Field(description="The write request's uuid (also the run key)")


def op_name(kind: str) -> str:
    """The write op of a request kind."""
    return f"send_{kind}"


def build_write_op(kind: str) -> dg.OpDefinition:
    """The op that sends one queued request of ``kind`` and records its outcome."""

    @dg.op(
        name=op_name(kind),
        retry_policy=WRITE_RETRY,
        pool=API_POOL,
        out=dg.Out(str, description="The request's status after this run"),
        tags={"writeback/kind": kind},
        description=f"Send one queued `{kind}` request with its id as Idempotency-Key.",
    )
    def send_write(
        context: dg.OpExecutionContext,
        config: WriteRequestConfig,
        servicetitan: ServiceTitanResource,
        writeback_queue: WriteQueueResource,
    ) -> dg.Output[str]:
        queue = writeback_queue.get_queue()
        request = queue.get(config.request_id)
        if request.kind != kind:
            raise dg.Failure(
                f"request {request.id} is a {request.kind} request; launch writeback_{request.kind}"
            )
        attempt = process(
            queue,
            servicetitan.get_backend(),
            config.request_id,
            run_id=context.run_id,
            final_attempt=context.retry_number >= WRITE_RETRY.max_retries,
        )
        done = attempt.request
        if done.status == FAILED:
            raise dg.Failure(
                f"write request {done.id} failed after {done.attempts} attempt(s): "
                f"{(done.result or {}).get('message')}; submit it again when the tenant is back",
                metadata={
                    "request_id": done.id,
                    "result": dg.MetadataValue.json(done.result or {}),
                },
            )
        context.log.info(f"write request {done.id} ({done.kind}): {done.status}")
        return dg.Output(
            done.status,
            metadata={
                "request_id": done.id,
                "status": done.status,
                "attempts": done.attempts,
                "api_called": attempt.sent,
                "result": dg.MetadataValue.json(done.result or {}),
            },
        )

    return send_write


class AutoInvoiceConfig(dg.Config):
    """How far back to look for completed jobs."""

    days_back: int = Field(default=7, ge=1, le=3660, description="Jobs modified in these days")


@dg.op(out=dg.Out(int, description="New invoice requests"), pool=API_POOL)
def submit_auto_invoices(
    context: dg.OpExecutionContext,
    config: AutoInvoiceConfig,
    servicetitan: ServiceTitanResource,
    writeback_queue: WriteQueueResource,
) -> dg.Output[int]:
    """Queue an invoice request for every completed, uninvoiced job with a sold estimate."""
    backend = servicetitan.get_backend()
    if not backend.capabilities.auto_invoice:
        # Officially ServiceTitan creates a job's invoice with the job, and v2 cannot add a
        # discount or tax zone: billing from the estimate is a session API feature.
        reason = (
            f"auto-invoice needs the session API backend; the {backend.name} backend queues nothing"
        )
        context.log.warning(reason)
        return dg.Output(0, metadata={"new_requests": 0, "skipped": reason})
    queue = writeback_queue.get_queue()
    since = datetime.now(UTC) - timedelta(days=config.days_back)
    new = existing = 0
    for payload in uninvoiced_jobs(backend, since):
        submitted = queue.submit("invoice", payload, requested_by=AUTOMATION_USER)
        existing += submitted.duplicate
        new += not submitted.duplicate
    context.log.info(f"auto-invoice: {new} new request(s), {existing} already queued")
    return dg.Output(new, metadata={"new_requests": new, "already_queued": existing})
