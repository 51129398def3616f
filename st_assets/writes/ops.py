"""The write op, one per request kind: it sends a batch of queued requests of its kind."""

from typing import Any

import dagster as dg
from pydantic import Field

from st_assets.defs.names import WRITE_POOL
from st_resources.resource import ServiceTitanResource
from st_resources.writeback.batch import BatchOutcome, process_batch
from st_resources.writeback.queue import FAILED, WriteQueue, WriteQueueResource
from st_resources.writeback.sender import Attempt, TransientWriteError

# Transient errors only reach the op after the backend's own retries; a few more, spaced
# out, ride through a short outage. Retries stay in the op (same run, same keys): a
# sensor's run_key is spent once its run exists, even if the run fails.
WRITE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class WriteBatchConfig(dg.Config):
    """Which queued requests the run sends (all of the op's kind)."""

    request_ids: list[str] = Field(
        min_length=1, description="The write requests' uuids (each its Idempotency-Key)"
    )


def op_name(kind: str) -> str:
    """The write op of a request kind."""
    return f"send_{kind}"


def build_write_op(kind: str) -> dg.OpDefinition:
    """The op that sends a batch of queued ``kind`` requests and records their outcomes."""

    @dg.op(
        name=op_name(kind),
        retry_policy=WRITE_RETRY,
        pool=WRITE_POOL,
        out=dg.Out(dict, description="How many requests of the batch ended in each status"),
        tags={"writeback/kind": kind},
        description=f"Send queued `{kind}` requests, each with its id as Idempotency-Key.",
    )
    def send_write(
        context: dg.OpExecutionContext,
        config: WriteBatchConfig,
        servicetitan: ServiceTitanResource,
        writeback_queue: WriteQueueResource,
    ) -> dg.Output[dict[str, int]]:
        queue = writeback_queue.get_queue()
        _check_kinds(queue, config.request_ids, kind)
        outcome = process_batch(
            queue,
            servicetitan.get_backend(),
            config.request_ids,
            kind=kind,
            run_id=context.run_id,
            final_attempt=context.retry_number >= WRITE_RETRY.max_retries,
            report=lambda request_id, attempt, error: _log(context, request_id, attempt, error),
        )
        if outcome.transient:  # the RetryPolicy sends those again; finished ones are skipped
            raise TransientWriteError(
                f"{len(outcome.transient)} request(s) met a transient error: "
                + "; ".join(f"{i}: {m}" for i, m in outcome.transient.items())
            )
        failed = [a.request for a in outcome.attempts.values() if a.request.status == FAILED]
        if failed:
            raise dg.Failure(
                f"{len(failed)} write request(s) failed after their retries: "
                + "; ".join(f"{r.id}: {(r.result or {}).get('message')}" for r in failed)
                + "; submit them again when the tenant is back",
                metadata={"failed": [r.id for r in failed], "statuses": outcome.statuses()},
            )
        return dg.Output(outcome.statuses(), metadata=_metadata(outcome))

    return send_write


def _check_kinds(queue: WriteQueue, request_ids: list[str], kind: str) -> None:
    """Refuse a batch holding a request of another kind (a hand-made run config)."""
    for request_id in request_ids:
        request = queue.get(request_id)
        if request.kind != kind:
            raise dg.Failure(
                f"request {request.id} is a {request.kind} request; launch writeback_{request.kind}"
            )


def _log(
    context: dg.OpExecutionContext, request_id: str, attempt: Attempt | None, error: str | None
) -> None:
    """One event per request as it ends (a run writing events is alive to the reconciler)."""
    if attempt is None:
        context.log.warning(f"write request {request_id}: transient error, retrying: {error}")
        return
    sent = "sent" if attempt.sent else "not sent"
    context.log.info(f"write request {request_id}: {attempt.request.status} ({sent})")


def _metadata(outcome: BatchOutcome) -> dict[str, Any]:
    return {
        "requests": len(outcome.attempts),
        "statuses": dg.MetadataValue.json(outcome.statuses()),
        "api_called": sum(a.sent for a in outcome.attempts.values()),
        "results": dg.MetadataValue.json(
            {i: a.request.result or {} for i, a in outcome.attempts.items()}
        ),
    }
