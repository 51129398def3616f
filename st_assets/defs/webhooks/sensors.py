"""``webhook_events``: a refresh of the days the stored webhook events touched.

The receiver (``st_resources.webhooks``) stores each delivery in the write-back's
database; this sensor reads the events after its cursor (at most ``MAX_EVENTS`` per
tick), keeps those of the partitioned streams the location defines (``ST_STREAMS``) and
asks for one refresh of their days (the day of each record's ``modifiedOn``, so today
normally) per partition. It runs whatever the backend: webhooks are how the v2 API tells
of changes, where the session API has its change feed (``change_feed``). The cursor is a
position in one database (``st_assets/writes/cursor.py``): another database is read
from its start, and the run keys keep a refresh from being requested twice.
"""

from __future__ import annotations

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


@dg.sensor(
    name="webhook_events",
    job=jobs.changing_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A refresh of the days touched by the ServiceTitan webhook events received.",
)
def webhook_events(
    context: dg.SensorEvaluationContext, writeback_queue: WriteQueueResource
) -> dg.SensorResult:
    """One refresh per partition of the days and entities of the events since the cursor."""
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
    return dg.SensorResult(run_requests=requests, cursor=cursor)
