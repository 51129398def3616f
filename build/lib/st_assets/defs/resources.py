"""The resources of the code location (``servicetitan``, ``warehouse``,
``writeback_queue``), wired from ``ST_*`` variables when the location loads
(``st_assets/resources.py``); ``dbt`` comes with the dbt models (``dbt/assets.py``)."""

import dagster as dg

from st_assets.resources import build_resources


@dg.definitions
def resources() -> dg.Definitions:
    """The shared resources, configured from the environment."""
    return dg.Definitions(resources=build_resources())
