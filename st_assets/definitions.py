"""The code location: a thin assembly of the ingest, write-back and dbt definitions and the
shared resources.

Definitions are built when Dagster loads the location (``@dg.definitions``), not at
import time; the partition start comes from ``ST_PARTITIONS_START`` then.
"""

from __future__ import annotations

import os

import dagster as dg

from st_assets.dbt.definitions import defs as dbt_defs
from st_assets.ingest.definitions import defs as ingest_defs
from st_assets.ingest.partitions import DEFAULT_START
from st_assets.resources import build_resources
from st_assets.writeback.definitions import defs as writeback_defs


@dg.definitions
def defs() -> dg.Definitions:
    """All definitions of the code location, with the shared resources bound."""
    start = os.environ.get("ST_PARTITIONS_START", DEFAULT_START)
    return dg.Definitions.merge(
        ingest_defs(start),
        writeback_defs(),
        dbt_defs(),
        dg.Definitions(resources=build_resources()),
    )
