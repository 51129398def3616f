"""The ingest jobs, targeted as objects by the schedules, the sensors and the demo.

The ingest jobs select the assets without their checks: inside a ranged run Dagster would
store each check as planned once per partition before the run could start (17 checks on
partitioned entities: about 19,000 rows for three years). The checks run on their own
after landing (``st_assets/defs/automation.py``) and nightly (``servicetitan_checks``).
"""

import dagster as dg

from st_assets.defs.names import PARTITIONED, STREAM_ASSETS, WHOLE

changing_job = dg.define_asset_job(
    "servicetitan_changing",
    selection=PARTITIONED.without_checks(),
    description="Monthly partitions of the streams that change (a range is one run; run config `days` refreshes some days only).",
)
reference_job = dg.define_asset_job(
    "servicetitan_reference",
    selection=WHOLE.without_checks(),
    description="The reference sets and the streams without a modification cursor, landed whole.",
)
checks_job = dg.define_asset_job(
    "servicetitan_checks",
    selection=STREAM_ASSETS - STREAM_ASSETS.without_checks(),
    description="Every asset check of the landing.",
)
