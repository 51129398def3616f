"""100 write requests at once under a real Dagster daemon, with write-run processes
SIGKILLed at random while ``dbt parse`` rewrites its outputs (issue #18).

    python -m tests.writeback.chaos --backend session --queue sqlite [--kills 6]

``dagster-daemon run -w workspace.yaml`` (both locations, the default run launcher, the
local instance of ``make dev``) runs in its own process group; the requests are 50 job
creations (each with a summary of its own, so the tenant's dump shows how often each was
written) and 50 dispatches, 25 of which want a technician another one already holds. A
thread SIGKILLs a random live run process of the ``writeback`` location every few seconds;
the reconciler re-drives what they left. On v2, where bookings have no idempotency key,
the sandbox also SIGKILLs the client of the first booking after the job is stored
and before the answer goes out (``AnswerKiller``): the re-driven run must find the job
by its ``externalData`` instead of booking it twice. The result is what the test
asserts and what the command prints.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import psutil

from st_resources.writeback.queue import TERMINAL, WriteQueue
from st_resources.writeback.stuck import redrives
from st_sandbox.cli import outbox_code_command
from st_sandbox.daemon import ROOT, DaemonProcess, wait_until
from st_sandbox.demo import sandbox_env
from st_sandbox.server import SandboxServer
from tests.writeback.conftest import create_jobs, dump, future_slot

REDRIVE_SECONDS = 10
DRAIN_TIMEOUT = 900.0  # a hang guard only
WRITE_LOCATION = "st_assets.writes.definitions"
LOAD_ERRORS = ("manifest", "ComponentTreeException", "DagsterUserCodeLoadError")


@dataclass
class Chaos:
    """What a chaos run found."""

    statuses: dict[str, int]
    seconds_to_empty: float
    kills: int
    redriven: int
    audit_rows: int
    attempts: int
    jobs_written: dict[str, int]  # summary → jobs with it in the tenant's dump
    created: dict[str, str]  # summary → status of its create_job request
    double_booked: list[int]
    runs: dict[str, int]
    load_failures: list[str]
    parses: int
    killed_after_answer: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The numbers worth printing."""
        written = Counter(self.jobs_written.values())
        return {
            "statuses": self.statuses,
            "seconds_to_empty": round(self.seconds_to_empty, 1),
            "kills": self.kills,
            "redriven_requests": self.redriven,
            "audit_rows": self.audit_rows,
            "attempts": self.attempts,
            "created_jobs_in_dump": {str(k): v for k, v in sorted(written.items())},
            "double_booked_technicians": self.double_booked,
            "runs": self.runs,
            "dbt_parses": self.parses,
            "killed_after_answer": self.killed_after_answer,
            "load_failures": self.load_failures,
        }


def daemon_env(server: SandboxServer, backend: str, queue_url: str, tmp: Path) -> dict[str, str]:
    """The deployment's environment: the tenant, the queue, a short re-drive delay. The
    session backend logs in as the dispatcher (SMS code from the sandbox's outbox): the
    demo user's TOTP code cannot be used twice in 30 s by concurrent run processes."""
    env = {
        **sandbox_env(server.base_url, backend),
        "ST_WRITEBACK_DB_URL": queue_url,
        "ST_WRITEBACK_REDRIVE_SECONDS": str(REDRIVE_SECONDS),
        "ST_WAREHOUSE_DIR": str(tmp / "warehouse"),
        "ST_RATE_LIMIT": "1000",
    }
    if backend == "session":
        env.update(
            ST_USERNAME="dispatcher",
            ST_PASSWORD="dispatch-password",
            ST_MFA_METHOD="sms",
            ST_MFA_CODE_COMMAND=outbox_code_command(server.base_url),
        )
        env.pop("ST_TOTP_SECRET", None)
    return env


class AnswerKiller:
    """A sandbox hook (``WriteService.before_answer``) that SIGKILLs the process behind
    the first ``limit`` booking requests once the job is stored, before the answer goes
    out: the crash between the API's answer and the request's record."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kills = 0

    def __call__(self, write: str, client: tuple[str, int] | None) -> None:
        if write != "create_job" or client is None or self.kills >= self.limit:
            return
        for conn in psutil.net_connections(kind="tcp"):
            local = conn.laddr
            if local and local.port == client[1] and conn.pid and conn.pid != os.getpid():
                os.kill(conn.pid, signal.SIGKILL)
                self.kills += 1
                return


def requests_for(server: SandboxServer, tag: str) -> list[tuple[str, dict[str, Any]]]:
    """50 job creations and 50 dispatches; dispatch ``i + 25`` overlaps dispatch ``i``
    for the same technician, so exactly one of each pair can be booked."""
    location = next(loc for loc in dump(server, "locations") if loc["active"])
    job_type = dump(server, "job_types")[0]
    campaign = dump(server, "marketing_campaigns")[0]["id"]
    techs = [t["id"] for t in dump(server, "technicians") if t["active"]][:5]
    wanted: list[tuple[str, dict[str, Any]]] = []
    for i in range(50):
        start, end = future_slot(120 + i % 7, 8)
        wanted.append(("create_job", {
            "customer_id": location["customerId"],
            "location_id": location["id"],
            "business_unit_id": job_type["businessUnitIds"][0],
            "job_type_id": job_type["id"],
            "campaign_id": campaign,
            "summary": f"chaos {tag} {i}",
            "start": start,
            "end": end,
        }))  # fmt: skip
    for i, job in enumerate(create_jobs(server, 50)):
        slot = i % 25
        start, end = future_slot(60 + slot // 5, 2 * (slot % 5) + (1 if i >= 25 else 0))
        payload = {"job_id": job["id"], "technician_ids": [techs[slot % 5]]}
        wanted.append(("dispatch", {**payload, "start": start, "end": end}))
    return wanted


class Background:
    """A loop in a thread until ``stop``: the killer, or ``dbt parse`` over and over."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.count = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.done.is_set():
            self.count += bool(self.step())

    def __enter__(self) -> Background:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=120)


