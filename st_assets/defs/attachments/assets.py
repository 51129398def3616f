"""Job attachments as assets, in the group ``servicetitan_attachments``:

- ``attachments/blobs``: the attachments of the jobs modified in the last
  ``days`` (read from the landed ``jobs`` stream; or the ``job_ids`` given), each
  downloaded into ``landing/attachments/blobs/sha256/ab/<hex>`` unless its content is
  already there (``st_resources/attachments``). What it saw is landed whole as
  ``landing/attachments_listing/data.parquet``. An attachment that will not download to
  its checksum fails the run, naming it, after the others have landed.
- ``attachments/manifest``: every attachment ever downloaded, one row each
  (the listing merged into the earlier manifest), at ``landing/attachments_manifest/``,
  viewed as ``raw.attachments_manifest``.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from st_assets.defs.names import API_POOL, asset_key
from st_resources.attachments import BlobStore, DownloadPolicy, download
from st_resources.attachments.client import AttachmentInfo, AttachmentsClient
from st_resources.errors import ServiceTitanError
from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource

ATTACHMENTS_GROUP = "servicetitan_attachments"
# Not under ``servicetitan/``: those keys are the streams (and dbt's source tables).
BLOBS_KEY = dg.AssetKey(["attachments", "blobs"])
MANIFEST_KEY = dg.AssetKey(["attachments", "manifest"])
LISTING = "attachments_listing"
MANIFEST = "attachments_manifest"
MANIFEST_SCHEMA = pa.schema(
    [
        ("job_id", pa.int64()),
        ("attachment_id", pa.int64()),
        ("file_name", pa.string()),
        ("content_type", pa.string()),
        ("size", pa.int64()),
        ("sha256", pa.string()),
        ("blob_path", pa.string()),
        ("downloaded_at", pa.timestamp("us", tz="UTC")),
    ]
)


class AttachmentsConfig(dg.Config):
    """Which jobs' attachments to download, and how hard to try."""

    days: int = Field(default=7, ge=1, le=3660, description="Jobs modified in the last N days")
    max_jobs: int = Field(default=2000, ge=1, le=1_000_000, description="At most, newest first")
    job_ids: list[int] = Field(
        default_factory=list, description="These jobs instead (the landed jobs are not read)"
    )
    max_attempts: int = Field(default=4, ge=1, le=20, description="Tries per attachment")
    retry_delay_seconds: float = Field(default=0.5, ge=0, le=60)
    verify_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="v2 (no listed checksum): files up to this size are downloaded twice",
    )


def recent_job_ids(warehouse: WarehouseResource, days: int, limit: int) -> list[int]:
    """The ids of the landed jobs modified in the last ``days``, newest first."""
    since = datetime.now(UTC) - timedelta(days=days)
    with warehouse.landing_connection("jobs") as con:
        try:
            rows = con.execute(
                "SELECT id FROM jobs WHERE modifiedOn >= ? "
                "GROUP BY id ORDER BY max(modifiedOn) DESC LIMIT ?",
                [since, limit],
            ).fetchall()
        except duckdb.CatalogException:
            raise dg.Failure(
                "no jobs have landed yet: materialize servicetitan/jobs first, or give "
                "job_ids in the run config"
            ) from None
    return [int(r[0]) for r in rows]


def known_hashes(warehouse: WarehouseResource) -> dict[int, str]:
    """The SHA-256 of every attachment in the manifest, by attachment id (a listing
    without checksums, v2's, can then skip what is already downloaded)."""
    path = warehouse.landing(MANIFEST) / "data.parquet"
    if not path.is_file():
        return {}
    table = pq.read_table(path, columns=["attachment_id", "sha256"])
    return dict(zip(table["attachment_id"].to_pylist(), table["sha256"].to_pylist(), strict=True))


def _row(
    info: AttachmentInfo, sha256: str, size: int, blob: str, at: datetime
) -> dict[str, object]:
    return {
        "job_id": info.job_id,
        "attachment_id": info.id,
        "file_name": info.file_name,
        "content_type": info.content_type,
        "size": size,
        "sha256": sha256,
        "blob_path": blob,
        "downloaded_at": at,
    }


