"""Uploads through the write-back on both backends, over HTTP against the sandbox:
``st-writeback submit attachment`` copies the file into the outbox, the sender uploads
it (session: signed upload URL with the checksum; v2: multipart, then downloaded back),
a transfer damaged on the way is retried and never recorded as succeeded, and a replay
finds the attachment already on the job."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from st_resources.writeback import cli
from st_resources.writeback.queue import SUCCEEDED, WriteQueue
from st_resources.writeback.sender import TransientWriteError, process
from st_sandbox.server import SandboxServer
from tests.attachments.conftest import backend_of, counters, job_ids, set_faults


def submit(queue_url: str, job: int, file: Path, warehouse: Path, name: str) -> str:
    """``st-writeback submit attachment`` (no tenant check); the request's id."""
    code = cli.main(
        [
            *("--db-url", queue_url, "submit", "--no-check", "attachment", "--job", str(job)),
            *("--file", str(file), "--name", name, "--warehouse-dir", str(warehouse)),
        ]
    )
    assert code == 0
    return WriteQueue(queue_url).recent(kind=None, status=None, limit=1)[0].id


@pytest.mark.parametrize("kind", ["session", "v2"])
def test_upload_round_trip_confirmed_by_checksum(
    kind: str, att_server: SandboxServer, tokens: Path, tmp_path: Path
) -> None:
    job = job_ids(att_server)[10 + (kind == "v2")]
    source = tmp_path / "photo.jpg"
    source.write_bytes(os.urandom(300_000))
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    request_id = submit(queue_url, job, source, tmp_path / "warehouse", f"{kind}.jpg")
    outboxed = tmp_path / "warehouse" / "attachments" / "outbox" / "sha256" / sha[:2] / sha
    assert outboxed.read_bytes() == source.read_bytes()
    source.unlink()  # the outbox copy is what is sent
    queue, backend = WriteQueue(queue_url), backend_of(kind, att_server, tokens)
    request = queue.get(request_id)
    assert request.payload["sha256"] == sha and request.payload["content_type"] == "image/jpeg"
    done = process(queue, backend, request_id).request
    assert done.status == SUCCEEDED and done.result["sha256"] == sha
    assert backend.attachments is not None
    listed = [a for a in backend.attachments.list(job) if a.file_name == f"{kind}.jpg"]
    assert len(listed) == 1
    # The same file sent again (a re-executed run): found on the job, nothing uploaded.
    uploads = counters(att_server)["uploads"]
    replay = backend.send_write("attachment", request.model().api_body(), idempotency_key="x")
    assert replay.replayed and counters(att_server)["uploads"] == uploads


@pytest.mark.parametrize("kind", ["session", "v2"])
def test_upload_damaged_in_transit_is_retried_never_succeeded(
    kind: str, att_server: SandboxServer, tokens: Path, tmp_path: Path
) -> None:
    job = job_ids(att_server)[12 + (kind == "v2")]
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.7\n" + os.urandom(50_000))
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    request_id = submit(queue_url, job, source, tmp_path / "warehouse", "report.pdf")
    queue, backend = WriteQueue(queue_url), backend_of(kind, att_server, tokens)
    set_faults(att_server, corruptUploads=1)
    with pytest.raises(TransientWriteError, match=r"checksum_mismatch|damaged"):
        process(queue, backend, request_id, final_attempt=False)
    assert queue.get(request_id).status != SUCCEEDED
    done = process(queue, backend, request_id, final_attempt=False).request  # the op's retry
    assert done.status == SUCCEEDED
    outcomes = [row["outcome"] for row in queue.audit(request_id)]
    assert outcomes.count(SUCCEEDED) == 1 and "transient_error" in outcomes
    assert counters(att_server)["rejectedUploads"] >= (1 if kind == "session" else 0)


def test_damaged_every_time_ends_failed(
    att_server: SandboxServer, tokens: Path, tmp_path: Path
) -> None:
    source = tmp_path / "sig.png"
    source.write_bytes(os.urandom(10_000))
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    request_id = submit(queue_url, job_ids(att_server)[14], source, tmp_path / "w", "sig.png")
    queue = WriteQueue(queue_url)
    set_faults(att_server, corruptUploads=1)
    done = process(queue, backend_of("session", att_server, tokens), request_id).request
    assert done.status == "failed" and done.result["code"] == "checksum_mismatch"


def test_submit_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    args = ["--db-url", queue_url, "submit", "--no-check", "attachment", "--job", "3"]
    code = cli.main([*args, "--file", str(tmp_path / "nope.jpg"), "--warehouse-dir", "w"])
    assert code == cli.EXIT_REFUSED
    assert "no such file" in capsys.readouterr().err
