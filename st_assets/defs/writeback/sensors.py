"""Sensors of the write-back: ``writeback_requests`` turns pending queue rows into runs
(it reads the queue only, never the API); ``writeback_freshness`` asks for a refresh of
today's day of the entities a successful write changed."""

import json
from collections.abc import Sequence

import dagster as dg

from st_assets.defs.ingest import jobs as ingest_jobs
from st_assets.defs.ingest.partitions import today
from st_assets.defs.ingest.refresh import refresh_requests
from st_assets.defs.names import asset_key
from st_assets.defs.writeback import jobs
from st_assets.defs.writeback.ops import op_name
from st_resources.writeback.queue import WriteQueueResource, WriteRequest
from st_resources.writeback.sender import AFFECTED_ENTITIES

MAX_RUNS_PER_TICK = 200


def parse_cursor(cursor: str | None, identity: str) -> int:
    """The last position a sensor handled in the queue ``identity`` (0 before the first
    tick). The cursor of another queue (a recreated or switched database) or of the old
    plain-number format also gives 0: starting over skips nothing, and run keys (request
    ids) keep a request from being launched twice."""
    if not cursor:
        return 0
    try:
        value = json.loads(cursor)
    except ValueError:
        raise ValueError(f"sensor cursor {cursor!r} is not JSON") from None
    if not isinstance(value, dict) or value.get("queue") != identity:
        return 0
    position = value.get("seq")
    if not isinstance(position, int) or position < 0:
        raise ValueError(f"sensor cursor {cursor!r} has no valid seq")
    return position


def dump_cursor(identity: str, position: int) -> str:
    """The cursor of a position in the queue ``identity``."""
    return json.dumps({"queue": identity, "seq": position})


def run_request_for(request: WriteRequest) -> dg.RunRequest:
    """The run of one write request; its run key is the request id, so it runs once."""
    return dg.RunRequest(
        run_key=request.id,
        job_name=jobs.WRITE_JOBS[request.kind].name,
        run_config={"ops": {op_name(request.kind): {"config": {"request_id": request.id}}}},
        tags={
            "writeback/request_id": request.id,
            "writeback/kind": request.kind,
            "writeback/requested_by": request.requested_by,
        },
    )


def affected_assets(kinds: Sequence[str]) -> list[dg.AssetKey]:
    """The ingest assets that writes of ``kinds`` change, in a stable order."""
    names = sorted({e for kind in kinds for e in AFFECTED_ENTITIES[kind]})
    return [asset_key(name) for name in names]


@dg.sensor(
    name="writeback_requests",
    jobs=jobs.write_jobs,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One run per pending write request (run key = request id).",
)
def writeback_requests(
    context: dg.SensorEvaluationContext, writeback_queue: WriteQueueResource
) -> dg.SensorResult:
    """One run of the write job of its kind per pending request, after the cursor."""
    queue = writeback_queue.get_queue()
    identity = queue.identity()
    after = parse_cursor(context.cursor, identity)
    pending = queue.pending_after(after, limit=MAX_RUNS_PER_TICK)
    if not pending:
        # Store the identity even when idle, so a later switch is noticed.
        return dg.SensorResult(
            skip_reason=dg.SkipReason("no pending write requests"),
            cursor=dump_cursor(identity, after),
        )
    return dg.SensorResult(
        run_requests=[run_request_for(r) for r in pending],
        cursor=dump_cursor(identity, pending[-1].seq),
    )


@dg.sensor(
    name="writeback_freshness",
    job=ingest_jobs.changing_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A refresh of today's day of the entities changed by successful writes.",
)
def writeback_freshness(
    context: dg.SensorEvaluationContext, writeback_queue: WriteQueueResource
) -> dg.SensorResult:
    """One refresh of today's day of the affected assets per batch of successful writes."""
    queue = writeback_queue.get_queue()
    identity = queue.identity()
    after = parse_cursor(context.cursor, identity)
    done = queue.succeeded_after(after)
    if not done:
        return dg.SensorResult(
            skip_reason=dg.SkipReason("no new successful writes"),
            cursor=dump_cursor(identity, after),
        )
    last = done[-1][0]
    requests = refresh_requests(
        context.repository_def,
        [today()],
        f"writeback-fresh-{last}",
        asset_selection=affected_assets([kind for _, kind in done]),
        tags={"writeback/successful_writes": str(len(done))},
        job_name=ingest_jobs.changing_job.name,  # the sensor's job, named for who executes it
    )
    return dg.SensorResult(run_requests=requests, cursor=dump_cursor(identity, last))
