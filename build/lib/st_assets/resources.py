"""Resource wiring: every setting comes from an environment variable through
``dg.EnvVar`` and is resolved when a run starts, never at import time."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from st_resources.resource import resource_from_env
from st_resources.warehouse import WarehouseResource
from st_resources.writeback.queue import WriteQueueResource


def build_resources() -> dict[str, Any]:
    """The resources of the code location.

    ``servicetitan`` is the backend ``ST_BACKEND`` selects (``resource_from_env``);
    optional settings are wired only when their variable exists when Dagster loads the
    location, so an unset optional variable keeps its documented default instead of
    failing the run.
    """
    return {
        "servicetitan": resource_from_env(),
        "warehouse": WarehouseResource(warehouse_dir=dg.EnvVar("ST_WAREHOUSE_DIR")),
        # Unset: the queue is a SQLite file under DAGSTER_HOME (resolved at run time).
        "writeback_queue": WriteQueueResource(db_url=dg.EnvVar("ST_WRITEBACK_DB_URL"))
        if "ST_WRITEBACK_DB_URL" in os.environ
        else WriteQueueResource(),
    }
