"""Run-status sensors that launch a job once after each successful ingest run."""

from __future__ import annotations

import dagster as dg

INGEST_JOBS = frozenset({"servicetitan_changing", "servicetitan_reference"})
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]


def after_ingest_sensor(
    job: dg.UnresolvedAssetJobDefinition, name: str, description: str
) -> dg.RunStatusSensorDefinition:
    """Launch ``job`` once per successful ingest run.

    A run of ``job`` already waiting to start will see the new partitions too, so a burst
    of ingest runs (the 15-minute schedule launches two) queues one run, not two.
    """

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=name,
        description=description,
        request_job=job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
    )
    def after_ingest(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        run = context.dagster_run
        if run.job_name not in INGEST_JOBS:
            return dg.SkipReason(f"{run.job_name} does not land raw data")
        waiting = context.instance.get_run_ids(
            dg.RunsFilter(job_name=job.name, statuses=WAITING), limit=1
        )
        if waiting:
            return dg.SkipReason(f"run {waiting[0]} will already cover it")
        return dg.RunRequest(run_key=f"after-{run.run_id}", tags={"st/after_run": run.run_id})

    return after_ingest
