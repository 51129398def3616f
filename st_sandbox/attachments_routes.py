"""The attachment routes on both surfaces and their sandbox controls (docs/api.md,
"Attachments"):

- session API: ``GET /jobs/{id}/attachments`` (with signed download URLs),
  ``POST /jobs/{id}/attachments/uploads`` (a signed upload URL), the signed
  ``GET /attachments/{id}/content`` and ``PUT /attachments/uploads/{uploadId}``;
- v2 (``/forms/v2``): the job's attachment list, the download by id and the multipart
  upload, with the official shapes and errors;
- ``POST /_sandbox/attachments/faults``, ``GET /_sandbox/attachments``.

Downloads honour ``Range`` (206) on both surfaces. The routes carry comments rather than
docstrings: a docstring would become the operation's description in ``/openapi.json``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from st_sandbox.attachments import MAX_UPLOAD_BYTES, Attachment, AttachmentService, Upload
from st_sandbox.attachments_multipart import receive_multipart
from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import SessionDep, TenantDep, json_response
from st_sandbox.routes.sandbox import Strict
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.oauth import AccessToken
from st_sandbox.v2.params import list_page, parse_time
from st_sandbox.v2.state import caller

router = APIRouter(tags=["attachments"])
v2_router = APIRouter(route_class=V2Route, tags=["v2"])
UPLOAD_ROLES = {"admin", "dispatcher"}
FORMS = "/forms/v2/tenant/{tenant}/jobs"
Id = Annotated[int, PathParam(ge=1, le=2**62)]
FormsRead = Annotated[AccessToken, Depends(caller("frm.jobs"))]
FormsWrite = Annotated[AccessToken, Depends(caller("frm.jobs", write=True))]
SignedQuery = Annotated[int | None, Query()]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


async def get_attachments(request: Request) -> AttachmentService:
    """The app's attachments (``app.state.attachments``, set by ``create_app``)."""
    service: AttachmentService = request.app.state.attachments
    return service


AttachmentsDep = Annotated[AttachmentService, Depends(get_attachments)]


class UploadBody(Strict):
    fileName: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00]+$")
    contentType: str = Field(default="application/octet-stream", min_length=3, max_length=200)
    size: int = Field(ge=1, le=MAX_UPLOAD_BYTES)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AttachmentFaultsBody(Strict):
    corruptDownloads: int = Field(default=0, ge=0, le=1000)
    cutDownloads: int = Field(default=0, ge=0, le=1000)
    cutAfterBytes: int = Field(default=0, ge=0)
    corruptUploads: int = Field(default=0, ge=0, le=1000)
    clockOffsetSeconds: float = Field(default=0.0, ge=-1e7, le=1e7)


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _signed_url(
    service: AttachmentService, request: Request, method: str, path: str
) -> tuple[str, int]:
    query, expires = service.signer.sign(method, path)
    return f"{str(request.base_url).rstrip('/')}{path}?{query}", expires


def session_shape(service: AttachmentService, request: Request, a: Attachment) -> dict[str, Any]:
    """An attachment in the session API's shape, with a fresh signed download URL."""
    url, expires = _signed_url(service, request, "GET", f"/attachments/{a.id}/content")
    return {
        "id": a.id,
        "jobId": a.job_id,
        "fileName": a.file_name,
        "contentType": a.content_type,
        "size": a.size,
        "sha256": a.digest(),
        "createdOn": a.created_on,
        "downloadUrl": url,
        "downloadUrlExpiresAt": _iso(expires),
    }


def v2_shape(a: Attachment) -> dict[str, Any]:
    """An attachment as the official list gives it (no size, no checksum)."""
    return {
        "id": a.id,
        "fileName": a.file_name,
        "type": a.content_type,
        "createdOn": a.created_on,
        "createdById": a.created_by_id,
    }


def byte_range(header: str | None, size: int) -> tuple[int, int, bool]:
    """``(start, end exclusive, partial)`` of a ``Range`` header; 416 when unsatisfiable."""
    if not header:
        return 0, size, False
    match = _RANGE.match(header.strip())
    unsatisfiable = ApiError(
        416,
        "range_not_satisfiable",
        f"the range {header!r} is not within the {size} bytes; use bytes=START- or START-END",
        headers={"Content-Range": f"bytes */{size}"},
    )
    if match is None or match.groups() == ("", ""):
        raise unsatisfiable
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= size or end <= start:
        raise unsatisfiable
    return start, end, (start, end) != (0, size)


