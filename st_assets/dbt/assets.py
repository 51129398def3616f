"""``dbt build`` as one multi-asset: every model, with its dbt tests as asset checks."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from st_assets.dbt.translator import ServiceTitanDbtTranslator
from st_contract.entities import ENTITIES
from st_resources.warehouse import WarehouseResource, warehouse_write_lock

WAREHOUSE_POOL = "warehouse_duckdb"


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
            "(jobs servicetitan_reference and servicetitan_changing) before the dbt models"
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
        with warehouse_write_lock(warehouse.root):
            yield from dbt.cli(["build"], context=context).stream()

    return warehouse_models
