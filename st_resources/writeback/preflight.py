"""Submit-time checks against the tenant (reads only): a request for a job that does not
exist, or an invoice for a job that is not completed or already invoiced, is refused
before it is stored, with a message that says what to fix.

On the official v2 API an invoice request adds items to the job's existing invoice, so
there the check inverts: the job must have an invoice, and what v2 cannot do (payments,
discounts, tax zone, summary) is refused up front."""

from __future__ import annotations

from collections.abc import Callable

from st_contract.models import Job
from st_resources.client import ServiceTitanClient
from st_resources.errors import NotFoundError
from st_resources.v2 import ServiceTitanV2Client
from st_resources.writeback.payloads import (
    DispatchPayload,
    InvoicePayload,
    Payload,
    PayloadError,
)


def read_job(client: ServiceTitanClient, job_id: int) -> Job:
    """The job as the tenant has it now; ``PayloadError`` if there is none."""
    try:
        return Job.model_validate(client.get_json(f"/jobs/{job_id}"))
    except NotFoundError:
        raise PayloadError(
            f"job {job_id} does not exist in the tenant (or the API user cannot see it); "
            "check the job id"
        ) from None


def tenant_check(client: ServiceTitanClient) -> Callable[[str, Payload], None]:
    """A ``check`` for ``WriteQueue.submit`` that reads the tenant through ``client``."""

    def check(kind: str, payload: Payload) -> None:
        if isinstance(client, ServiceTitanV2Client):
            _v2_operation_check(kind, payload)
        if isinstance(payload, DispatchPayload | InvoicePayload):
            job = read_job(client, payload.job_id)
            if isinstance(payload, InvoicePayload):
                if job.job_status != "Completed":
                    raise PayloadError(
                        f"job {job.id} is {job.job_status}; only Completed jobs can be "
                        "invoiced: complete its appointments first"
                    )
                if isinstance(client, ServiceTitanV2Client):
                    _v2_invoice_check(job, payload)
                elif job.invoice_id is not None:
                    raise PayloadError(
                        f"job {job.id} already has invoice {job.invoice_id}; adjust that "
                        "invoice instead of creating another"
                    )

    return check


def _v2_operation_check(kind: str, payload: Payload) -> None:
    """Refuse up front what the official v2 API has no operation for."""
    if kind == "create_job":
        raise PayloadError(
            "the official v2 API has no operation for booking a job here: book it in "
            "ServiceTitan, or use the session API backend"
        )
    if isinstance(payload, DispatchPayload) and payload.status is not None:
        raise PayloadError(
            "the official v2 API cannot move an appointment's status: drop the status (the "
            "dispatch then sets technicians and window) or use the session API backend"
        )


def _v2_invoice_check(job: Job, payload: InvoicePayload) -> None:
    """What the v2 backend's invoice write needs: an invoice to add items to, items only."""
    extras = [
        name
        for name, value in (
            ("payment", payload.payment),
            ("discounts", payload.discounts),
            ("tax zone", payload.tax_zone_id),
            ("summary", payload.summary),
        )
        if value
    ]
    if extras:
        raise PayloadError(
            f"the official v2 API only adds items to a job's invoice; drop the {', '.join(extras)} "
            "(take payments and discounts in ServiceTitan) or use the session API backend"
        )
    if job.invoice_id is None:
        raise PayloadError(
            f"job {job.id} has no invoice, and the official v2 API cannot create one (it adds "
            "items to the invoice ServiceTitan creates with the job): create it in "
            "ServiceTitan first"
        )
