"""The code location: a thin assembly of the ingest, write-back and dbt definitions.

Each sub-package builds its own definitions lazily in ``defs()``; the shared resources
come from ``st_assets.resources``. Nothing here reads the environment or parses a dbt
manifest at import time beyond what those functions do when Dagster loads the location.
"""

from __future__ import annotations

import dagster as dg

from st_assets.dbt.definitions import defs as dbt_defs
from st_assets.ingest.definitions import defs as ingest_defs
from st_assets.resources import build_resources
from st_assets.writeback.definitions import defs as writeback_defs


@dg.definitions
def defs() -> dg.Definitions:
    """All definitions of the code location, with the shared resources bound."""
    return dg.Definitions.merge(
        ingest_defs(),
        writeback_defs(),
        dbt_defs(),
        dg.Definitions(resources=build_resources()),
    )
