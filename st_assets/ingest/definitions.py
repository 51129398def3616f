"""The ingest definitions: assets, checks, jobs, schedules and the change-feed sensor."""

from __future__ import annotations

import dagster as dg

from st_assets.ingest.after_ingest import after_ingest_sensor
from st_assets.ingest.assets import build_assets
from st_assets.ingest.checks import build_checks
from st_assets.ingest.partitions import DEFAULT_START, daily_partitions
from st_assets.ingest.schedules import (
    changing_job,
    checks_job,
    nightly_checks,
    nightly_reference,
    recent_partitions,
    reference_job,
)
from st_assets.ingest.sensors import change_feed


def defs(start_date: str = DEFAULT_START) -> dg.Definitions:
    """Ingest definitions with daily partitions from ``start_date``."""
    partitions_def = daily_partitions(start_date)
    return dg.Definitions(
        assets=build_assets(partitions_def),
        asset_checks=build_checks(),
        jobs=[changing_job, reference_job, checks_job],
        schedules=[recent_partitions, nightly_reference, nightly_checks],
        sensors=[
            change_feed,
            after_ingest_sensor(
                checks_job,
                "checks_after_ingest",
                "Runs the asset checks on the landing after each successful ingest run.",
            ),
        ],
    )
