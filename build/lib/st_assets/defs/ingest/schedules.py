"""Every 15 minutes: today's and yesterday's partitions of the changing entities.
Nightly: the reference sets and the checks."""

from datetime import timedelta

import dagster as dg

from st_assets.defs.ingest import jobs
from st_assets.defs.ingest.partitions import today_key


@dg.schedule(cron_schedule="*/15 * * * *", job=jobs.changing_job, execution_timezone="UTC")
def recent_partitions(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Today's and yesterday's partitions (a late edit lands in yesterday's until midnight)."""
    now = context.scheduled_execution_time
    keys = [today_key(now - timedelta(days=1)), today_key(now)]
    stamp = now.strftime("%Y%m%dT%H%M")
    return [dg.RunRequest(run_key=f"{key}@{stamp}", partition_key=key) for key in keys]


nightly_reference = dg.ScheduleDefinition(
    name="nightly_reference",
    job=jobs.reference_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
)
nightly_checks = dg.ScheduleDefinition(
    name="nightly_checks",
    job=jobs.checks_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
)
