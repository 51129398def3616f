"""The names the definitions share: asset keys, groups and the concurrency pools.

Jobs are shared as objects (``ingest/jobs.py``, ``writeback/jobs.py``, ``dbt/jobs.py``):
schedules and sensors target the job itself, so renaming a job cannot leave one behind.
Pools are plain strings in Dagster; they are named here once, and their limits are set
per instance (``dagster instance concurrency set servicetitan_api 4``).
"""

from __future__ import annotations

import dagster as dg

from st_contract.entities import STREAM_SPECS

GROUP = "servicetitan"
"""The first part of the stream assets' keys (``servicetitan/jobs``), which are also the
keys of dbt's ``servicetitan`` source tables."""

LANDING_TAG = "servicetitan/landing"
"""The tag of every stream asset: ``partitioned`` or ``whole`` (the jobs select by it, so
they hold whatever streams ``ST_STREAMS`` selects)."""


def module_group(module: str) -> str:
    """The asset group of an official API module's streams (``servicetitan_payroll``)."""
    return f"{GROUP}_{module}"


WAREHOUSE_SCHEMAS = ("staging", "marts", "reports")
"""The schemas dbt builds in ``warehouse.duckdb``; a model's asset key is ``<schema>/<model>``."""

API_POOL = "servicetitan_api"
"""Every step that calls the tenant (ingest assets, write ops): they share its rate limit."""

WRITE_POOL = "servicetitan_writes"
"""The write ops (``st_assets/writes``): a pool of their own, so that a backfill holding
every slot of ``servicetitan_api`` cannot keep a write waiting. Writes are few and short;
the transport's adaptive limiter and its 429 retries absorb the extra requests."""

WAREHOUSE_POOL = "warehouse_duckdb"
"""The dbt build, which writes ``warehouse.duckdb``: one process may write the file at a
time (``warehouse_write_lock``), so a limit of 1 on this pool queues builds in Dagster
instead of in the lock."""


def asset_key(entity: str) -> dg.AssetKey:
    """The asset key of an entity (also the key of dbt's source table)."""
    return dg.AssetKey([GROUP, entity])


ENTITY_KEYS = tuple(asset_key(spec.name) for spec in STREAM_SPECS)
"""The asset key of every stream of the catalog, in its order."""

PARTITIONED = dg.AssetSelection.tag(LANDING_TAG, "partitioned")
WHOLE = dg.AssetSelection.tag(LANDING_TAG, "whole")
STREAM_ASSETS = PARTITIONED | WHOLE
"""The stream assets the location defines (``ST_STREAMS``), with their checks."""


def warehouse_group(schema: str) -> str:
    """The group of the dbt models of a schema."""
    return f"warehouse_{schema}"


WAREHOUSE_GROUPS = tuple(warehouse_group(schema) for schema in WAREHOUSE_SCHEMAS)
"""The groups of the dbt models, one per schema."""
