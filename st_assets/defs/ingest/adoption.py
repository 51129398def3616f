"""``landed_months``: months already on disk, recorded in Dagster without reading the API.

Releases before monthly partitions recorded daily ones; their landing files are the same
(a file per month, its landed days in the footer), so the warehouse reads them as they
are, but Dagster would show their months as never materialized. This sensor records each
month whose file holds every one of its days (from the first landed day, in the first
partition) and that Dagster has no materialization of, once: the next tick finds it
materialized. It also adopts a landing folder copied from another deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from st_assets.defs.ingest.partitions import KEY_FORMATS, today
from st_assets.defs.ingest.refresh import changing_partitions
from st_assets.defs.names import asset_key
from st_contract.entities import STREAM_SPECS
from st_resources.warehouse import WarehouseResource, landed_days


def whole(month: date, days: set[date], first: bool) -> bool:
    """Whether ``days`` are every day of ``month`` up to today (from the earliest of them
    when the month is the first partition: days before ``ST_PARTITIONS_START`` never land)."""
    if not days:
        return False
    start = min(days) if first else month
    last = min((month + timedelta(days=32)).replace(day=1) - timedelta(days=1), today())
    span = (last - start).days + 1
    return span > 0 and all(start + timedelta(days=i) in days for i in range(span))


def _adoptable(
    instance: dg.DagsterInstance, folder: Path, entity: str, keys: list[str]
) -> Iterator[dg.AssetMaterialization]:
    key = asset_key(entity)
    known = set(keys)
    materialized = instance.get_materialized_partitions(key)
    for path in sorted(folder.glob("*.parquet")):
        month = path.stem
        if month not in known or month in materialized:
            continue
        footer = pq.read_metadata(path)  # one read: the landed days and the rows
        days = set(landed_days(footer.metadata))
        if not whole(date.fromisoformat(f"{month}-01"), days, first=month == keys[0]):
            continue
        yield dg.AssetMaterialization(
            asset_key=key,
            partition=month,
            description="Landed before monthly partitions; recorded from its file as it is.",
            metadata={
                "records": footer.num_rows,
                "days_written": len(days),
                "landing": dg.MetadataValue.path(str(path)),
            },
        )


@dg.sensor(
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records in Dagster the months already landed whole (files of an earlier "
    "release or another deployment), without reading the API.",
)
def landed_months(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    """A materialization for each month landed whole that Dagster has not recorded."""
    partitions_def = changing_partitions(context.repository_def)
    if getattr(partitions_def, "fmt", None) != KEY_FORMATS["month"]:
        return dg.SensorResult(skip_reason="the partitions are not months")
    keys = list(partitions_def.get_partition_keys())
    events = [
        event
        for spec in STREAM_SPECS
        if spec.partitioned
        for event in _adoptable(context.instance, warehouse.landing(spec.name), spec.name, keys)
    ]
    if not events:
        return dg.SensorResult(skip_reason="no landed month left to record")
    return dg.SensorResult(asset_events=events)
