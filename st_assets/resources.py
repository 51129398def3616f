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
    api = (
        _v2_resource(optional)
        if os.environ.get("ST_AUTH") == "client_credentials"
        else ServiceTitanResource(
            base_url=dg.EnvVar("ST_BASE_URL"),
            username=dg.EnvVar("ST_USERNAME"),
            password=dg.EnvVar("ST_PASSWORD"),
            **optional,
        )
    )
    return {
        "servicetitan": api,
        "warehouse": WarehouseResource(warehouse_dir=dg.EnvVar("ST_WAREHOUSE_DIR")),
        # Unset: the queue is a SQLite file under DAGSTER_HOME (resolved at run time).
        "writeback_queue": WriteQueueResource(db_url=dg.EnvVar("ST_WRITEBACK_DB_URL"))
        if "ST_WRITEBACK_DB_URL" in os.environ
        else WriteQueueResource(),
    }


V2_OPTIONAL = {"ST_ENVIRONMENT": "environment", "ST_AUTH_URL": "auth_url", "ST_API_URL": "api_url"}


def _v2_resource(optional: dict[str, Any]) -> ServiceTitanResource:
    """The resource over the official v2 API (``ST_AUTH=client_credentials``)."""
    v2_optional: dict[str, Any] = {
        f: dg.EnvVar(var) for var, f in V2_OPTIONAL.items() if var in os.environ
    }
    transport = {k: v for k, v in optional.items() if k in ("rate_limit",)}
    return ServiceTitanResource(
        auth="client_credentials",
        client_id=dg.EnvVar("ST_CLIENT_ID"),
        client_secret=dg.EnvVar("ST_CLIENT_SECRET"),
        app_key=dg.EnvVar("ST_APP_KEY"),
        tenant_id=dg.EnvVar("ST_TENANT_ID"),
        **v2_optional,
        **transport,
    )
