"""The ``attachment`` write kind: add a file to a job (``st-writeback submit attachment``).

The file itself is not in the queue: the CLI copies it into the content-addressed outbox
(``<ST_WAREHOUSE_DIR>/attachments/outbox/sha256/ab/<hex>``, ``st_resources/attachments/
blobs.py``) when the request is submitted, and the payload names that copy, its SHA-256
and size. The op uploads the copy, and the tenant's checksum confirms it.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from st_resources.attachments.blobs import put_in_outbox
from st_resources.writeback.payloads import Id, Payload, PayloadError

MAX_ATTACHMENT_BYTES = 1024 * 1024 * 1024
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class AttachmentPayload(Payload):
    """Attach the outbox file ``blob_path`` (``sha256``, ``size``) to job ``job_id``."""

    job_id: Id
    sha256: Sha256
    size: int = Field(gt=0, le=MAX_ATTACHMENT_BYTES)
    file_name: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00]+$")
    content_type: str = Field(
        default="application/octet-stream", min_length=3, max_length=200, pattern=r"^[\w.+-]+/"
    )
    blob_path: str = Field(min_length=1, max_length=4096)

    def api_body(self) -> dict[str, Any]:
        """What ``send_write("attachment", ...)`` reads (st_resources/attachments/write.py)."""
        return {
            "jobId": self.job_id,
            "sha256": self.sha256,
            "size": self.size,
            "fileName": self.file_name,
            "contentType": self.content_type,
            "blobPath": self.blob_path,
        }


def attachment_payload(
    job_id: int,
    file: Path,
    warehouse_dir: Path,
    name: str | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    """The raw payload of attaching ``file`` to a job, after copying it into the outbox
    of ``warehouse_dir`` (hashing it on the way)."""
    try:
        copied = put_in_outbox(warehouse_dir, file)
    except (OSError, ValueError) as exc:
        raise PayloadError(f"--file {file}: {exc}") from None
    file_name = name or file.name
    guessed = mimetypes.guess_type(file_name)[0]
    return {
        "job_id": job_id,
        "sha256": copied.sha256,
        "size": copied.size,
        "file_name": file_name,
        "content_type": content_type or guessed or "application/octet-stream",
        "blob_path": str(copied.path.resolve()),
    }
