"""A streaming reader of the v2 upload's ``multipart/form-data`` body: one part named
``file``, written to disk as it arrives (never the whole body in memory).

python-multipart is not a dependency of the project, and the official operation takes a
single file part, so this reads exactly that: the part's headers, then its bytes up to
the closing boundary, which is held back from the file until the body ends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from st_sandbox.attachments import AttachmentService
from st_sandbox.errors import ApiError

MAX_HEADER_BYTES = 16 * 1024
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_FILENAME = re.compile(r'filename="([^"]*)"')
_NAME = re.compile(r'\bname="([^"]*)"')


@dataclass(frozen=True)
class Received:
    """The uploaded file: where it is, its name, type, SHA-256 and size."""

    path: Path
    file_name: str
    content_type: str
    sha256: str
    size: int


def _invalid(message: str) -> ApiError:
    return ApiError(400, "validation_error", f"{message}; send multipart/form-data with a file")


def _headers(head: bytes, boundary: bytes) -> tuple[str, str]:
    """The part's file name and content type, from the bytes before its content."""
    lines = head.split(b"\r\n")
    if lines[0] != b"--" + boundary:
        raise _invalid("the body does not start with its boundary")
    text = b"\r\n".join(lines[1:]).decode("utf-8", "replace")
    name, file_name = _NAME.search(text), _FILENAME.search(text)
    if name is None or name.group(1) != "file" or file_name is None or not file_name.group(1):
        raise _invalid('the part must be named "file" and carry a filename')
    content_type = "application/octet-stream"
    for line in text.split("\r\n"):
        if line.lower().startswith("content-type:"):
            content_type = line.split(":", 1)[1].strip() or content_type
    return file_name.group(1).replace("/", "_").replace("\\", "_"), content_type


def _flip(data: bytes) -> bytes:
    """``data`` with its first byte damaged (the corrupt-upload fault)."""
    return bytes([data[0] ^ 0xFF]) + data[1:] if data else data


async def receive_multipart(request: Request, service: AttachmentService, limit: int) -> Received:
    """Read the body's ``file`` part into the sandbox's folder (400 when malformed)."""
    match = _BOUNDARY.search(request.headers.get("content-type", ""))
    if not request.headers.get("content-type", "").startswith("multipart/form-data") or not match:
        raise _invalid("the body is not multipart/form-data")
    boundary = match.group(1).encode()
    path = service.temp_file()
    try:
        return await _receive(request.stream(), boundary, path, service, limit)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


async def _receive(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    path: Path,
    service: AttachmentService,
    limit: int,
) -> Received:
    closing = b"\r\n--" + boundary + b"--"
    corrupt = service.take_fault("corrupt_uploads")
    buffer, head = b"", None
    hasher, size = hashlib.sha256(), 0
    with path.open("wb") as fh:
        async for chunk in chunks:
            buffer += chunk
            if head is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEADER_BYTES:
                        raise _invalid("the part's headers are too long")
                    continue
                head, buffer = _headers(buffer[:end], boundary), buffer[end + 4 :]
            # Keep the last bytes back: they may be the closing boundary.
            keep = len(closing) + 4
            if len(buffer) > keep:
                out, buffer = buffer[:-keep], buffer[-keep:]
                out = _flip(out) if corrupt and size == 0 else out
                size += len(out)
                if size > limit:
                    raise ApiError(413, "payload_too_large", f"the file is over {limit} bytes")
                hasher.update(out)
                fh.write(out)
        end = buffer.rfind(closing)
        if head is None or end < 0:
            raise _invalid("the body ends before its closing boundary")
        last = _flip(buffer[:end]) if corrupt and size == 0 else buffer[:end]
        hasher.update(last)
        fh.write(last)
        size += end
    return Received(path, head[0], head[1], hasher.hexdigest(), size)
