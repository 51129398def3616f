"""The ingest definitions: assets, checks, jobs, schedules and the change-feed sensor."""

from __future__ import annotations

import dagster as dg

from st_assets.ingest.assets import build_assets
from st_assets.ingest.checks import build_checks
from st_assets.ingest.partitions import DEFAULT_START, daily_partitions
from st_assets.ingest.schedules import (
    build_jobs,
    nightly_checks,
    nightly_reference,
    recent_partitions,
)
from st_assets.ingest.sensors import change_feed


def defs(start_date: str = DEFAULT_START) -> dg.Definitions:
    """Ingest definitions with daily partitions from ``start_date``."""
    partitions_def = daily_partitions(start_date)
    return dg.Definitions(
        assets=build_assets(partitions_def),
        asset_checks=build_checks(),
        jobs=build_jobs(partitions_def),
        schedules=[recent_partitions, nightly_reference, nightly_checks],
        sensors=[change_feed],
    )
