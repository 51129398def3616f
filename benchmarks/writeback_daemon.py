"""Write-back latency under a real Dagster daemon (scenario ``writeback_latency``).

``dagster-daemon run -w workspace.yaml`` (both code locations, the default run launcher,
the local instance of ``make dev``: ``st_sandbox.demo.LOCAL_INSTANCE_YAML``) in its own
process group, killed as a group at the end. After one warm-up request (the code servers
load, the dispatcher logs in once), it measures:

- single requests, one after another (a random pause between, so they meet the sensor
  loop at any point): submit → API answer recorded (``created_at`` → ``finished_at``);
- a burst submitted at once: the time until no request is pending or running, the
  outcomes, the audit rows and the runs that sent them.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg

from st_resources.writeback.queue import WriteQueue, WriteRequest
from st_sandbox.daemon import DaemonProcess, wait_until

SINGLE_REQUESTS = 10
WORKSPACE_ENV = "ST_BENCH_WRITEBACK_WORKSPACE"
WRITE_ONLY_WORKSPACE = """load_from:
  - python_module:
      module_name: st_assets.writes.definitions
      location_name: writeback
      working_directory: {root}
"""


def workspace(work: Path) -> Path | None:
    """The daemon's workspace: ``workspace.yaml`` (both locations, as deployed), or with
    ``ST_BENCH_WRITEBACK_WORKSPACE=writeback`` the write location alone (the write path
    without the main location's runs, e.g. the freshness sensor's ingest runs, sharing
    the machine)."""
    if os.environ.get(WORKSPACE_ENV, "full") != "writeback":
        return None
    from st_sandbox.daemon import ROOT

    path = work / "workspace-writeback.yaml"
    path.write_text(WRITE_ONLY_WORKSPACE.format(root=ROOT))
    return path


def singles_for(burst: int) -> int:
    """How many single requests to measure before a burst of ``burst`` (fewer for a small
    smoke run)."""
    return min(SINGLE_REQUESTS, max(3, burst // 10))


WARM_UP_TIMEOUT = 300.0
REQUEST_TIMEOUT = 120.0
BURST_TIMEOUT = 900.0


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _latency(request: WriteRequest) -> float:
    assert request.finished_at is not None
    return (request.finished_at - request.created_at).total_seconds()


def _one(queue: WriteQueue, kind: str, payload: dict[str, Any], timeout: float) -> WriteRequest:
    """Submit one request and wait for its outcome."""
    request_id = queue.submit(kind, payload, requested_by="benchmark").request.id
    wait_until(lambda: queue.get(request_id).terminal, timeout, f"request {request_id}", 0.05)
    return queue.get(request_id)


def _burst(queue: WriteQueue, wanted: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Submit ``wanted`` at once; wait until the queue is empty."""
    started = time.time()
    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(
            pool.map(
                lambda w: queue.submit(w[0], w[1], requested_by="benchmark").request.id, wanted
            )
        )
    wait_until(
        lambda: all(queue.get(i).terminal for i in ids), BURST_TIMEOUT, "the burst", poll=0.25
    )
    done = [queue.get(i) for i in ids]
    last = max(r.finished_at.timestamp() for r in done if r.finished_at is not None)
    statuses: dict[str, int] = {}
    for r in done:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    audit = [row for row in queue.audit() if row["request_id"] in set(ids)]
    latency = [_latency(r) for r in done]
    return {
        "requests": len(ids),
        "seconds_to_empty": last - started,
        "statuses": statuses,
        "audit_rows": len(audit),
        "attempts": sum(r.attempts for r in done),
        "latency_p50": quantile(latency, 0.5),
        "latency_max": max(latency),
    }


def _write_runs() -> dict[str, int]:
    """Runs of the write jobs in the instance of ``DAGSTER_HOME``, by status."""
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"writeback/kind": "dispatch"}))
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status.value] = counts.get(run.status.value, 0) + 1
    return counts


def measure(
    env: dict[str, str],
    home: Path,
    queue: WriteQueue,
    wanted: list[tuple[str, dict[str, Any]]],
    singles_count: int,
) -> dict[str, Any]:
    """A warm-up, ``singles_count`` single requests, then the rest at once, under a daemon."""
    with DaemonProcess(home, env, workspace=workspace(home.parent)):
        warm = _one(queue, *wanted[0], timeout=WARM_UP_TIMEOUT)
        singles = []
        for kind, payload in wanted[1 : 1 + singles_count]:
            time.sleep(random.uniform(0, 2))
            singles.append(_one(queue, kind, payload, REQUEST_TIMEOUT))
        burst = _burst(queue, wanted[1 + singles_count :])
        runs_before_exit = _write_runs()
    latency = [_latency(r) for r in singles]
    return {
        "warm_up": {"status": warm.status, "seconds": _latency(warm)},
        "single": {
            "count": len(latency),
            "p50": quantile(latency, 0.5),
            "p95": quantile(latency, 0.95),
            "max": max(latency),
            "mean": statistics.mean(latency),
            "statuses": sorted({r.status for r in singles}),
        },
        "burst": burst,
        "write_runs": runs_before_exit,
        "workspace": os.environ.get(WORKSPACE_ENV, "full"),
    }
