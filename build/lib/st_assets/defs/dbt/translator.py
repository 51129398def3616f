"""How dbt nodes become Dagster assets: each source table of ``servicetitan`` is the
ServiceTitan asset that lands it, so the UI shows one graph from the API to the reports;
every model follows its sources by declarative automation (``AFTER_LANDING``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from st_assets.defs.automation import AFTER_LANDING
from st_assets.defs.names import GROUP, WAREHOUSE_SCHEMAS, asset_key, warehouse_group


class ServiceTitanDbtTranslator(DagsterDbtTranslator):
    """Sources map to ``servicetitan/<entity>``; models to ``<schema>/<model>`` (their
    table in ``warehouse.duckdb``), grouped by schema, rebuilt after what they read lands."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """``servicetitan/<entity>`` for a source table, ``<schema>/<model>`` for a model."""
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] != GROUP:
                raise ValueError(
                    f"dbt source {dbt_resource_props['source_name']!r} is not the "
                    f"{GROUP!r} source; add its tables to dbt_models/models/sources.yml"
                )
            return asset_key(dbt_resource_props["name"])
        schema = dbt_resource_props.get("schema")
        if schema in WAREHOUSE_SCHEMAS:
            return dg.AssetKey([schema, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """``warehouse_<schema>`` for a model."""
        schema = dbt_resource_props.get("schema")
        if dbt_resource_props["resource_type"] == "model" and schema in WAREHOUSE_SCHEMAS:
            return warehouse_group(schema)
        return super().get_group_name(dbt_resource_props)

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        """Every model is rebuilt after its sources or upstream models change (see
        ``st_assets/defs/automation.py`` for why ``AFTER_LANDING``)."""
        return AFTER_LANDING
