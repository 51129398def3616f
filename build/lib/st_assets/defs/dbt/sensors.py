"""``warehouse_models_automation``: the dbt models follow their sources by declarative
automation (``AFTER_LANDING``, ``st_assets/defs/automation.py``); this sensor, on by
default, evaluates it and launches the builds."""

import dagster as dg

from st_assets.defs.automation import after_landing_sensor
from st_assets.defs.names import WAREHOUSE_GROUPS

warehouse_models_automation = after_landing_sensor(
    "warehouse_models_automation",
    dg.AssetSelection.groups(*WAREHOUSE_GROUPS),
    "Rebuilds the dbt models whose raw data or upstream models changed.",
)
