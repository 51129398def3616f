"""The names the definitions share: asset keys, groups and the concurrency pools.

Jobs are shared as objects (``ingest/jobs.py``, ``writeback/jobs.py``, ``dbt/jobs.py``):
schedules and sensors target the job itself, so renaming a job cannot leave one behind.
Pools are plain strings in Dagster; they are named here once, and their limits are set
per instance (``dagster instance concurrency set servicetitan_api 4``).
"""

from __future__ import annotations

import dagster as dg

from st_contract.entities import ENTITIES

GROUP = "servicetitan"
"""The group of the entity assets, and the first part of their keys (``servicetitan/jobs``),
which are also the keys of dbt's ``servicetitan`` source tables."""

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


ENTITY_KEYS = tuple(asset_key(spec.name) for spec in ENTITIES)
"""The asset key of every entity, in the catalog's order."""


def warehouse_group(schema: str) -> str:
    """The group of the dbt models of a schema."""
    return f"warehouse_{schema}"


WAREHOUSE_GROUPS = tuple(warehouse_group(schema) for schema in WAREHOUSE_SCHEMAS)
"""The groups of the dbt models, one per schema."""
