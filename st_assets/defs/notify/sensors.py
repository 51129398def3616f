"""``notify_events`` polls the tenant and enqueues webhook events (never delivers);
``notify_deliveries_export`` refreshes the delivery-log asset after new attempts."""

import dagster as dg

from st_assets.defs.notify.assets import notify_deliveries_job
from st_resources.notify.poll import poll
from st_resources.notify.store import NotifyStore
from st_resources.resource import ServiceTitanResource
from st_resources.writeback.queue import WriteQueueResource


@dg.sensor(
    name="notify_events",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Job status changes and invoice payments since the last tick, enqueued as "
    "webhook deliveries for `st-notify deliver` (idle without subscribers).",
)
def notify_events(
    context: dg.SensorEvaluationContext,
    servicetitan: ServiceTitanResource,
    writeback_queue: WriteQueueResource,
) -> dg.SensorResult:
    """One poll: the first tick with subscribers baselines, later ones enqueue events."""
    store = NotifyStore(writeback_queue.db_url or None)
    result = poll(store, servicetitan.get_backend(), context.cursor)
    context.log.info(result.message)
    return dg.SensorResult(skip_reason=dg.SkipReason(result.message), cursor=result.cursor)


@dg.sensor(
    name="notify_deliveries_export",
    job=notify_deliveries_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refreshes raw.webhook_deliveries when the worker has logged new attempts.",
)
def notify_deliveries_export(
    context: dg.SensorEvaluationContext, writeback_queue: WriteQueueResource
) -> dg.SensorResult:
    """A run of the export when the newest attempt id moved past the cursor."""
    store = NotifyStore(writeback_queue.db_url or None)
    last = store.last_attempt_id()
    key = f"{store.identity()}:{last}"
    if last == 0 or key == context.cursor:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new delivery attempts"))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key)], cursor=key)
