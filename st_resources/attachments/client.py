"""What every backend's attachments client offers (``Backend.attachments``): list a job's
attachments, open one's bytes from an offset (streamed), and upload a file.

The session API lists a SHA-256 and a signed URL per attachment; the official v2 API
lists neither (``checksums`` says which): ``st_resources/attachments/download.py`` makes
the difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from st_resources.errors import TransientError

CHUNK = 1024 * 1024
"""The bytes read or written at a time: what a download or an upload holds in memory."""


class AttachmentIntegrityError(TransientError):
    """Bytes did not hash to what they should (a download, or an upload the tenant
    received damaged). Transient: sending again usually cures it; if it keeps happening
    the link or the tenant corrupts data, and nothing is kept under a wrong address."""


@dataclass(frozen=True)
class AttachmentInfo:
    """One attachment as a tenant lists it; ``size`` and ``sha256`` when the API says."""

    id: int
    job_id: int
    file_name: str
    content_type: str
    created_on: str
    size: int | None = None
    sha256: str | None = None
    download_url: str | None = None
    download_url_expires_at: str | None = None


@dataclass(frozen=True)
class Uploaded:
    """An upload's outcome: the attachment as the tenant lists it, and whether it was
    already on the job (nothing sent)."""

    record: dict[str, Any]
    replayed: bool


class AttachmentsClient(Protocol):
    """A backend's attachments (``Backend.attachments``)."""

    checksums: bool
    """Whether the listing gives each attachment's SHA-256 (the session API does)."""

    def list(self, job_id: int) -> list[AttachmentInfo]:
        """The job's attachments; ``NotFoundError`` when there is no such job."""
        ...

    def open(self, info: AttachmentInfo, offset: int = 0) -> AbstractContextManager[httpx.Response]:
        """The attachment's bytes from ``offset`` (a ``Range`` request past 0), unread."""
        ...

    def upload(
        self, job_id: int, path: Path, file_name: str, content_type: str, sha256: str
    ) -> Uploaded:
        """Add the file at ``path`` to the job, confirmed by its SHA-256; an attachment of
        the same name and hash already on the job is the upload done before (replayed).
        A damaged transfer raises ``AttachmentIntegrityError``."""
        ...


def file_sha256(path: Path) -> tuple[str, int]:
    """A file's SHA-256 and size, read a chunk at a time."""
    hasher, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while piece := fh.read(CHUNK):
            hasher.update(piece)
            size += len(piece)
    return hasher.hexdigest(), size


def file_chunks(path: Path) -> Iterator[bytes]:
    """A file's bytes, a chunk at a time (an upload's body)."""
    with path.open("rb") as fh:
        while piece := fh.read(CHUNK):
            yield piece


def remote_sha256(client: AttachmentsClient, info: AttachmentInfo) -> str:
    """The SHA-256 of an attachment's bytes as the tenant sends them, streamed (nothing
    written), to compare with a file we hold."""
    hasher = hashlib.sha256()
    with client.open(info) as response:
        for piece in response.iter_bytes():
            hasher.update(piece)
    return hasher.hexdigest()
