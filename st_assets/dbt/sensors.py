"""Refresh the warehouse models after the raw data they read changed."""

from __future__ import annotations

import dagster as dg

from st_assets.ingest.after_ingest import after_ingest_sensor


def build_refresh_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.RunStatusSensorDefinition:
    """Launch ``job`` (``dbt build``) once per successful ingest run."""
    return after_ingest_sensor(
        job,
        "warehouse_models_after_ingest",
        "Rebuilds the dbt models after each successful ingest run.",
    )
