"""Submit-time checks against the tenant (reads only), before anything is stored:

- what the backend cannot send at all is refused first, from its declared
  ``Capabilities`` (no read needed), with what to do instead;
- a request for a job that does not exist, or an invoice for a job that is not
  completed, is refused with a message that says what to fix;
- an invoice must fit what the backend's invoice write does: a backend that creates the
  job's invoice needs a job without one, a backend that adds items to the invoice the
  tenant created with the job (the official v2 API) needs a job with one.
"""

from __future__ import annotations

from collections.abc import Callable

from st_contract.entities import ENTITIES_BY_NAME
from st_contract.models import Job
from st_resources.backend import Backend
from st_resources.errors import NotFoundError
from st_resources.writeback.payloads import (
    DispatchPayload,
    InvoicePayload,
    Payload,
    PayloadError,
)

JOBS = ENTITIES_BY_NAME["jobs"]


def read_job(backend: Backend, job_id: int) -> Job:
    """The job as the tenant has it now; ``PayloadError`` if there is none."""
    try:
        return Job.model_validate(backend.get_record(JOBS, job_id))
    except NotFoundError:
        raise PayloadError(
            f"job {job_id} does not exist in the tenant (or the API user cannot see it); "
            "check the job id"
        ) from None


def capability_check(backend: Backend, kind: str, payload: Payload) -> None:
    """Refuse what ``backend`` declares it cannot send (no call is made)."""
    refusal = backend.capabilities.refusal(kind, payload.set_fields())
    if refusal is not None:
        raise PayloadError(refusal)


def tenant_check(backend: Backend) -> Callable[[str, Payload], None]:
    """A ``check`` for ``WriteQueue.submit`` that reads the tenant through ``backend``."""

    def check(kind: str, payload: Payload) -> None:
        capability_check(backend, kind, payload)
        if isinstance(payload, DispatchPayload | InvoicePayload):
            job = read_job(backend, payload.job_id)
            if isinstance(payload, InvoicePayload):
                _invoice_check(backend, job)

    return check


def _invoice_check(backend: Backend, job: Job) -> None:
    if job.job_status != "Completed":
        raise PayloadError(
            f"job {job.id} is {job.job_status}; only Completed jobs can be invoiced: "
            "complete its appointments first"
        )
    adds_items = backend.capabilities.invoices == "add_items"
    if adds_items and job.invoice_id is None:
        raise PayloadError(
            f"job {job.id} has no invoice, and the {backend.name} backend cannot create one "
            "(it adds items to the invoice ServiceTitan creates with the job): create it in "
            "ServiceTitan first"
        )
    if not adds_items and job.invoice_id is not None:
        raise PayloadError(
            f"job {job.id} already has invoice {job.invoice_id}; adjust that invoice instead "
            "of creating another"
        )
