"""The attachment assets in a real Dagster instance against the sandbox: blobs landed
content-addressed, the manifest queryable as ``raw.attachments_manifest`` in DuckDB,
already-present blobs skipped, and the jobs read from the landed ``jobs`` stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from st_assets.defs.attachments.assets import attachment_blobs, attachments_manifest
from st_resources.warehouse import WarehouseResource
from st_sandbox.server import SandboxServer
from tests.attachments.conftest import job_ids
from tests.helpers import v2_resource
from tests.writeback.conftest import api_resource

ASSETS = [attachment_blobs, attachments_manifest]


def run(resources: dict[str, Any], **config: Any) -> dg.ExecuteInProcessResult:
    """Materialize both assets in an ephemeral instance."""
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize(
            ASSETS,
            resources=resources,
            instance=instance,
            run_config={"ops": {"attachments__blobs": {"config": config}}},
        )


def manifest(warehouse: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT job_id, attachment_id, size, sha256, blob_path, downloaded_at "
            "FROM raw.attachments_manifest ORDER BY attachment_id"
        ).fetchall()


def test_manifest_lists_every_blob_and_a_rerun_skips_them(
    att_server: SandboxServer, tokens: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    resources = {
        "servicetitan": api_resource(att_server.base_url, "demo", tokens),
        "warehouse": WarehouseResource(warehouse_dir=str(warehouse)),
    }
    jobs = job_ids(att_server)[15:17]
    first = run(resources, job_ids=jobs, retry_delay_seconds=0)
    assert first.success
    rows = manifest(warehouse)
    assert rows and {r[0] for r in rows} == set(jobs)
    for _, _, size, sha, blob, _ in rows:
        assert blob == f"landing/attachments/blobs/sha256/{sha[:2]}/{sha}"
        assert (warehouse / blob).stat().st_size == size
    again = run(resources, job_ids=jobs, retry_delay_seconds=0)
    metadata = again.asset_materializations_for_node("attachments__blobs")[0].metadata
    assert metadata["skipped"].value == len(rows) and metadata["bytes_read"].value == 0
    assert manifest(warehouse) == rows  # downloaded_at kept from the first run


def test_jobs_come_from_the_landed_jobs_window(
    att_server: SandboxServer, tokens: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    recent, old = job_ids(att_server)[17:19], job_ids(att_server)[19]
    now = datetime.now(UTC)
    landed = pa.table(
        {
            "id": pa.array([*recent, old], pa.int64()),
            "modifiedOn": pa.array(
                [now, now - timedelta(days=1), now - timedelta(days=30)], pa.timestamp("us", "UTC")
            ),
        }
    )
    (warehouse / "landing" / "jobs").mkdir(parents=True)
    pq.write_table(landed, warehouse / "landing" / "jobs" / "2026-01.parquet")
    resources = {
        "servicetitan": v2_resource(att_server.base_url, tokens),
        "warehouse": WarehouseResource(warehouse_dir=str(warehouse)),
    }
    assert run(resources, days=7, retry_delay_seconds=0).success
    assert {r[0] for r in manifest(warehouse)} == set(recent)
    # v2 lists no checksum: the manifest's hashes let a rerun skip the downloads.
    again = run(resources, days=7, retry_delay_seconds=0)
    metadata = again.asset_materializations_for_node("attachments__blobs")[0].metadata
    assert metadata["downloaded"].value == 0 and metadata["bytes_read"].value == 0


def test_no_landed_jobs_fails_saying_what_to_do(
    att_server: SandboxServer, tokens: Path, tmp_path: Path
) -> None:
    resources = {
        "servicetitan": api_resource(att_server.base_url, "demo", tokens),
        "warehouse": WarehouseResource(warehouse_dir=str(tmp_path / "empty")),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            ASSETS, resources=resources, instance=instance, raise_on_error=False
        )
    assert not result.success
    failure = result.failure_data_for_node("attachments__blobs")
    assert failure is not None and "materialize servicetitan/jobs first" in str(failure.error)
