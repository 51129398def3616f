"""The schema-drift check of every stream: what the tenant's API sends against the fields
the stream's spec defines (``st_contract.catalog``), warned about, never failed on.

It reads a sample of the API's records (one small page, as sent) and the landing's
``_extra`` column, where every field the spec does not know is kept, and lists in its
metadata the fields that are new (with an example value and how many landed records carry
them), missing (defined by the spec, sent by no record of the sample) or retyped (sent as
another JSON type than the spec's). Fields of the session API's own contract (the core
entities' hand-written models) are known too, and typed by that contract.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from st_assets.defs.automation import AFTER_LANDING
from st_assets.defs.names import asset_key
from st_contract.catalog import fields
from st_contract.entities import EntitySpec
from st_resources.drift import Drift, compare
from st_resources.errors import ServiceTitanError
from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource

SAMPLE_RECORDS = 200


def landed_extra_fields(warehouse: WarehouseResource, entity: str) -> dict[str, int]:
    """Each field kept in ``_extra`` by the landing of ``entity``, with its records."""
    with warehouse.landing_connection(entity) as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if entity not in tables:
            return {}
        columns = {r[0] for r in con.execute(f"DESCRIBE {entity}").fetchall()}
        if "_extra" not in columns:
            return {}  # landed before the column existed
        rows = con.execute(
            f"SELECT key, count(*) FROM (SELECT unnest(json_keys(_extra)) AS key FROM {entity} "
            "WHERE _extra IS NOT NULL) GROUP BY key ORDER BY key"
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


def sample_drift(servicetitan: ServiceTitanResource, spec: EntitySpec) -> Drift:
    """The drift of a sample of ``spec``'s records as the configured backend sends them."""
    backend = servicetitan.get_backend()
    records = backend.sample(spec, SAMPLE_RECORDS)
    contract = spec.core
    own = [info.alias or name for name, info in contract.model_fields.items()] if contract else []
    landed = [info.alias or name for name, info in spec.model.model_fields.items()]
    # The v2 backend sends the official shapes; the session API types its core fields.
    typed = own if backend.name != "v2" else []
    return compare(records, fields(spec.name), also_known=landed, typed_elsewhere=typed)


def schema_drift_check(spec: EntitySpec) -> dg.AssetChecksDefinition:
    """The drift check of one stream (severity WARN: the data still lands, whole)."""

    @dg.asset_check(
        asset=asset_key(spec.name),
        name="schema_drift",
        automation_condition=AFTER_LANDING,
        description="Fields the API sends that the spec does not define, or in another "
        "type, and fields the spec defines that it no longer sends (warns; kept in _extra).",
    )
    def drift(
        servicetitan: ServiceTitanResource, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        extras = landed_extra_fields(warehouse, spec.name)
        metadata: dict[str, Any] = {"landed_extra_fields": dg.MetadataValue.json(extras)}
        try:
            found = sample_drift(servicetitan, spec)
        except ServiceTitanError as exc:
            found = Drift()
            metadata["sample_error"] = str(exc)[:300]
        new = {name: repr(value)[:80] for name, value in found.new.items()}
        metadata |= {
            "new_fields": dg.MetadataValue.json(new),
            "missing_fields": dg.MetadataValue.json(found.missing),
            "retyped_fields": dg.MetadataValue.json(found.retyped),
        }
        return dg.AssetCheckResult(
            passed=not found.found and not extras and "sample_error" not in metadata,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=metadata,
        )

    return drift
