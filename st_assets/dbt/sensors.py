"""Refresh the warehouse models after the raw data they read changed."""

from __future__ import annotations

import dagster as dg

INGEST_JOBS = frozenset({"servicetitan_changing", "servicetitan_reference"})
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]


def build_refresh_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.RunStatusSensorDefinition:
    """Launch ``job`` (``dbt build``) once per successful ingest run.

    A refresh that is already waiting to start covers the new partitions too, so a
    burst of ingest runs (the 15-minute schedule launches two) queues one build.
    """

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="warehouse_models_after_ingest",
        request_job=job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
    )
    def warehouse_models_after_ingest(
        context: dg.RunStatusSensorContext,
    ) -> dg.RunRequest | dg.SkipReason:
        run = context.dagster_run
        if run.job_name not in INGEST_JOBS:
            return dg.SkipReason(f"{run.job_name} does not land raw data")
        waiting = context.instance.get_run_ids(
            dg.RunsFilter(job_name=job.name, statuses=WAITING), limit=1
        )
        if waiting:
            return dg.SkipReason(f"run {waiting[0]} will already rebuild the models")
        return dg.RunRequest(run_key=f"after-{run.run_id}", tags={"st/after_run": run.run_id})

    return warehouse_models_after_ingest
