"""The write jobs (one per request kind, one op each) and the auto-invoice job."""

from __future__ import annotations

import dagster as dg

from st_assets.defs.writeback.ops import build_write_op, submit_auto_invoices
from st_resources.writeback.payloads import KINDS


def job_name(kind: str) -> str:
    """The write job of a request kind."""
    return f"writeback_{kind}"


def build_write_job(kind: str) -> dg.JobDefinition:
    """The job that sends one queued request of ``kind`` per run."""
    send = build_write_op(kind)

    @dg.job(
        name=job_name(kind),
        tags={"writeback/kind": kind},
        description=f"Send one queued `{kind}` write request (launched by `writeback_requests`).",
    )
    def write_job() -> None:
        send()

    return write_job


WRITE_JOBS = {kind: build_write_job(kind) for kind in KINDS}
"""The write job of each request kind (the sensor launches them by kind)."""

# A list, not only the dict: the defs loader collects definitions (and lists of them) found
# at module level, never the values of a dict.
write_jobs = list(WRITE_JOBS.values())


@dg.job(description="Queue invoice requests for completed jobs with a sold estimate.")
def auto_invoice() -> None:
    """Queue invoice requests for completed jobs with a sold estimate."""
    submit_auto_invoices()
