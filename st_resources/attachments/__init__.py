"""Job attachments on both backends (``Backend.attachments``): list, download into the
content-addressed blob store of the landing folder, and upload through the write-back
(the ``attachment`` write kind). See README.md, "Attachments"."""

from st_resources.attachments.blobs import BlobStore, Outboxed, put_in_outbox
from st_resources.attachments.client import (
    AttachmentInfo,
    AttachmentIntegrityError,
    AttachmentsClient,
    Uploaded,
)
from st_resources.attachments.download import Downloaded, DownloadPolicy, download

__all__ = [
    "AttachmentInfo",
    "AttachmentIntegrityError",
    "AttachmentsClient",
    "BlobStore",
    "DownloadPolicy",
    "Downloaded",
    "Outboxed",
    "Uploaded",
    "download",
    "put_in_outbox",
]
