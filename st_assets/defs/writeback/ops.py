"""The auto-invoice op (the write ops are the ``writeback`` location, ``st_assets/writes``)."""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from st_assets.defs.names import API_POOL
from st_resources.resource import ServiceTitanResource
from st_resources.writeback.auto_invoice import uninvoiced_jobs
from st_resources.writeback.queue import WriteQueueResource

AUTOMATION_USER = "automation:auto_invoice"


class AutoInvoiceConfig(dg.Config):
    """How far back to look for completed jobs."""

    days_back: int = Field(default=7, ge=1, le=3660, description="Jobs modified in these days")


@dg.op(out=dg.Out(int, description="New invoice requests"), pool=API_POOL)
def submit_auto_invoices(
    context: dg.OpExecutionContext,
    config: AutoInvoiceConfig,
    servicetitan: ServiceTitanResource,
    writeback_queue: WriteQueueResource,
) -> dg.Output[int]:
    """Queue an invoice request for every completed, uninvoiced job with a sold estimate."""
    backend = servicetitan.get_backend()
    if not backend.capabilities.auto_invoice:
        # Billing from the sold estimate creates the job's invoice (the session API's
        # invoice write); the v2 backend only fills the invoice opened with the job.
        reason = (
            f"auto-invoice needs the session API backend; the {backend.name} backend queues nothing"
        )
        context.log.warning(reason)
        return dg.Output(0, metadata={"new_requests": 0, "skipped": reason})
    queue = writeback_queue.get_queue()
    since = datetime.now(UTC) - timedelta(days=config.days_back)
    new = existing = 0
    for payload in uninvoiced_jobs(backend, since):
        submitted = queue.submit("invoice", payload, requested_by=AUTOMATION_USER)
        existing += submitted.duplicate
        new += not submitted.duplicate
    context.log.info(f"auto-invoice: {new} new request(s), {existing} already queued")
    return dg.Output(new, metadata={"new_requests": new, "already_queued": existing})