def download(service: AttachmentService, a: Attachment, range_header: str | None) -> Response:
    """The attachment's bytes (a range of them, 206), with the faults set for downloads."""
    start, end, partial = byte_range(range_header, a.size)
    corrupt = service.take_fault("corrupt_downloads")
    cut = service.faults.cut_after_bytes if service.take_fault("cut_downloads") else None
    with service.lock:
        service.counters.downloads += 1

    def body() -> Iterator[bytes]:
        sent = 0
        for piece in a.chunks(start, end):
            if corrupt and sent == 0:
                piece = bytes([piece[0] ^ 0xFF]) + piece[1:]
            if cut is not None and sent + len(piece) > cut:
                piece = piece[: cut - sent]
            sent += len(piece)
            with service.lock:
                service.counters.bytes_served += len(piece)
            yield piece
            if cut is not None and sent >= cut:
                # Fewer bytes than Content-Length said: the server closes the connection.
                return

    headers = {
        "Content-Length": str(end - start),
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{a.file_name}"',
    }
    if partial:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{a.size}"
    return StreamingResponse(
        body(), status_code=206 if partial else 200, headers=headers, media_type=a.content_type
    )


async def receive_to_file(
    service: AttachmentService, chunks: AsyncIterator[bytes], limit: int
) -> tuple[Path, str, int]:
    """Stream a body to a file of the sandbox's folder: its path, SHA-256 and size (the
    corrupt-upload fault flips its first byte as if damaged on the way)."""
    corrupt = service.take_fault("corrupt_uploads")
    path = service.temp_file()
    hasher, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as fh:
            async for chunk in chunks:
                if not chunk:
                    continue
                if corrupt and size == 0:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        422, "size_mismatch", f"the body is over the {limit} bytes declared"
                    )
                hasher.update(chunk)
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, hasher.hexdigest(), size


# --- the session API ----------------------------------------------------------------------


@router.get("/jobs/{job_id}/attachments", summary="A job's attachments, with signed URLs")
async def list_attachments(
    job_id: Id, current: SessionDep, service: AttachmentsDep, request: Request
) -> Response:
    rows = [session_shape(service, request, a) for a in service.for_job(job_id)]
    return json_response({"data": rows, "hasMore": False, "nextCursor": None})


