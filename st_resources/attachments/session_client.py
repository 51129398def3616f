"""Attachments through the session API: lists with SHA-256 and signed URLs, downloads
from those URLs (no bearer: a signed URL is its own credential, and may point at another
host), uploads by the signed upload-URL flow with the checksum declared first
(docs/api.md, "Attachments")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from st_resources.attachments.client import (
    AttachmentInfo,
    AttachmentIntegrityError,
    Uploaded,
    file_chunks,
)
from st_resources.errors import ApiValidationError
from st_resources.reads import parse_timestamp
from st_resources.transport import Call, Transport

# A URL about to expire is listed again rather than used: the download could outlive it.
URL_MARGIN = timedelta(seconds=30)


def _info(row: dict[str, Any]) -> AttachmentInfo:
    return AttachmentInfo(
        id=int(row["id"]),
        job_id=int(row["jobId"]),
        file_name=str(row["fileName"]),
        content_type=str(row.get("contentType") or "application/octet-stream"),
        created_on=str(row["createdOn"]),
        size=int(row["size"]),
        sha256=str(row["sha256"]),
        download_url=str(row["downloadUrl"]),
        download_url_expires_at=str(row["downloadUrlExpiresAt"]),
    )


class SessionAttachments:
    """``AttachmentsClient`` over the session API."""

    checksums = True

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def list(self, job_id: int) -> list[AttachmentInfo]:
        """``GET /jobs/{id}/attachments``, every page."""
        rows: list[AttachmentInfo] = []
        params: dict[str, Any] = {}
        while True:
            body = self.transport.get_json(f"/jobs/{job_id}/attachments", params)
            rows += [_info(r) for r in body["data"]]
            if not body.get("hasMore") or not body.get("nextCursor"):
                return rows
            params["cursor"] = body["nextCursor"]

    def _fresh(self, info: AttachmentInfo) -> AttachmentInfo:
        """``info`` with a download URL that will not expire mid-download."""
        stamp = info.download_url_expires_at
        if info.download_url and stamp and parse_timestamp(stamp) - URL_MARGIN > _now():
            return info
        for row in self.list(info.job_id):
            if row.id == info.id:
                return row
        raise ApiValidationError(
            f"attachment {info.id} is no longer on job {info.job_id}", code="not_found", status=404
        )

    @contextmanager
    def open(self, info: AttachmentInfo, offset: int = 0) -> Iterator[httpx.Response]:
        """The bytes from ``offset`` through the attachment's signed URL."""
        url = self._fresh(info).download_url or ""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self.transport.stream(
            Call("GET", url, headers=headers, authenticated=False)
        ) as response:
            yield response

    def upload(
        self, job_id: int, path: Path, file_name: str, content_type: str, sha256: str
    ) -> Uploaded:
        """Look for the same name and hash on the job; else ask for an upload URL with
        the checksum and size declared, and PUT the file there, streamed. The tenant
        keeps it only if it hashes to what was declared (a 422 ``checksum_mismatch``
        otherwise: ``AttachmentIntegrityError``, sent again by the caller's retries)."""
        for row in self.list(job_id):
            if row.file_name == file_name and row.sha256 == sha256:
                return Uploaded(_record(row), replayed=True)
        size = path.stat().st_size
        declared = {"fileName": file_name, "contentType": content_type, "size": size}
        slot = self.transport.request(
            Call(
                "POST",
                f"/jobs/{job_id}/attachments/uploads",
                json_body={**declared, "sha256": sha256},
                retry_writes=True,  # a second slot is harmless: only a PUT adds a file
            )
        ).json()
        call = Call(
            "PUT",
            slot["uploadUrl"],
            headers={"Content-Type": content_type, "Content-Length": str(size)},
            authenticated=False,
        )
        try:
            with self.transport.stream(call, content=file_chunks(path)) as response:
                response.read()
                record: dict[str, Any] = response.json()
        except ApiValidationError as exc:
            if exc.code != "checksum_mismatch":
                raise
            raise AttachmentIntegrityError(
                f"the tenant received {file_name} damaged ({exc.message})",
                code="checksum_mismatch",
                status=None,
            ) from None
        if record.get("sha256") != sha256:
            raise AttachmentIntegrityError(
                f"the tenant kept {file_name} with SHA-256 {record.get('sha256')}, not {sha256}",
                code="checksum_mismatch",
            )
        return Uploaded(record, replayed=False)


def _now() -> datetime:
    return datetime.now(UTC)


def _record(info: AttachmentInfo) -> dict[str, Any]:
    """An attachment's record without its (credential-bearing) URL."""
    return {
        "id": info.id,
        "jobId": info.job_id,
        "fileName": info.file_name,
        "contentType": info.content_type,
        "size": info.size,
        "sha256": info.sha256,
        "createdOn": info.created_on,
    }
