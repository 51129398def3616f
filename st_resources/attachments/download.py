"""Download one attachment into the blob store: streamed a chunk at a time (bounded
memory) to a ``.part`` file, hashed while it streams, resumed with ``Range`` after an
interruption, and renamed to its content address only once its hash is right.

- Listed checksum (the session API): the bytes must hash to it. A mismatch deletes the
  part and downloads again; after ``max_attempts`` it fails loudly
  (``AttachmentIntegrityError``).
- No checksum (the official v2 API): the file's hash becomes its address. Up to
  ``verify_max_bytes`` a second download must agree (two downloads hashing the same,
  or one hashing to a blob already verified); a disagreement keeps both as candidates
  and downloads again until two agree. Above the limit one download is trusted (TCP's
  checksums and the length are all there is): a second one would double the traffic.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from st_resources.attachments.blobs import BlobStore
from st_resources.attachments.client import (
    CHUNK,
    AttachmentInfo,
    AttachmentIntegrityError,
    AttachmentsClient,
)
from st_resources.errors import TransientError

log = logging.getLogger("st_resources.attachments")


@dataclass(frozen=True)
class DownloadPolicy:
    """How hard a download tries: attempts, the pause between them (seconds, times the
    attempt number), and the size up to which a v2 download is confirmed by a second."""

    max_attempts: int = 4
    retry_delay: float = 0.5
    verify_max_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Downloaded:
    """A blob in the store: its address and size, the bytes read over the network for it
    (0 when it was already there), and the attempts made."""

    sha256: str
    size: int
    path: Path
    bytes_read: int
    attempts: int
    skipped: bool = False


class _Part:
    """A ``.part`` file and the hash of what it holds (rebuilt from disk when resuming a
    part left by an earlier process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hasher = hashlib.sha256()
        self.size = 0
        self.read = 0  # bytes that came over the network into this part, resets included
        if path.is_file():
            with path.open("rb") as fh:
                while piece := fh.read(CHUNK):
                    self.hasher.update(piece)
                    self.size += len(piece)

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
        self.hasher, self.size = hashlib.sha256(), 0

    def fill(self, client: AttachmentsClient, info: AttachmentInfo) -> None:
        """One request for the bytes still missing, appended as they come. A cut
        connection raises ``TransientError`` with what arrived kept, so the next call
        resumes."""
        with client.open(info, self.size) as response:
            if self.size and response.status_code != 206:
                self.reset()  # the tenant ignored the range: start over
            total = _total_size(response)
            try:
                with self.path.open("ab") as fh:
                    for piece in response.iter_bytes():
                        fh.write(piece)
                        self.hasher.update(piece)
                        self.size += len(piece)
                        self.read += len(piece)
            except httpx.TransportError as exc:
                raise TransientError(
                    f"the download of attachment {info.id} was cut after {self.size} bytes "
                    f"({type(exc).__name__}); resuming",
                    code="download_interrupted",
                ) from None
        if total is not None and self.size < total:
            raise TransientError(
                f"attachment {info.id}: {self.size} of {total} bytes", code="download_interrupted"
            )


def _total_size(response: httpx.Response) -> int | None:
    """The whole file's size, from ``Content-Range`` (a 206) or ``Content-Length``."""
    content_range = response.headers.get("content-range", "")
    if "/" in content_range and not content_range.endswith("*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("content-length")
    return int(length) if length is not None and response.status_code == 200 else None


def download(
    client: AttachmentsClient,
    info: AttachmentInfo,
    store: BlobStore,
    policy: DownloadPolicy = DownloadPolicy(),
    *,
    known_sha256: str | None = None,
) -> Downloaded:
    """The attachment's blob, downloaded unless its content is already in the store
    (``known_sha256``: its hash from an earlier download, for listings without one)."""
    expected = info.sha256 or known_sha256
    if expected is not None and store.has(expected):
        path = store.path(expected)
        return Downloaded(expected, path.stat().st_size, path, 0, 0, skipped=True)
    if info.sha256 is not None:
        return _checked(client, info, store, policy, info.sha256)
    return _agreed(client, info, store, policy)


class _Attempts:
    """Counts a download's attempts and reads; pauses between them."""

    def __init__(self, policy: DownloadPolicy) -> None:
        self.policy = policy
        self.made = 0
        self.last: Exception | None = None

    def __iter__(self) -> _Attempts:
        return self

    def __next__(self) -> int:
        if self.made >= self.policy.max_attempts:
            raise StopIteration
        if self.made:
            time.sleep(self.policy.retry_delay * self.made)
        self.made += 1
        return self.made

    def fill(self, part: _Part, client: AttachmentsClient, info: AttachmentInfo) -> bool:
        """One attempt at the missing bytes; False after an interruption (kept in ``last``)."""
        if info.size is not None and part.size >= info.size:
            return True  # a complete part left by an earlier run: only its hash is due
        try:
            part.fill(client, info)
        except TransientError as exc:
            self.last = exc
            return False
        return True


def _checked(
    client: AttachmentsClient,
    info: AttachmentInfo,
    store: BlobStore,
    policy: DownloadPolicy,
    expected: str,
) -> Downloaded:
    part = _Part(store.part(expected))
    attempts = _Attempts(policy)
    for _ in attempts:
        if not attempts.fill(part, client, info):
            continue
        digest = part.hasher.hexdigest()
        if digest == expected and (info.size is None or part.size == info.size):
            path = store.publish(part.path, expected)
            return Downloaded(expected, part.size, path, part.read, attempts.made)
        log.warning(
            "attachment %s of job %s: %d bytes hashed to %s, listed %s; downloading again",
            info.id, info.job_id, part.size, digest, expected,
        )  # fmt: skip
        attempts.last = AttachmentIntegrityError(
            f"hashed to {digest}, listed {expected}", code="checksum_mismatch"
        )
        part.reset()
    part_kept = f" (the part, {part.size} bytes, is kept to resume)" if part.size else ""
    raise AttachmentIntegrityError(
        f"attachment {info.id} ({info.file_name}) of job {info.job_id} did not download "
        f"to its SHA-256 {expected} in {attempts.made} attempts: {attempts.last}{part_kept}",
        code="checksum_mismatch",
    )


def _agreed(
    client: AttachmentsClient, info: AttachmentInfo, store: BlobStore, policy: DownloadPolicy
) -> Downloaded:
    key = f"v2-{info.job_id}-{info.id}"
    part = _Part(store.part(key))
    candidates: dict[str, Path] = {}
    attempts = _Attempts(policy)
    read = 0  # over the parts already set aside as candidates
    try:
        for _ in attempts:
            if not attempts.fill(part, client, info):
                continue
            digest, size = part.hasher.hexdigest(), part.size
            trusted = size > policy.verify_max_bytes or digest in candidates
            if store.has(digest) or trusted:
                if store.has(digest):  # the same content, verified before
                    part.path.unlink(missing_ok=True)
                    path = store.path(digest)
                else:
                    path = store.publish(part.path, digest)
                return Downloaded(digest, size, path, read + part.read, attempts.made)
            candidate = part.path.with_name(f"{key}.{digest}.candidate")
            os.replace(part.path, candidate)
            candidates[digest] = candidate
            read += part.read
            part = _Part(store.part(key))
    finally:
        for candidate in candidates.values():
            candidate.unlink(missing_ok=True)
    raise AttachmentIntegrityError(
        f"attachment {info.id} ({info.file_name}) of job {info.job_id}: no two of "
        f"{attempts.made} downloads agreed ({len(candidates)} different hashes); "
        f"last problem: {attempts.last}",
        code="checksum_mismatch",
    )
