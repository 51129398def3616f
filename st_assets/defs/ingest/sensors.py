"""The ingest sensors: ``change_feed`` requests a refresh of today's day of the entities
that changed on the tenant (it reads only events, bounded per tick, and keeps its cursor; it
never pages through data itself); ``ingest_checks_automation`` runs each landing check after
the assets it reads have landed (``st_assets/defs/automation.py``)."""

import dagster as dg

from st_assets.defs.automation import after_landing_sensor
from st_assets.defs.ingest import jobs
from st_assets.defs.ingest.partitions import today
from st_assets.defs.ingest.refresh import refresh_requests
from st_assets.defs.names import STREAM_ASSETS, asset_key
from st_contract.entities import SPECS_BY_NAME
from st_resources.resource import ServiceTitanResource

MAX_EVENT_BATCHES = 5


def entities_in(events: list[dict[str, object]], defined: set[dg.AssetKey]) -> list[str]:
    """The partitioned streams named by a batch of events that the location defines
    (``ST_STREAMS``), in a stable order."""
    names = {str(e["entity"]) for e in events}
    return sorted(
        n
        for n in names
        if n in SPECS_BY_NAME and SPECS_BY_NAME[n].partitioned and asset_key(n) in defined
    )


@dg.sensor(job=jobs.changing_job, minimum_interval_seconds=60)
def change_feed(
    context: dg.SensorEvaluationContext, servicetitan: ServiceTitanResource
) -> dg.SensorResult:
    """A refresh of today's day of every entity that changed since the last tick."""
    backend = servicetitan.get_backend()
    feed = backend.change_feed
    if feed is None:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"the {backend.name} backend has no change feed: the schedules sync it"
            )
        )
    cursor = context.cursor or None
    seen: list[dict[str, object]] = []
    for _ in range(MAX_EVENT_BATCHES):
        batch = feed.changes(cursor, limit=1000)
        seen += [{"entity": e.entity, "id": e.id} for e in batch.events]
        cursor = batch.cursor or cursor
        if not batch.has_more:
            break
    repository = context.repository_def
    defined = set(repository.asset_graph.get_all_asset_keys()) if repository else set()
    changed = entities_in(seen, defined)
    if not changed:
        return dg.SensorResult(cursor=cursor, skip_reason=dg.SkipReason("no changes"))
    requests = refresh_requests(
        context.repository_def,
        [today()],
        f"events-{cursor}",
        asset_selection=[asset_key(name) for name in changed],
        tags={"servicetitan/events": str(len(seen))},
    )
    return dg.SensorResult(run_requests=requests, cursor=cursor)


ingest_checks_automation = after_landing_sensor(
    "ingest_checks_automation",
    STREAM_ASSETS - STREAM_ASSETS.without_checks(),
    "Runs each landing check after the assets it reads have landed.",
)
