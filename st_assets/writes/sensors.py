"""``writeback_requests``: pending queue rows become runs, a batch of requests per run (it
reads the queue only, never the API).

It ticks on every pass of the daemon's sensor loop (the daemon evaluates sensors every
few seconds whatever the interval asks): a request waits for the next pass, not for a
long interval. The pending requests it finds go out in batches of one kind, at most
``MAX_BATCH`` per run: a burst becomes a few runs that send in parallel instead of one
run process per request, and a lone request gets a run of its own at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dagster as dg

from st_assets.writes import jobs
from st_assets.writes.cursor import dump_cursor, parse_cursor
from st_assets.writes.ops import op_name
from st_resources.writeback.queue import WriteQueueResource, WriteRequest
from st_resources.writeback.stuck import REQUEST_TAG, request_tag

MAX_REQUESTS_PER_TICK = 200
MAX_BATCH = 25


def batch_run_key(requests: Sequence[WriteRequest]) -> str:
    """The run key of a batch: its request's id alone, else its first and last ids.

    Unique per batch, and the same when a failed tick is evaluated again with the same
    cursor, so Dagster launches that batch once."""
    if len(requests) == 1:
        return requests[0].id
    return f"{requests[0].id}..{requests[-1].id}"


def run_request_for_batch(
    requests: Sequence[WriteRequest], run_key: str | None = None
) -> dg.RunRequest:
    """The run of a batch of requests of one kind (each request tagged, so the
    reconciler finds its run)."""
    kinds = {r.kind for r in requests}
    if len(kinds) != 1:
        raise ValueError(f"a write batch holds requests of one kind, got {sorted(kinds)}")
    kind = requests[0].kind
    tags = {
        "writeback/kind": kind,
        "writeback/requests": str(len(requests)),
        "writeback/requested_by": ",".join(sorted({r.requested_by for r in requests}))[:200],
        **{request_tag(r.id): "1" for r in requests},
    }
    if len(requests) == 1:
        tags[REQUEST_TAG] = requests[0].id
    return dg.RunRequest(
        run_key=run_key or batch_run_key(requests),
        job_name=jobs.WRITE_JOBS[kind].name,
        run_config={"ops": {op_name(kind): {"config": {"request_ids": [r.id for r in requests]}}}},
        tags=tags,
    )


def run_request_for(request: WriteRequest) -> dg.RunRequest:
    """The run of one write request; its run key is the request id, so it runs once."""
    return run_request_for_batch([request])


def batches(
    requests: Sequence[WriteRequest], size: int = MAX_BATCH
) -> Iterator[list[WriteRequest]]:
    """``requests`` in batches of one kind and at most ``size``, in queue order per kind."""
    by_kind: dict[str, list[WriteRequest]] = {}
    for request in requests:
        by_kind.setdefault(request.kind, []).append(request)
    for same_kind in by_kind.values():
        for start in range(0, len(same_kind), size):
            yield same_kind[start : start + size]


@dg.sensor(
    name="writeback_requests",
    jobs=jobs.write_jobs,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Pending write requests → runs, a batch of one kind per run.",
)
def writeback_requests(
    context: dg.SensorEvaluationContext, writeback_queue: WriteQueueResource
) -> dg.SensorResult:
    """Runs of the write jobs for the pending requests after the cursor, in batches."""
    queue = writeback_queue.get_queue()
    identity = queue.identity()
    after = parse_cursor(context.cursor, identity)
    pending = queue.pending_after(after, limit=MAX_REQUESTS_PER_TICK)
    if not pending:
        # Store the identity even when idle, so a later switch is noticed.
        return dg.SensorResult(
            skip_reason=dg.SkipReason("no pending write requests"),
            cursor=dump_cursor(identity, after),
        )
    return dg.SensorResult(
        run_requests=[run_request_for_batch(b) for b in batches(pending)],
        cursor=dump_cursor(identity, pending[-1].seq),
    )
