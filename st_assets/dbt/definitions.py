"""The dbt definitions: the models as assets, the build job, the refresh sensor and the
``dbt`` resource. Built when the code location loads, never at import."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from st_assets.dbt.assets import build_dbt_assets
from st_assets.dbt.project import dbt_executable, dbt_project, prepare_if_dev
from st_assets.dbt.sensors import build_refresh_sensor

BUILD_JOB = "warehouse_dbt_build"


def defs() -> dg.Definitions:
    """The dbt models of ``dbt_models/``; needs the manifest (``make dbt-manifest``)."""
    project = dbt_project()
    prepare_if_dev()
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {project.manifest_path}: run `make dbt-manifest` "
            "(python -m st_assets.dbt.project) before loading the code location"
        )
    models = build_dbt_assets(project)
    job = dg.define_asset_job(BUILD_JOB, selection=dg.AssetSelection.assets(models))
    return dg.Definitions(
        assets=[models],
        jobs=[job],
        sensors=[build_refresh_sensor(job)],
        resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_executable())},
    )