def killer(daemon: DaemonProcess, limit: int) -> Any:
    """A step that SIGKILLs one random live write-run process, up to ``limit`` times."""
    state = {"kills": 0}

    def step() -> bool:
        time.sleep(random.uniform(1.0, 3.0))
        pids = daemon.run_workers(WRITE_LOCATION)
        if not pids or state["kills"] >= limit:
            return False
        try:
            os.kill(random.choice(pids), signal.SIGKILL)
        except ProcessLookupError:
            return False
        state["kills"] += 1
        return True

    return step


def dbt_parse() -> bool:
    """One ``dbt parse`` publishing the manifest, as ``make dbt-manifest`` does."""
    command = [sys.executable, "-m", "st_assets.defs.dbt.project"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
    return done.returncode == 0


def run_chaos(
    server: SandboxServer, backend: str, queue_url: str, tmp: Path, kills: int = 6
) -> Chaos:
    """Submit 100 requests at once under a daemon, kill write runs, wait for the queue."""
    queue = WriteQueue(queue_url)
    tag = uuid.uuid4().hex[:8]
    wanted = requests_for(server, tag)
    env = daemon_env(server, backend, queue_url, tmp)
    home = tmp / "dagster_home"
    # One kill is the proof; each one costs a re-drive delay (the batch's run dies).
    answers = AnswerKiller(1 if backend == "v2" else 0)
    server.tenant.writes.before_answer = answers
    with DaemonProcess(home, env) as daemon, Background(dbt_parse) as parses:
        started = time.time()
        ids = [queue.submit(k, p, requested_by="chaos").request.id for k, p in wanted]
        with Background(killer(daemon, kills)) as killed:
            wait_until(
                lambda: all(queue.get(i).terminal for i in ids), DRAIN_TIMEOUT, "the queue", 1.0
            )
        runs, load_failures = _runs(home, env)
    done = [queue.get(i) for i in ids]
    finished = max(r.finished_at.timestamp() for r in done if r.finished_at is not None)
    audit = [row for row in queue.audit() if row["request_id"] in set(ids)]
    created = {r.payload["summary"]: r.status for r in done if r.kind == "create_job"}
    in_dump = Counter(j.get("summary") for j in dump(server, "jobs"))
    return Chaos(
        statuses=dict(Counter(r.status for r in done)),
        seconds_to_empty=finished - started,
        kills=killed.count,
        redriven=len(redrives(queue, ids)),
        audit_rows=len(audit),
        attempts=sum(r.attempts for r in done),
        jobs_written={s: in_dump.get(s, 0) for s in created},
        created=created,
        double_booked=double_booked(server, [p for k, p in wanted if k == "dispatch"]),
        runs=runs,
        load_failures=load_failures,
        parses=parses.count,
        killed_after_answer=answers.kills,
        details={"terminal": all(r.status in TERMINAL for r in done), "ids": ids},
    )


def double_booked(server: SandboxServer, dispatches: list[dict[str, Any]]) -> list[int]:
    """Technicians holding two overlapping active appointments among these jobs."""
    jobs = {p["job_id"] for p in dispatches}
    windows: dict[int, list[tuple[str, str]]] = {}
    for a in dump(server, "appointments"):
        if a["jobId"] in jobs and a["active"] and a["status"] not in ("Done", "Canceled"):
            for s in a["assignments"]:
                if s["active"]:
                    windows.setdefault(s["technicianId"], []).append((a["start"], a["end"]))
    bad = []
    for tech, spans in windows.items():
        spans.sort()
        if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
            bad.append(tech)
    return bad


def _runs(home: Path, env: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """Runs by location and status, and the failures of runs that could not load."""
    os.environ["DAGSTER_HOME"] = str(home)
    counts: Counter[str] = Counter()
    failures = []
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs():
            where = "writeback" if run.job_name.startswith("writeback_") else "main"
            counts[f"{where} {run.status.value.lower()}"] += 1
            if run.status != dg.DagsterRunStatus.FAILURE:
                continue
            for entry in instance.all_logs(run.run_id):
                text = (entry.user_message or "") + str(entry.dagster_event or "")
                if any(mark in text for mark in LOAD_ERRORS):
                    failures.append(f"{run.job_name} {run.run_id}: {entry.user_message[:300]}")
                    break
    return dict(counts), failures


def main(argv: list[str] | None = None) -> int:
    """Run the chaos once against a fresh sandbox and print its numbers as JSON."""
    import tempfile

    from st_sandbox.config import SandboxConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["session", "v2"], default="session")
    parser.add_argument("--queue", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--kills", type=int, default=6)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="st-chaos-"))
    url = f"sqlite:///{tmp / 'queue.sqlite'}" if args.queue == "sqlite" else args.queue
    server = SandboxServer(SandboxConfig(seed=7, customers=300, rate_limit=0)).start()
    try:
        result = run_chaos(server, args.backend, url, tmp, kills=args.kills)
    finally:
        server.stop()
    print(json.dumps({"backend": args.backend, "queue": args.queue, **result.summary()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
