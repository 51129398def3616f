"""Content-addressed files: the downloaded attachments under the landing store and the
upload outbox.

- ``<warehouse>/landing/attachments/blobs/sha256/ab/<hex>``: one file per distinct
  content, named by its SHA-256 (``ab`` its first two hex digits), written to a ``.part``
  file under ``blobs/tmp/`` first and renamed into place once its hash is known to be
  right, so a blob is never under a wrong address and never half written.
- ``<warehouse>/attachments/outbox/sha256/ab/<hex>``: the files queued for upload
  (``st-writeback submit attachment``), copied when the request is submitted so nothing
  is lost if the original goes away.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from st_resources.attachments.client import CHUNK

_HEX = re.compile(r"^[0-9a-f]{64}$")


def check_sha256(value: str) -> str:
    """``value`` if it is a lower-case hex SHA-256; ``ValueError`` saying so otherwise."""
    if not _HEX.match(value):
        raise ValueError(f"{value!r} is not a SHA-256 (64 lower-case hex digits)")
    return value


def address(root: Path, sha256: str) -> Path:
    """Where the content of ``sha256`` lives under ``root`` (``sha256/ab/<hex>``)."""
    check_sha256(sha256)
    return root / "sha256" / sha256[:2] / sha256


@dataclass(frozen=True)
class BlobStore:
    """The downloaded attachments of a warehouse folder."""

    warehouse_dir: Path

    @property
    def root(self) -> Path:
        return self.warehouse_dir / "landing" / "attachments" / "blobs"

    def path(self, sha256: str) -> Path:
        """The blob of ``sha256`` (present or not)."""
        return address(self.root, sha256)

    def has(self, sha256: str) -> bool:
        """Whether the blob of ``sha256`` is already here."""
        return self.path(sha256).is_file()

    def part(self, key: str) -> Path:
        """The ``.part`` file of a download in progress (``key``: what identifies it)."""
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{key}.part"

    def publish(self, part: Path, sha256: str) -> Path:
        """Move a checked ``.part`` to its address (atomic: same file system)."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        return target


@dataclass(frozen=True)
class Outboxed:
    """A file copied into the outbox: its SHA-256, size and the copy's path."""

    sha256: str
    size: int
    path: Path


def outbox_root(warehouse_dir: Path) -> Path:
    """The upload outbox of a warehouse folder."""
    return warehouse_dir / "attachments" / "outbox"


def put_in_outbox(warehouse_dir: Path, source: Path) -> Outboxed:
    """Copy ``source`` into the outbox under its SHA-256, hashing while copying (one
    read); a content already there is kept as it is."""
    if not source.is_file():
        raise ValueError(f"{source}: no such file; give the path of the file to attach")
    root = outbox_root(warehouse_dir)
    root.mkdir(parents=True, exist_ok=True)
    temp = root / f".{os.getpid()}.{source.name}.part"
    hasher, size = hashlib.sha256(), 0
    try:
        with source.open("rb") as src, temp.open("wb") as dst:
            while piece := src.read(CHUNK):
                hasher.update(piece)
                dst.write(piece)
                size += len(piece)
        if size == 0:
            raise ValueError(f"{source} is empty; there is nothing to attach")
        target = address(root, hasher.hexdigest())
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file():
            temp.unlink()
        else:
            os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return Outboxed(hasher.hexdigest(), size, target)