@router.get("/attachments/{attachment_id}/content", summary="Download (signed URL)")
async def signed_download(
    attachment_id: Id,
    service: AttachmentsDep,
    request: Request,
    expires: SignedQuery = None,
    signature: Annotated[str | None, Query(max_length=128)] = None,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    service.signer.verify("GET", request.url.path, expires, signature)
    return download(service, service.get(attachment_id), range_header)


@router.post("/jobs/{job_id}/attachments/uploads", status_code=201, summary="Start an upload")
async def start_upload(
    job_id: Id, body: UploadBody, current: SessionDep, service: AttachmentsDep, request: Request
) -> Response:
    if not set(current.user.roles or ()) & UPLOAD_ROLES:
        raise ApiError(403, "forbidden", f"user {current.user.username!r} may not add attachments")
    service.for_job(job_id)
    upload = Upload(
        id="upl_" + secrets.token_hex(10),
        job_id=job_id,
        file_name=body.fileName,
        content_type=body.contentType,
        size=body.size,
        sha256=body.sha256,
        expires=0,
    )
    url, upload.expires = _signed_url(service, request, "PUT", f"/attachments/uploads/{upload.id}")
    with service.lock:
        service.uploads[upload.id] = upload
    body_out = {"uploadId": upload.id, "uploadUrl": url, "expiresAt": _iso(upload.expires)}
    return json_response(body_out, 201)


@router.put("/attachments/uploads/{upload_id}", status_code=201, summary="Upload (signed URL)")
async def put_upload(
    upload_id: Annotated[str, PathParam(max_length=40)],
    service: AttachmentsDep,
    tenant: TenantDep,
    request: Request,
    expires: SignedQuery = None,
    signature: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    service.signer.verify("PUT", request.url.path, expires, signature)
    upload = service.uploads.get(upload_id)
    if upload is None or upload.done:
        raise ApiError(409, "upload_used", f"upload {upload_id} is unknown or already complete")
    path, digest, size = await receive_to_file(service, request.stream(), upload.size)
    if (digest, size) != (upload.sha256, upload.size):
        path.unlink(missing_ok=True)
        with service.lock:
            service.counters.rejected_uploads += 1
        raise ApiError(
            422,
            "checksum_mismatch",
            f"received {size} bytes with SHA-256 {digest}; declared {upload.size} with "
            f"{upload.sha256}: nothing was kept, send the file again",
            {"received": digest, "declared": upload.sha256},
        )
    upload.done = True
    stamp = tenant.store.stamp(tenant.store.now_us())
    kept = service.add_uploaded(
        upload.job_id, upload.file_name, upload.content_type, path, digest, stamp
    )
    return json_response(session_shape(service, request, kept), 201)


# A signed URL used with another method than the one signed: the signature says no (403),
# rather than the router's 405, so a forged method is refused like a forged path.
@router.api_route(
    "/attachments/{attachment_id}/content",
    methods=["PUT", "POST", "PATCH", "DELETE"],
    include_in_schema=False,
)
@router.api_route(
    "/attachments/uploads/{attachment_id}",
    methods=["GET", "POST", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def signed_other_method(
    service: AttachmentsDep,
    request: Request,
    expires: SignedQuery = None,
    signature: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    service.signer.verify(request.method, request.url.path, expires, signature)
    raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here")


# --- the v2 surface (forms-v2.json) -------------------------------------------------------


@v2_router.get(FORMS + "/{jobId}/attachments")
async def v2_list(
    job_id: Annotated[int, PathParam(alias="jobId", ge=1, le=2**62)],
    current: FormsRead,
    service: AttachmentsDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=5000)] = 50,
    include_total: Annotated[bool, Query(alias="includeTotal")] = False,
    created_before: Annotated[str | None, Query(alias="createdBefore")] = None,
    created_after: Annotated[str | None, Query(alias="createdOnOrAfter")] = None,
    sort: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    before = parse_time(created_before, "createdBefore")
    after = parse_time(created_after, "createdOnOrAfter")
    rows = []
    for a in service.for_job(job_id):
        created = parse_time(a.created_on, "createdOn") or 0
        if (before is None or created < before) and (after is None or created >= after):
            rows.append(v2_shape(a))
    return list_page(rows, page, page_size, include_total, list, sort=sort)


@v2_router.get(FORMS + "/attachment/{id}")
async def v2_download(
    attachment_id: Annotated[int, PathParam(alias="id", ge=1, le=2**62)],
    current: FormsRead,
    service: AttachmentsDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    return download(service, service.get(attachment_id), range_header)


@v2_router.post(FORMS + "/{id}/attachments")
async def v2_upload(
    job_id: Annotated[int, PathParam(alias="id", ge=1, le=2**62)],
    current: FormsWrite,
    service: AttachmentsDep,
    tenant: TenantDep,
    request: Request,
) -> Response:
    service.for_job(job_id)
    received = await receive_multipart(request, service, MAX_UPLOAD_BYTES)
    stamp = tenant.store.stamp(tenant.store.now_us())
    service.add_uploaded(
        job_id, received.file_name, received.content_type, received.path, received.sha256, stamp
    )
    return json_response({"fileName": received.file_name})


# --- sandbox controls ---------------------------------------------------------------------


@router.post("/_sandbox/attachments/faults", summary="Set attachment faults")
async def set_faults(body: AttachmentFaultsBody, service: AttachmentsDep) -> Response:
    with service.lock:
        service.faults.corrupt_downloads = body.corruptDownloads
        service.faults.cut_downloads = body.cutDownloads
        service.faults.cut_after_bytes = body.cutAfterBytes
        service.faults.corrupt_uploads = body.corruptUploads
        service.signer.offset = body.clockOffsetSeconds
    return await attachment_stats(service)


@router.get("/_sandbox/attachments", summary="Attachment counters and faults")
async def attachment_stats(service: AttachmentsDep) -> Response:
    f, c = service.faults, service.counters
    return json_response(
        {
            "faults": {
                "corruptDownloads": f.corrupt_downloads,
                "cutDownloads": f.cut_downloads,
                "cutAfterBytes": f.cut_after_bytes,
                "corruptUploads": f.corrupt_uploads,
                "clockOffsetSeconds": service.signer.offset,
            },
            "downloads": c.downloads,
            "bytesServed": c.bytes_served,
            "uploads": c.uploads,
            "rejectedUploads": c.rejected_uploads,
        }
    )