def fetch_jobs(
    context: dg.AssetExecutionContext,
    client: AttachmentsClient,
    job_ids: list[int],
    store: BlobStore,
    policy: DownloadPolicy,
    known: dict[int, str],
) -> tuple[list[dict[str, object]], list[str], dict[str, int]]:
    """Download the jobs' attachments: the manifest rows, the failures, the counts."""
    rows: list[dict[str, object]] = []
    failures: list[str] = []
    counts = {"downloaded": 0, "skipped": 0, "bytes_read": 0}
    for job_id in job_ids:
        try:
            listed = client.list(job_id)
        except ServiceTitanError as exc:
            failures.append(f"job {job_id}: {exc.message}")
            continue
        for info in listed:
            try:
                got = download(client, info, store, policy, known_sha256=known.get(info.id))
            except ServiceTitanError as exc:
                context.log.error("attachment %s of job %s: %s", info.id, job_id, exc)
                failures.append(f"attachment {info.id} of job {job_id}: {exc.message}")
                continue
            counts["skipped" if got.skipped else "downloaded"] += 1
            counts["bytes_read"] += got.bytes_read
            blob = str(got.path.relative_to(store.warehouse_dir))
            rows.append(_row(info, got.sha256, got.size, blob, datetime.now(UTC)))
    return rows, failures, counts


@dg.asset(
    key=BLOBS_KEY,
    group_name=ATTACHMENTS_GROUP,
    deps=[asset_key("jobs")],
    kinds={"servicetitan", "parquet"},
    pool=API_POOL,
    description="The attachments of recently modified jobs, downloaded content-addressed "
    "into landing/attachments/blobs/sha256/ (landing/attachments_listing: what was seen).",
)
def attachment_blobs(
    context: dg.AssetExecutionContext,
    config: AttachmentsConfig,
    servicetitan: ServiceTitanResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Download the attachments not in the blob store yet; land the listing."""
    backend = servicetitan.get_backend()
    if not backend.capabilities.attachments or backend.attachments is None:
        raise dg.Failure(f"the {backend.name} backend has no job attachments")
    job_ids = config.job_ids or recent_job_ids(warehouse, config.days, config.max_jobs)
    policy = DownloadPolicy(
        config.max_attempts, config.retry_delay_seconds, config.verify_max_bytes
    )
    store = BlobStore(warehouse.root)
    rows, failures, counts = fetch_jobs(
        context, backend.attachments, job_ids, store, policy, known_hashes(warehouse)
    )
    warehouse.write_whole(LISTING, pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA))
    if failures:
        raise dg.Failure(
            f"{len(failures)} attachment(s) or job(s) failed; the others landed: "
            + "; ".join(failures[:10]),
        )
    return dg.MaterializeResult(metadata={"jobs": len(job_ids), "attachments": len(rows), **counts})


@dg.asset(
    key=MANIFEST_KEY,
    group_name=ATTACHMENTS_GROUP,
    deps=[BLOBS_KEY],
    kinds={"parquet", "duckdb"},
    description="Every downloaded attachment (job_id, attachment_id, file_name, "
    "content_type, size, sha256, blob_path, downloaded_at): raw.attachments_manifest.",
)
def attachments_manifest(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Merge the last listing into the manifest (an attachment keeps its first
    ``downloaded_at``) and refresh ``raw.attachments_manifest``."""
    listing = warehouse.landing(LISTING) / "data.parquet"
    if not listing.is_file():
        raise dg.Failure("no attachment listing yet: materialize attachments/blobs")
    with duckdb.connect() as con:
        con.register("listing", pq.read_table(listing))
        manifest = warehouse.landing(MANIFEST) / "data.parquet"
        earlier = pq.read_table(manifest) if manifest.is_file() else MANIFEST_SCHEMA.empty_table()
        con.register("earlier", earlier)
        merged: pa.Table = con.sql(
            "SELECT l.* REPLACE (coalesce(e.downloaded_at, l.downloaded_at) AS downloaded_at) "
            "FROM listing l LEFT JOIN earlier e USING (attachment_id) "
            "UNION ALL BY NAME SELECT * FROM earlier "
            "WHERE attachment_id NOT IN (SELECT attachment_id FROM listing) "
            "ORDER BY job_id, attachment_id"
        ).to_arrow_table()
    path = warehouse.write_whole(
        MANIFEST, merged.select(MANIFEST_SCHEMA.names).cast(MANIFEST_SCHEMA)
    )
    warehouse.ensure_landed_views(MANIFEST)
    return dg.MaterializeResult(
        metadata={
            "rows": merged.num_rows,
            "landing": dg.MetadataValue.path(str(path)),
            "view": f"raw.{MANIFEST}",
        }
    )


attachments_job = dg.define_asset_job(
    "servicetitan_attachments",
    selection=dg.AssetSelection.groups(ATTACHMENTS_GROUP),
    description="Download recent jobs' attachments and refresh raw.attachments_manifest.",
)
