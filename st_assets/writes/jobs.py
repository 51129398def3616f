"""The write jobs: one per request kind, one op each, executed in the run's own process."""

from __future__ import annotations

import dagster as dg

from st_assets.writes.ops import build_write_op
from st_resources.writeback.payloads import KINDS


def job_name(kind: str) -> str:
    """The write job of a request kind."""
    return f"writeback_{kind}"


def build_write_job(kind: str) -> dg.JobDefinition:
    """The job that sends a batch of queued ``kind`` requests per run.

    In-process executor: the job has one op, so the default multiprocess executor would
    only add a second process (and a second load of the location) before each write.
    """
    send = build_write_op(kind)

    @dg.job(
        name=job_name(kind),
        tags={"writeback/kind": kind},
        executor_def=dg.in_process_executor,
        description=f"Send queued `{kind}` write requests (launched by `writeback_requests`).",
    )
    def write_job() -> None:
        send()

    return write_job


WRITE_JOBS = {kind: build_write_job(kind) for kind in KINDS}
"""The write job of each request kind (the sensors launch them by kind)."""

write_jobs = list(WRITE_JOBS.values())
