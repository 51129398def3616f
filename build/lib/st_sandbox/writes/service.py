"""``WriteService``: the one way both API surfaces and the activity engine write."""

from __future__ import annotations

from st_sandbox.store import Record, TenantStore
from st_sandbox.writes import invoices, jobs
from st_sandbox.writes.bodies import CreateJobBody, DispatchBody, InvoiceBody


class WriteService:
    """Applies writes to the store under its lock and records events."""

    def __init__(self, store: TenantStore) -> None:
        self.store = store

    def create_job(self, body: CreateJobBody) -> Record:
        """``POST /jobs``: the new job with its ``appointments``."""
        return jobs.create_job(self.store, body)

    def dispatch(self, job_id: int, body: DispatchBody, if_match: str | None) -> Record:
        """``PATCH /jobs/{id}/dispatch``: the appointment as it stands after."""
        return jobs.dispatch(self.store, job_id, body, if_match)

    def create_invoice(self, job_id: int, body: InvoiceBody) -> Record:
        """``POST /jobs/{id}/invoices``: the new invoice."""
        return invoices.create_invoice(self.store, job_id, body)
