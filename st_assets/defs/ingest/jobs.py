"""The ingest jobs, targeted as objects by the schedules, the sensors and the demo.

The ingest jobs select the assets without their checks: inside a ranged run Dagster would
store each check as planned once per partition before the run could start (17 checks on
partitioned entities: about 19,000 rows for three years). The checks run on their own
after landing (``st_assets/defs/automation.py``) and nightly (``servicetitan_checks``).
"""

import dagster as dg

from st_assets.defs.names import ENTITY_KEYS, asset_key
from st_contract.entities import ENTITIES

CHANGING_KEYS = [asset_key(s.name) for s in ENTITIES if s.partitioned]
REFERENCE_KEYS = [asset_key(s.name) for s in ENTITIES if not s.partitioned]

changing_job = dg.define_asset_job(
    "servicetitan_changing",
    selection=dg.AssetSelection.assets(*CHANGING_KEYS).without_checks(),
    description="Monthly partitions of the entities that change (a range is one run; run config `days` refreshes some days only).",
)
reference_job = dg.define_asset_job(
    "servicetitan_reference",
    selection=dg.AssetSelection.assets(*REFERENCE_KEYS).without_checks(),
    description="The reference sets, landed whole.",
)
checks_job = dg.define_asset_job(
    "servicetitan_checks",
    selection=dg.AssetSelection.checks_for_assets(*ENTITY_KEYS),
    description="Every asset check of the landing.",
)
