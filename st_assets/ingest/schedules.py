"""Every 15 minutes: today's and yesterday's partitions of the changing entities.
Nightly: the reference sets and the checks.

The ingest jobs select the assets without their checks: the checks read the whole
landing, and run in ``servicetitan_checks`` after each ingest run (``checks_after_ingest``)
and nightly. Inside a ranged run Dagster would record each check as planned once per
partition (12,000 rows for three years of 11 entities) before the run could start."""

from datetime import timedelta

import dagster as dg

from st_assets.ingest.assets import CHANGING, REFERENCE, asset_key
from st_assets.ingest.partitions import today_key

CHANGING_KEYS = [asset_key(s.name) for s in CHANGING]
REFERENCE_KEYS = [asset_key(s.name) for s in REFERENCE]


# The asset jobs the schedules, the sensors and the demo launch.
changing_job = dg.define_asset_job(
    "servicetitan_changing",
    selection=dg.AssetSelection.assets(*CHANGING_KEYS).without_checks(),
)
reference_job = dg.define_asset_job(
    "servicetitan_reference",
    selection=dg.AssetSelection.assets(*REFERENCE_KEYS).without_checks(),
)
checks_job = dg.define_asset_job(
    "servicetitan_checks",
    selection=dg.AssetSelection.checks_for_assets(*CHANGING_KEYS, *REFERENCE_KEYS),
)


@dg.schedule(
    cron_schedule="*/15 * * * *", job_name="servicetitan_changing", execution_timezone="UTC"
)
def recent_partitions(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Today's and yesterday's partitions (a late edit lands in yesterday's until midnight)."""
    now = context.scheduled_execution_time
    keys = [today_key(now - timedelta(days=1)), today_key(now)]
    stamp = now.strftime("%Y%m%dT%H%M")
    return [dg.RunRequest(run_key=f"{key}@{stamp}", partition_key=key) for key in keys]


nightly_reference = dg.ScheduleDefinition(
    name="nightly_reference",
    job_name="servicetitan_reference",
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
)
nightly_checks = dg.ScheduleDefinition(
    name="nightly_checks",
    job_name="servicetitan_checks",
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
)
