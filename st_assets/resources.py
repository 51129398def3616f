"""Resource wiring: every setting comes from an environment variable through
``dg.EnvVar`` and is resolved when a run starts, never at import time."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource
from st_resources.writeback.queue import WriteQueueResource

OPTIONAL = {
    "ST_MFA_METHOD": "mfa_method",
    "ST_TOTP_SECRET": "totp_secret",
    "ST_MFA_CODE_COMMAND": "mfa_code_command",
}


def build_resources() -> dict[str, Any]:
    """The resources of the code location.

    Optional settings are wired only when their variable exists when Dagster loads the
    location, so an unset optional variable keeps its documented default instead of
    failing the run.
    """
    optional: dict[str, Any] = {
        field: dg.EnvVar(var) for var, field in OPTIONAL.items() if var in os.environ
    }
    if "ST_RATE_LIMIT" in os.environ:
        optional["rate_limit"] = float(os.environ["ST_RATE_LIMIT"])
    if os.environ.get("ST_SANDBOX_OUTBOX") == "1":
        optional["use_sandbox_outbox"] = True
    return {
        "servicetitan": ServiceTitanResource(
            base_url=dg.EnvVar("ST_BASE_URL"),
            username=dg.EnvVar("ST_USERNAME"),
            password=dg.EnvVar("ST_PASSWORD"),
            **optional,
        ),
        "warehouse": WarehouseResource(warehouse_dir=dg.EnvVar("ST_WAREHOUSE_DIR")),
        # Unset: the queue is a SQLite file under DAGSTER_HOME (resolved at run time).
        "writeback_queue": WriteQueueResource(db_url=dg.EnvVar("ST_WRITEBACK_DB_URL"))
        if "ST_WRITEBACK_DB_URL" in os.environ
        else WriteQueueResource(),
    }
