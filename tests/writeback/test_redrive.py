"""The reconciler ``writeback_redrive`` (issue #18) on real parts: the sandbox over HTTP,
a SQLite queue and a real Dagster instance. A request never given a run, one whose run
failed before the op, and one left ``running`` by a run that died after the API call are
each launched again and written exactly once; one with a live run is only reported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
import pytest

from st_assets.writes.sensors import run_request_for
from st_resources.writeback import cli
from st_resources.writeback.queue import WriteRequest
from st_resources.writeback.sender import prepare_body, send
from st_resources.writeback.stuck import (
    FAILED_BEFORE_SENDING,
    NO_RUN,
    RUN_DIED,
    redrives,
)
from st_sandbox.server import SandboxServer
from tests.writeback.conftest import Harness, create_jobs, dump, future_slot


def _create_run(
    harness: Harness,
    request: WriteRequest,
    *,
    failed: bool,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.NOT_STARTED,
) -> str:
    """A run of the request in the instance, as the first sensor would have made it
    (``status``); marked failed before any op ran when ``failed``."""
    run_request = run_request_for(request)
    assert run_request.job_name is not None
    job = harness.defs().resolve_job_def(run_request.job_name)
    run = harness.instance.create_run_for_job(
        job_def=job, run_config=run_request.run_config, tags=run_request.tags, status=status
    )
    if failed:
        harness.instance.report_run_failed(run)
    return run.run_id


def _request_ids(run: dg.RunRequest) -> list[str]:
    [op] = (run.run_config or {})["ops"].values()
    return list(op["config"]["request_ids"])


def _create_job_payload(server: SandboxServer, summary: str) -> dict[str, Any]:
    location = next(loc for loc in dump(server, "locations") if loc["active"])
    job_type = dump(server, "job_types")[0]
    start, end = future_slot(210, 9)
    return {
        "customer_id": location["customerId"],
        "location_id": location["id"],
        "business_unit_id": job_type["businessUnitIds"][0],
        "job_type_id": job_type["id"],
        "summary": summary,
        "start": start,
        "end": end,
    }


def test_stuck_requests_are_redriven_and_written_once(
    server: SandboxServer,
    sqlite_queue_url: str,
    harness_factory: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ST_WRITEBACK_REDRIVE_SECONDS", "0")
    harness = harness_factory(server, sqlite_queue_url, user="dispatcher")
    queue = harness.queue
    jobs = create_jobs(server, 4)
    tech = next(t["id"] for t in dump(server, "technicians") if t["active"])

    def dispatch(i: int) -> WriteRequest:
        start, end = future_slot(40, 2 * i + 1)
        payload = {"job_id": jobs[i]["id"], "technician_ids": [tech], "start": start, "end": end}
        return queue.submit("dispatch", payload, requested_by="alice").request

    never, failed_early, live, killed = dispatch(0), dispatch(1), dispatch(2), dispatch(3)
    summary = "redrive: booked once"
    died = queue.submit(
        "create_job", _create_job_payload(server, summary), requested_by="alice"
    ).request
    _create_run(harness, failed_early, failed=True)
    live_run = _create_run(harness, live, failed=False)  # NOT_STARTED: alive, only slow
    # Killed after the API call: claimed and sent, the outcome never recorded.
    claimed = queue.claim(died.id)
    backend = harness.api().get_backend()
    send(backend, claimed, prepare_body(queue, backend, claimed))
    _create_run(harness, claimed, failed=True)
    # SIGKILLed after its claim: the default launcher leaves the run STARTED, silent.
    queue.claim(killed.id)
    _create_run(harness, killed, failed=False, status=dg.DagsterRunStatus.STARTED)

    result = harness.tick("writeback_redrive")
    requests = result.run_requests or []
    # One run per kind, its requests by seq; the key names the first one's re-drive.
    assert [r.run_key for r in requests] == [f"{never.id}:redrive:1+2", f"{died.id}:redrive:1"]
    assert [_request_ids(r) for r in requests] == [
        [never.id, failed_early.id, killed.id],
        [died.id],
    ]
    assert [r.tags["writeback/redrive_reason"] for r in requests] == [
        ",".join(sorted({NO_RUN, FAILED_BEFORE_SENDING, RUN_DIED})),
        RUN_DIED,
    ]
    assert all(harness.execute(r).success for r in requests)

    for request in (never, failed_early, died, killed):
        assert queue.get(request.id).status == "succeeded"
        assert len(queue.audit(request.id)) == 1  # one row per attempt
    assert len([j for j in dump(server, "jobs") if j.get("summary") == summary]) == 1
    assert redrives(queue, [never.id, died.id, live.id]) == {never.id: 1, died.id: 1}

    # Only the request with a live run is left: reported, not launched again.
    again = harness.tick("writeback_redrive")
    assert again.run_requests == []
    assert again.skip_reason is not None and live.id in str(again.skip_reason)
    assert live_run in str(again.skip_reason)

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli.main(["--db-url", sqlite_queue_url, "list", "--stuck"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(live.id) and "no run information" in line


def test_a_recent_request_is_not_stuck(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Callable[..., Harness]
) -> None:
    harness = harness_factory(server, sqlite_queue_url)
    harness.queue.submit("dispatch", {"job_id": 1, "technician_ids": [1]}, requested_by="al")
    result = harness.tick("writeback_redrive")  # the default waits two minutes
    assert result.run_requests == [] and "no stuck" in str(result.skip_reason)
