"""``notify/webhook_deliveries``: the webhooks' delivery log and outbox, landed whole at
``landing/webhook_deliveries/`` and ``landing/webhook_outbox/`` and viewed as
``raw.webhook_deliveries`` and ``raw.webhook_outbox`` (never the subscribers' secrets,
and their URLs without query or credentials)."""

from typing import Any

import dagster as dg
import pyarrow as pa

from st_resources.notify.records import display_url
from st_resources.notify.store import NotifyStore
from st_resources.warehouse import WarehouseResource
from st_resources.writeback.queue import WriteQueueResource

# Not under ``servicetitan/``: those keys are the streams' (and dbt's source tables').
DELIVERIES_KEY = dg.AssetKey(["notify", "webhook_deliveries"])
DELIVERIES_VIEW, OUTBOX_VIEW = "webhook_deliveries", "webhook_outbox"
_TS = pa.timestamp("us", tz="UTC")

ATTEMPTS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("delivery_id", pa.int64()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("occurred_at", _TS),
        ("subscriber_id", pa.string()),
        ("subscriber_url", pa.string()),
        ("attempt", pa.int64()),
        ("at", _TS),
        ("outcome", pa.string()),
        ("status_code", pa.int64()),
        ("error", pa.string()),
        ("duration_ms", pa.float64()),
    ]
)

OUTBOX_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("occurred_at", _TS),
        ("subscriber_id", pa.string()),
        ("status", pa.string()),
        ("attempts", pa.int64()),
        ("window_start", _TS),
        ("next_attempt_at", _TS),
        ("last_status_code", pa.int64()),
        ("last_error", pa.string()),
        ("created_at", _TS),
        ("delivered_at", _TS),
    ]
)


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{f: r.get(f) for f in schema.names} for r in rows], schema)


@dg.asset(
    key=DELIVERIES_KEY,
    group_name="servicetitan_notify",
    kinds={"parquet", "duckdb"},
    description="The webhooks' delivery log (one row per attempt: raw.webhook_deliveries) "
    "and outbox (one row per event x subscriber: raw.webhook_outbox), landed whole.",
)
def notify_deliveries(
    warehouse: WarehouseResource, writeback_queue: WriteQueueResource
) -> dg.MaterializeResult:
    """Export the delivery log and the outbox from the write-back database."""
    attempts, outbox = NotifyStore(writeback_queue.db_url or None).export_rows()
    for row in attempts:
        row["subscriber_url"] = display_url(row["subscriber_url"])
    warehouse.write_whole(DELIVERIES_VIEW, _table(attempts, ATTEMPTS_SCHEMA))
    warehouse.write_whole(OUTBOX_VIEW, _table(outbox, OUTBOX_SCHEMA))
    views = warehouse.ensure_landed_views(DELIVERIES_VIEW, OUTBOX_VIEW)
    by_status: dict[str, int] = {}
    for row in outbox:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    return dg.MaterializeResult(
        metadata={
            "attempts": len(attempts),
            "deliveries": len(outbox),
            "by_status": dg.MetadataValue.json(by_status),
            "views": ", ".join(f"raw.{v}" for v in views),
        }
    )


notify_deliveries_job = dg.define_asset_job(
    "notify_deliveries_export",
    selection=dg.AssetSelection.assets(DELIVERIES_KEY),
    description="Export the webhooks' delivery log to the warehouse.",
)
