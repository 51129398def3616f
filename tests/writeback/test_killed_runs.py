"""Write runs SIGKILLed before, during and after the API call (issue #18), on real parts:
a run process of its own, a file-backed Dagster instance, the sandbox over HTTP and a
PostgreSQL queue (whose table lock, held by the test, stops the run at a chosen point). The reconciler re-drives each; the tenant has each job once, the audit log
one row per attempt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from st_resources.writeback import cli
from st_resources.writeback.queue import WriteQueue
from st_resources.writeback.stuck import FAILED_BEFORE_SENDING, REQUEST_TAG, RUN_DIED
from st_sandbox.server import SandboxServer
from tests.writeback.conftest import Harness, dump
from tests.writeback.test_redrive import _create_job_payload

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SLOW_WRITE_MS = 3000


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _slow_writes(server: SandboxServer) -> int:
    stats = httpx.get(f"{server.base_url}/_sandbox/stats").json()
    return int(stats["faults"]["injected"].get("slow", 0))


def _run_started(instance: dg.DagsterInstance, request_id: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_TAG: request_id}))
    return any(r.status == dg.DagsterRunStatus.STARTED for r in runs)


@contextmanager
def _queue_locked(url: str) -> Iterator[None]:
    """Hold the queue's write lock, as ``WriteQueue`` takes it: reads go on, and the run
    blocks at its next queue write (its claim, its body, its outcome)."""
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("LOCK TABLE writeback_requests IN EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()


def _jobs_named(server: SandboxServer, summary: str) -> int:
    return len([j for j in dump(server, "jobs") if j.get("summary") == summary])


@pytest.mark.parametrize("moment", ["before", "during", "after"])
def test_a_killed_run_is_redriven_and_writes_once(
    moment: str,
    server: SandboxServer,
    pg_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ST_WRITEBACK_REDRIVE_SECONDS", "0")
    queue_url = pg_database
    summary = f"killed {moment}"
    request = (
        WriteQueue(queue_url)
        .submit("create_job", _create_job_payload(server, summary), requested_by="alice")
        .request
    )
    httpx.post(
        f"{server.base_url}/_sandbox/faults",
        json={
            "slowMs": SLOW_WRITE_MS,
            "targeted": [{"route": "/jobs", "method": "POST", "status": "slow", "times": 1}],
        },
    ).raise_for_status()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.writeback.kill_child", server.base_url]
    child = subprocess.Popen(
        [*command, queue_url, request.id, str(tmp_path)],
        cwd=ROOT,
        env=env,
    )
    try:
        _kill_at(moment, child, server, queue_url, request.id, summary)
    finally:
        child.kill()
        child.wait()
    assert _jobs_named(server, summary) <= 1
    # The CLI reads why from the instance of DAGSTER_HOME.
    assert cli.main(["--db-url", queue_url, "list", "--stuck"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    reason = FAILED_BEFORE_SENDING if moment == "before" else RUN_DIED
    assert line.startswith(request.id) and f": {reason} (run " in line

    with dg.DagsterInstance.get() as instance:
        harness = Harness(server, queue_url, instance, tmp_path)
        [redrive] = harness.tick("writeback_redrive").run_requests or []
        assert redrive.run_key == f"{request.id}:redrive:1"
        assert harness.execute(redrive).success
    done = WriteQueue(queue_url).get(request.id)
    assert done.status == "succeeded"
    assert _jobs_named(server, summary) == 1
    assert len(WriteQueue(queue_url).audit(request.id)) == done.attempts == 1


def _kill_at(
    moment: str,
    child: subprocess.Popen[Any],
    server: SandboxServer,
    queue_url: str,
    request_id: str,
    summary: str,
) -> None:
    """SIGKILL the run's process at ``moment`` of its send."""
    queue = WriteQueue(queue_url)
    if moment == "before":  # the run started; its op blocks claiming the request
        with dg.DagsterInstance.get() as instance, _queue_locked(queue_url):
            _wait_for(lambda: _run_started(instance, request_id), "the run to start")
            time.sleep(1)
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert queue.get(request_id).status == "pending" and _slow_writes(server) == 0
        return
    _wait_for(lambda: _slow_writes(server) >= 1, "the write to reach the tenant")
    if moment == "during":  # the tenant holds the request
        child.send_signal(signal.SIGKILL)
        child.wait()
        return
    with _queue_locked(queue_url):  # the tenant wrote; the run blocks recording the outcome
        _wait_for(lambda: _jobs_named(server, summary) == 1, "the job to exist")
        time.sleep(0.5)
        child.send_signal(signal.SIGKILL)
        child.wait()
