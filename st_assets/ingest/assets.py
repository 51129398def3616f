"""The ServiceTitan entities as assets, one per entity, computed by two multi-assets:
the entities that change land in daily partitions of ``modifiedOn``; the reference sets
land whole. Each multi-asset reads its selected entities at once (they share the client's
rate limit) and records each entity's materialization as soon as that entity is landed.
A range of partitions (a backfill) is one run: ranged, windowed reads written per day."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from st_assets.ingest.landing import Landed, land_concurrently, land_days, land_whole
from st_assets.ingest.partitions import day_range
from st_resources.entities import ENTITIES, ENTITIES_BY_NAME, EntitySpec
from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource

GROUP = "servicetitan"
PREVIEW_COLUMNS = 6
CHANGING = tuple(s for s in ENTITIES if s.partitioned)
REFERENCE = tuple(s for s in ENTITIES if not s.partitioned)


def asset_key(entity: str) -> dg.AssetKey:
    """The asset key of an entity (also the key of dbt's source table)."""
    return dg.AssetKey([GROUP, entity])


def _spec(entity: EntitySpec, how: str) -> dg.AssetSpec:
    doc = entity.model.__doc__.splitlines()[0] if entity.model.__doc__ else entity.name
    return dg.AssetSpec(
        asset_key(entity.name),
        group_name=GROUP,
        kinds={"servicetitan", "parquet"},
        description=f"{doc} Landed from `GET {entity.path}`. {how}",
        metadata={"entity": entity.name, "api_path": entity.path},
    )


def _preview(rows: list[dict[str, Any]]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("_no rows_")
    cols = list(rows[0])[:PREVIEW_COLUMNS]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(row[c])[:40] for c in cols) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def _result(spec: EntitySpec, landed: Landed, warehouse: WarehouseResource) -> dg.MaterializeResult:
    m = landed.metrics
    return dg.MaterializeResult(
        asset_key=asset_key(spec.name),
        metadata={
            "records": landed.records,
            "partitions_written": landed.partitions,
            "pages": int(m.get("pages", 0)),
            "api_calls": int(m.get("calls", 0)),
            "retries": int(m.get("retries", 0)),
            "throttled_429": int(m.get("throttled", 0)),
            "bytes": int(m.get("bytes", 0)),
            "api_seconds": round(m.get("seconds", 0.0), 3),
            "preview": _preview(landed.preview),
            "landing": dg.MetadataValue.path(str(warehouse.landing(spec.name))),
        },
    )


def _land(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    land: Callable[[EntitySpec], Landed],
) -> Iterator[dg.MaterializeResult]:
    """Land the selected entities at once; a failed entity does not stop the others,
    and the step fails at the end naming every entity that failed."""
    specs = [ENTITIES_BY_NAME[key.path[-1]] for key in sorted(context.selected_asset_keys)]
    failed: dict[str, BaseException] = {}
    for spec, outcome in land_concurrently(specs, land):
        if isinstance(outcome, BaseException):
            context.log.error("%s failed: %s", spec.name, outcome)
            failed[spec.name] = outcome
            continue
        warehouse.ensure_views((spec,))
        context.log.info(
            "%s: %d records into %d partitions", spec.name, outcome.records, outcome.partitions
        )
        yield _result(spec, outcome, warehouse)
    if failed:
        first = next(iter(failed.values()))
        raise dg.Failure(
            description=f"{len(failed)} of {len(specs)} entities failed to land: "
            + "; ".join(f"{name}: {error}" for name, error in failed.items())
            + ". The others were landed and recorded; re-run the failed ones.",
        ) from first


def build_changing_assets(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The entities that grow with the business, in daily partitions of ``modifiedOn``."""

    @dg.multi_asset(
        name="servicetitan_changing_entities",
        specs=[_spec(s, "Daily partitions by modifiedOn (UTC).") for s in CHANGING],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        pool="servicetitan_api",
    )
    def changing(
        context: dg.AssetExecutionContext,
        servicetitan: ServiceTitanResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        key_range = context.partition_key_range
        days = day_range(key_range.start, key_range.end)
        client = servicetitan.get_client()
        loaded_at = datetime.now(UTC)
        yield from _land(
            context,
            warehouse,
            lambda spec: land_days(client, warehouse, spec, days, loaded_at),
        )

    return changing


def build_reference_assets() -> dg.AssetsDefinition:
    """The small reference sets (technicians, business units, pricebook...), landed whole."""

    @dg.multi_asset(
        name="servicetitan_reference_entities",
        specs=[_spec(s, "Reference set, landed whole.") for s in REFERENCE],
        can_subset=True,
        pool="servicetitan_api",
    )
    def reference(
        context: dg.AssetExecutionContext,
        servicetitan: ServiceTitanResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        client = servicetitan.get_client()
        loaded_at = datetime.now(UTC)
        yield from _land(
            context, warehouse, lambda spec: land_whole(client, warehouse, spec, loaded_at)
        )

    return reference


def build_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """Every entity's asset."""
    return [build_changing_assets(partitions_def), build_reference_assets()]
