"""One asset per ServiceTitan entity: partitioned ones land each day of ``modifiedOn``,
reference sets land whole. A range of partitions (a backfill) is fetched with ranged,
paginated queries in concurrent windows and split per day on write."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from st_assets.ingest.partitions import day_bounds, day_range
from st_resources.arrow import arrow_schema, records_to_table
from st_resources.entities import ENTITIES, EntitySpec
from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource, split_by_day

GROUP = "servicetitan"
PREVIEW_COLUMNS = 6


def asset_key(entity: str) -> dg.AssetKey:
    """The asset key of an entity (also the key of dbt's source table)."""
    return dg.AssetKey([GROUP, entity])


def _preview(table: pa.Table) -> dg.MetadataValue:
    head = table.slice(0, 5).select(table.column_names[:PREVIEW_COLUMNS]).to_pylist()
    if not head:
        return dg.MetadataValue.md("_no rows_")
    cols = list(head[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(row[c])[:40] for c in cols) + " |" for row in head]
    return dg.MetadataValue.md("\n".join(lines))


def _fetch(
    client_resource: ServiceTitanResource,
    spec: EntitySpec,
    start: datetime | None,
    end: datetime | None,
    windows: int,
) -> tuple[pa.Table, dict[str, float]]:
    client = client_resource.get_client()
    before = client.metrics.snapshot()
    loaded_at = datetime.now(UTC)
    # Pages are converted as they arrive, so only Arrow data accumulates, never JSON.
    tables = list(
        client.iter_window_tables(spec.path, start, end, spec.model, loaded_at, windows=windows)
        if start is not None and end is not None
        else client.iter_tables(spec.path, spec.model, loaded_at)
    )
    table = pa.concat_tables(tables) if tables else records_to_table(spec.model, [], loaded_at)
    return table, client.metrics.since(before)


def _metadata(table: pa.Table, metrics: dict[str, float], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "records": table.num_rows,
        "pages": int(metrics["pages"]),
        "api_calls": int(metrics["calls"]),
        "retries": int(metrics["retries"]),
        "throttled_429": int(metrics["throttled"]),
        "bytes": int(metrics["bytes"]),
        "api_seconds": round(metrics["seconds"], 3),
        "preview": _preview(table),
        **extra,
    }


def build_entity_asset(
    spec: EntitySpec, partitions_def: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """The asset that lands one entity."""
    description = f"{spec.model.__doc__.splitlines()[0] if spec.model.__doc__ else spec.name} Landed from `GET {spec.path}`."
    if spec.partitioned:

        @dg.asset(
            key=asset_key(spec.name),
            group_name=GROUP,
            partitions_def=partitions_def,
            backfill_policy=dg.BackfillPolicy.single_run(),
            pool="servicetitan_api",
            kinds={"servicetitan", "parquet"},
            description=description + " Daily partitions by modifiedOn (UTC).",
            metadata={"entity": spec.name, "api_path": spec.path},
        )
        def partitioned_asset(
            context: dg.AssetExecutionContext,
            servicetitan: ServiceTitanResource,
            warehouse: WarehouseResource,
        ) -> dg.MaterializeResult:
            key_range = context.partition_key_range
            days = day_range(key_range.start, key_range.end)
            start, end = day_bounds(days)
            windows = min(8, max(1, len(days) // 7 + 1))
            table, metrics = _fetch(servicetitan, spec, start, end, windows)
            written = warehouse.write_partitions(spec.name, split_by_day(table, days))
            warehouse.ensure_views((spec,))
            context.log.info(
                "%s: %d records into %d daily partitions", spec.name, table.num_rows, written
            )
            return dg.MaterializeResult(
                metadata=_metadata(
                    table,
                    metrics,
                    {
                        "partitions_written": written,
                        "landing": dg.MetadataValue.path(str(warehouse.landing(spec.name))),
                    },
                )
            )

        return partitioned_asset

    @dg.asset(
        key=asset_key(spec.name),
        group_name=GROUP,
        pool="servicetitan_api",
        kinds={"servicetitan", "parquet"},
        description=description + " Reference set, landed whole.",
        metadata={"entity": spec.name, "api_path": spec.path},
    )
    def reference_asset(
        servicetitan: ServiceTitanResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        table, metrics = _fetch(servicetitan, spec, None, None, 1)
        path = warehouse.write_whole(spec.name, table)
        warehouse.ensure_views((spec,))
        return dg.MaterializeResult(
            metadata=_metadata(table, metrics, {"landing": dg.MetadataValue.path(str(path))})
        )

    return reference_asset


def build_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """Every entity's asset."""
    return [build_entity_asset(spec, partitions_def) for spec in ENTITIES]


def empty_schema(spec: EntitySpec) -> pa.Schema:
    """The landing schema of an entity (for tests and consumers)."""
    return arrow_schema(spec.model)
