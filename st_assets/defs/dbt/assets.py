"""``dbt build`` as one multi-asset: every model, with its dbt tests as asset checks.

Built when the code location loads (``dbt_models``), from the manifest that
``make dbt-manifest`` prepares; never at import.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from st_assets.defs.dbt.project import (
    build_target_path,
    dbt_executable,
    dbt_project,
    prepare_if_dev,
)
from st_assets.defs.dbt.translator import ServiceTitanDbtTranslator
from st_assets.defs.ingest.jobs import changing_job, reference_job
from st_assets.defs.names import WAREHOUSE_POOL
from st_contract.entities import ENTITIES
from st_resources.warehouse import WarehouseResource
from st_resources.warehouse_views import warehouse_write_lock


def check_same_warehouse(warehouse: WarehouseResource) -> None:
    """Fail clearly unless dbt (which reads ``ST_WAREHOUSE_DIR`` in ``profiles.yml``, from
    the ``dbt_models`` folder) will open the warehouse this run holds the lock of."""
    configured = os.environ.get("ST_WAREHOUSE_DIR")
    if configured is None or not Path(configured).is_absolute():
        raise dg.Failure(
            "ST_WAREHOUSE_DIR must be set to an absolute path when Dagster runs dbt "
            f"(got {configured!r}); dbt runs from dbt_models/ and would open another file"
        )
    if Path(configured).resolve() != warehouse.root:
        raise dg.Failure(
            f"ST_WAREHOUSE_DIR ({configured}) differs from the warehouse resource's folder "
            f"({warehouse.root}); point both at the same warehouse"
        )


def require_landed(warehouse: WarehouseResource) -> None:
    """Fail clearly when an entity has never landed: its ``raw`` view, a dbt source, is missing."""
    missing = [s.name for s in ENTITIES if not any(warehouse.landing(s.name).rglob("*.parquet"))]
    if missing:
        raise dg.Failure(
            f"no landed data for {', '.join(missing)}: materialize the servicetitan assets "
            f"(jobs {reference_job.name} and {changing_job.name}) before the dbt models"
        )


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    """The dbt models of ``project`` (its manifest must exist: see ``project.py``)."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=ServiceTitanDbtTranslator(),
        name="warehouse_models",
        pool=WAREHOUSE_POOL,
    )
    def warehouse_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        """Staging, marts and reports in ``warehouse.duckdb``, built and tested by dbt.

        The warehouse lock is held for the whole build: DuckDB allows one writing process
        per file, and ingest runs refresh the raw views in the same file.
        """
        check_same_warehouse(warehouse)
        require_landed(warehouse)
        # Every stream has its raw relation, an empty one until it lands (or when
        # ST_STREAMS leaves it out), so the generated staging models always build.
        warehouse.ensure_views()
        with warehouse_write_lock(warehouse.root):
            # Its own target folder: dbt never rewrites the manifest the location loads.
            target = build_target_path(project, context.run.run_id)
            yield from dbt.cli(["build"], context=context, target_path=target).stream()

    return warehouse_models


@dg.definitions
def dbt_models() -> dg.Definitions:
    """The dbt models of ``dbt_models/`` and the ``dbt`` resource; needs the manifest
    (``make dbt-manifest``), re-parsed first under ``dg dev``."""
    project = dbt_project()
    prepare_if_dev()
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {project.manifest_path}: run `make dbt-manifest` "
            "(python -m st_assets.defs.dbt.project) before loading the code location"
        )
    return dg.Definitions(
        assets=[build_dbt_assets(project)],
        resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_executable())},
    )
