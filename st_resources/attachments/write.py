"""The ``attachment`` write kind, for both backends' ``send_write``: the file queued in
the outbox (``st-writeback submit attachment``) is checked against its request, then
uploaded through the backend's attachments client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from st_resources.attachments.client import AttachmentsClient, file_sha256
from st_resources.backend import WriteResult
from st_resources.errors import ApiValidationError


def send_attachment(client: AttachmentsClient | None, body: dict[str, Any]) -> WriteResult:
    """Upload the outbox file ``body`` names (``AttachmentPayload.api_body``) to its job.

    A missing or changed outbox file cannot be cured by retrying: it is a 422 (the
    request ends ``rejected``, saying to submit it again). A transfer the tenant received
    damaged raises ``AttachmentIntegrityError`` (transient: the op retries it).
    """
    if client is None:
        raise ApiValidationError("this backend has no attachments", code="unsupported", status=422)
    path = Path(body["blobPath"])
    if not path.is_file():
        raise ApiValidationError(
            f"the outbox copy {path} is gone; submit the attachment again",
            code="outbox_missing",
            status=422,
        )
    sha256, size = file_sha256(path)
    if (sha256, size) != (body["sha256"], body["size"]):
        raise ApiValidationError(
            f"the outbox copy {path} changed since it was queued ({size} bytes, SHA-256 "
            f"{sha256}); submit the attachment again",
            code="outbox_changed",
            status=422,
        )
    uploaded = client.upload(
        int(body["jobId"]), path, str(body["fileName"]), str(body["contentType"]), sha256
    )
    return WriteResult(
        status_code=200 if uploaded.replayed else 201,
        body=uploaded.record,
        request_id=None,
        replayed=uploaded.replayed,
    )
