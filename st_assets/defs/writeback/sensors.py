"""``writeback_freshness`` asks for a refresh of today's day of the entities a successful
write changed (the queue sensor ``writeback_requests`` is in the ``writeback`` location,
``st_assets/writes/sensors.py``)."""

from collections.abc import Sequence

import dagster as dg

from st_assets.defs.ingest import jobs as ingest_jobs
from st_assets.defs.ingest.partitions import today
from st_assets.defs.ingest.refresh import refresh_requests
from st_assets.defs.names import asset_key
from st_assets.writes.cursor import dump_cursor, parse_cursor
from st_resources.writeback.queue import WriteQueueResource
from st_resources.writeback.sender import AFFECTED_ENTITIES


def affected_assets(kinds: Sequence[str]) -> list[dg.AssetKey]:
    """The ingest assets that writes of ``kinds`` change, in a stable order."""
    names = sorted({e for kind in kinds for e in AFFECTED_ENTITIES[kind]})
    return [asset_key(name) for name in names]


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
