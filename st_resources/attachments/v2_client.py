"""Attachments through the official v2 API (``forms-v2.json``, ``/forms/v2``; scopes
``tn.frm.jobs:r`` and ``tn.frm.jobs:w``):

- ``GET .../jobs/{jobId}/attachments``: the spec gives no response schema; we read the
  usual paginated shape ``{page, pageSize, hasMore, totalCount, data: [{id, fileName,
  type, createdOn, createdById}]}`` (``type``, the MIME type, may be missing). No size and
  no checksum are listed.
- ``GET .../jobs/attachment/{id}``: the bytes (``Range`` asked for when resuming).
- ``POST .../jobs/{id}/attachments``: multipart ``file``; answers ``{fileName}`` only, so
  an upload is confirmed by listing the job again and downloading the new attachment
  back to compare its SHA-256. v2 has no delete: a damaged copy stays on the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from st_resources.attachments.client import (
    AttachmentInfo,
    AttachmentIntegrityError,
    Uploaded,
    remote_sha256,
)
from st_resources.transport import Call, Transport

PREFIX = "/forms/v2/tenant/{tenant}/jobs"
PAGE_SIZE = 500


class V2Attachments:
    """``AttachmentsClient`` over the official v2 API."""

    checksums = False

    def __init__(self, transport: Transport, tenant_id: int) -> None:
        self.transport = transport
        self.base = PREFIX.format(tenant=tenant_id)

    def list(self, job_id: int) -> list[AttachmentInfo]:
        """Every page of the job's attachments."""
        rows: list[AttachmentInfo] = []
        page = 1
        while True:
            body = self.transport.get_json(
                f"{self.base}/{job_id}/attachments", {"page": page, "pageSize": PAGE_SIZE}
            )
            rows += [_info(job_id, r) for r in body.get("data") or []]
            if not body.get("hasMore"):
                return rows
            page += 1

    @contextmanager
    def open(self, info: AttachmentInfo, offset: int = 0) -> Iterator[httpx.Response]:
        """The bytes from ``offset`` (``GET .../jobs/attachment/{id}``)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        call = Call("GET", f"{self.base}/attachment/{info.id}", headers=headers)
        with self.transport.stream(call) as response:
            yield response

    def upload(
        self, job_id: int, path: Path, file_name: str, content_type: str, sha256: str
    ) -> Uploaded:
        """Look first (an attachment of this name on the job whose bytes hash to
        ``sha256`` is a replay), then POST the file and confirm it by downloading it back."""
        before = self.list(job_id)
        for row in before:
            if row.file_name == file_name and remote_sha256(self, row) == sha256:
                return Uploaded(_record(row, sha256), replayed=True)
        with path.open("rb") as fh:
            call = Call("POST", f"{self.base}/{job_id}/attachments")
            with self.transport.stream(call, files={"file": (file_name, fh, content_type)}) as r:
                r.read()
        known = {row.id for row in before}
        added = [r for r in self.list(job_id) if r.id not in known and r.file_name == file_name]
        if not added:
            raise AttachmentIntegrityError(
                f"{file_name} was accepted but is not listed on job {job_id}",
                code="upload_not_listed",
            )
        newest = max(added, key=lambda r: r.id)
        received = remote_sha256(self, newest)
        if received != sha256:
            raise AttachmentIntegrityError(
                f"job {job_id}'s new attachment {newest.id} ({file_name}) hashes to {received}, "
                f"not {sha256}: it was damaged on the way (v2 cannot delete it)",
                code="checksum_mismatch",
            )
        return Uploaded(_record(newest, sha256), replayed=False)


def _info(job_id: int, row: dict[str, Any]) -> AttachmentInfo:
    return AttachmentInfo(
        id=int(row["id"]),
        job_id=job_id,
        file_name=str(row.get("fileName") or f"attachment-{row['id']}"),
        content_type=str(row.get("type") or "application/octet-stream"),
        created_on=str(row.get("createdOn") or ""),
    )


def _record(info: AttachmentInfo, sha256: str) -> dict[str, Any]:
    """The attachment in the session API's shape (``WriteResult.body``)."""
    return {
        "id": info.id,
        "jobId": info.job_id,
        "fileName": info.file_name,
        "contentType": info.content_type,
        "sha256": sha256,
        "createdOn": info.created_on,
    }
