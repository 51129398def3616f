"""``webhook_events``: a refresh of the days the stored webhook events touched.

The receiver (``st_resources.webhooks``) stores each delivery in the write-back's
database; this sensor reads the events after its cursor (at most ``MAX_EVENTS`` per
tick), keeps those of the partitioned streams the location defines (``ST_STREAMS``) and
asks for one refresh of their days (the day of each record's ``modifiedOn``, so today
normally) per partition. It runs whatever the backend: webhooks are how the v2 API tells
of changes, where the session API has its change feed (``change_feed``). The cursor is a
position in one database (``st_assets/writes/cursor.py``): another database is read
from its start, and the run keys keep a refresh from being requested twice.

Latency over throughput: a refresh run lands what the tenant holds when it reads, so
while one of this sensor's runs has not started yet, the new events wait for the tick
after it starts (the cursor stays) instead of adding a run that would compete with it
for the machine; and the runs execute in process (the job is one step: a step
subprocess would load the code location a second time).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from st_assets.defs.ingest import jobs
from st_assets.defs.ingest.refresh import refresh_requests
from st_assets.defs.ingest.sensors import entities_in
from st_assets.defs.names import asset_key
from st_assets.writes.cursor import dump_cursor, parse_cursor
from st_resources.webhooks.store import WebhookStore
from st_resources.writeback.queue import WriteQueueResource

MAX_EVENTS = 5000
"""Events read per tick (the rest wait for the next tick, which comes at once)."""
SENSOR_NAME = "webhook_events"
NOT_STARTED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]
IN_PROCESS: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}


def _waiting_run(instance: dg.DagsterInstance) -> str | None:
    """The id of a run this sensor requested that has not started yet, if any."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={"dagster/sensor_name": SENSOR_NAME}, statuses=NOT_STARTED),
        limit=1,
    )
    return runs[0].run_id if runs else None


@dg.sensor(
    name=SENSOR_NAME,
    job=jobs.changing_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A refresh of the days touched by the ServiceTitan webhook events received.",
)
def webhook_events(
    context: dg.SensorEvaluationContext, writeback_queue: WriteQueueResource
) -> dg.SensorResult:
    """One refresh per partition of the days and entities of the events since the cursor."""
    waiting = _waiting_run(context.instance)
    if waiting is not None:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"run {waiting} has not started: new events wait for it")
        )
    store = WebhookStore(writeback_queue.db_url or None)
    identity = store.identity()
    after = parse_cursor(context.cursor, identity)
    events = store.after(after, limit=MAX_EVENTS)
    if not events:
        return dg.SensorResult(
            skip_reason=dg.SkipReason("no new webhook events"),
            cursor=dump_cursor(identity, after),
        )
    last = events[-1].seq
    cursor = dump_cursor(identity, last)
    repository = context.repository_def
    defined = set(repository.asset_graph.get_all_asset_keys()) if repository else set()
    changed = entities_in([{"entity": e.entity} for e in events], defined)
    named = {e.entity for e in events}
    if not changed:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"{len(events)} events of streams this location does not land: {sorted(named)}"
            ),
            cursor=cursor,
        )
    days = sorted({e.modified_on.date() for e in events if e.entity in changed})
    requests = refresh_requests(
        repository,
        days,
        f"webhooks-{identity[:8]}-{last}",
        asset_selection=[asset_key(name) for name in changed],
        tags={"servicetitan/webhook_events": str(len(events))},
        job_name=jobs.changing_job.name,
    )
    in_process = [
        r.with_replaced_attrs(run_config={**r.run_config, **IN_PROCESS}) for r in requests
    ]
    return dg.SensorResult(run_requests=in_process, cursor=cursor)
