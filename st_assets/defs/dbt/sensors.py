"""``warehouse_models_automation``: the dbt models follow their sources by declarative
automation (``AFTER_LANDING``, ``st_assets/defs/automation.py``); this sensor, on by
default, evaluates it and launches the builds."""

import dagster as dg

from st_assets.defs.names import WAREHOUSE_GROUPS

warehouse_models_automation = dg.AutomationConditionSensorDefinition(
    "warehouse_models_automation",
    target=dg.AssetSelection.groups(*WAREHOUSE_GROUPS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Rebuilds the dbt models whose raw data or upstream models changed.",
)
