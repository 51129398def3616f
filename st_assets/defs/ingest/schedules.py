"""Every 15 minutes: today's and yesterday's days of the changing entities (a refresh of
the partition holding them, ``refresh.py``). Nightly: the reference sets and the checks."""

from datetime import timedelta

import dagster as dg

from st_assets.defs.ingest import jobs
from st_assets.defs.ingest.partitions import today
from st_assets.defs.ingest.refresh import refresh_requests


@dg.schedule(cron_schedule="*/15 * * * *", job=jobs.changing_job, execution_timezone="UTC")
def recent_partitions(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Today's and yesterday's days (a late edit lands in yesterday's until midnight), in
    one run, or two across the turn of a month."""
    now = context.scheduled_execution_time
    days = [today(now - timedelta(days=1)), today(now)]
    return refresh_requests(context.repository_def, days, f"recent-{now:%Y%m%dT%H%M}")


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
