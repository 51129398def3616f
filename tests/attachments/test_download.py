"""Downloads into the content-addressed blob store over HTTP against the sandbox: the
checksum round trip on both backends, a corrupted transfer caught and retried, a cut
transfer resumed with Range, persistent corruption failing loudly, and a big file
streamed with flat memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from st_resources.attachments import (
    AttachmentIntegrityError,
    BlobStore,
    DownloadPolicy,
    download,
)
from st_resources.attachments.client import AttachmentsClient
from st_sandbox.server import SandboxServer
from tests.attachments.conftest import (
    FAST,
    LARGE_MB,
    backend_of,
    counters,
    job_ids,
    session_backend,
    set_faults,
    v2_backend,
)


def _client(kind: str, server: SandboxServer, tmp: Path) -> AttachmentsClient:
    client = backend_of(kind, server, tmp).attachments
    assert client is not None
    return client


@pytest.mark.parametrize("kind", ["session", "v2"])
def test_round_trip_lands_blobs_under_their_sha256(
    kind: str, att_server: SandboxServer, store: BlobStore, tokens: Path
) -> None:
    client = _client(kind, att_server, tokens)
    listed = client.list(job_ids(att_server)[1])
    assert listed and all(a.file_name for a in listed)
    for info in listed:
        got = download(client, info, store, FAST)
        data = got.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == got.sha256
        assert got.path == store.root / "sha256" / got.sha256[:2] / got.sha256
        if kind == "session":
            assert got.sha256 == info.sha256 and got.size == info.size
            assert got.attempts == 1
        else:  # no listed checksum: a second download had to agree (small files)
            assert got.attempts == 2
        again = download(client, info, store, FAST, known_sha256=got.sha256)
        assert again.skipped and again.bytes_read == 0
    assert not list((store.root / "tmp").iterdir())


@pytest.mark.parametrize("kind", ["session", "v2"])
def test_corrupted_download_is_detected_and_retried(
    kind: str, att_server: SandboxServer, store: BlobStore, tokens: Path
) -> None:
    client = _client(kind, att_server, tokens)
    info = client.list(job_ids(att_server)[2])[0]
    truth = session_backend(att_server, tokens).attachments.list(info.job_id)[0]  # type: ignore[union-attr]
    set_faults(att_server, corruptDownloads=1)
    got = download(client, info, store, FAST)
    assert got.sha256 == truth.sha256
    assert got.attempts == (2 if kind == "session" else 3)
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [truth.sha256]


def test_persistent_corruption_fails_loudly_and_keeps_no_blob(
    att_server: SandboxServer, store: BlobStore, tokens: Path
) -> None:
    client = _client("session", att_server, tokens)
    info = client.list(job_ids(att_server)[3])[0]
    set_faults(att_server, corruptDownloads=3)
    with pytest.raises(AttachmentIntegrityError, match="did not download to its SHA-256"):
        download(client, info, store, DownloadPolicy(max_attempts=3, retry_delay=0))
    assert not store.has(info.sha256 or "")
    assert not [p for p in store.root.rglob("*") if p.is_file()]


def test_cut_download_resumes_with_range(
    att_server: SandboxServer, store: BlobStore, tokens: Path
) -> None:
    client = _client("session", att_server, tokens)
    info = max(client.list(job_ids(att_server)[5]), key=lambda a: a.size or 0)
    assert info.size is not None
    cut = info.size // 2
    before = counters(att_server)["bytesServed"]
    set_faults(att_server, cutDownloads=1, cutAfterBytes=cut)
    got = download(client, info, store, FAST)
    assert got.sha256 == info.sha256 and got.attempts == 2
    # Half before the cut, the other half after it: no byte read twice.
    assert got.bytes_read == info.size
    assert counters(att_server)["bytesServed"] - before == info.size


def test_big_file_downloads_with_flat_memory(
    att_server: SandboxServer, store: BlobStore, tokens: Path
) -> None:
    client = _client("v2", att_server, tokens)
    info = client.list(job_ids(att_server)[0])[-1]
    tracemalloc.start()
    try:
        got = download(client, info, store, FAST)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Over verify_max_bytes: one download, trusted.
    assert got.size == LARGE_MB * 1024 * 1024 and got.attempts == 1
    # The sandbox runs in this process too: its chunks count against the same peak.
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_v2_readonly_app_can_list_and_download(
    att_server: SandboxServer, store: BlobStore, tokens: Path
) -> None:
    client = v2_backend(att_server, tokens, app=1).attachments
    assert client is not None
    info = client.list(job_ids(att_server)[4])[0]
    assert download(client, info, store, FAST).size > 0
