"""``warehouse_dbt_build``: every dbt model and test in one run (``make demo``, a manual
rebuild). Day to day the models follow the landing by themselves
(``warehouse_models_automation``)."""

import dagster as dg

from st_assets.defs.names import WAREHOUSE_GROUPS

warehouse_dbt_build = dg.define_asset_job(
    "warehouse_dbt_build",
    selection=dg.AssetSelection.groups(*WAREHOUSE_GROUPS),
    description="`dbt build` of every model, with the dbt tests as asset checks.",
)
