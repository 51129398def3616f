"""``WriteService``: the one way both API surfaces and the activity engine write."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from st_sandbox.store import Record, TenantStore
from st_sandbox.writes import holds, invoices, jobs
from st_sandbox.writes.bodies import CreateJobBody, DispatchBody, InvoiceBody, Window

# A test harness's hook: called with the write's name and the caller's (host, port)
# after a write is applied and before it is answered (the chaos test kills the client
# there, so a crash lands between the API's answer and the client's record).
AnsweringHook = Callable[[str, tuple[str, int] | None], None]


class WriteService:
    """Applies writes to the store under its lock and records events."""

    def __init__(self, store: TenantStore) -> None:
        self.store = store
        self.before_answer: AnsweringHook | None = None
        # The application guid of the official ``externalData`` stored on a record
        # (entity, id): lists filter on it, as the official API does.
        self.external_guids: dict[tuple[str, int], str] = {}

    def answering(self, write: str, client: tuple[str, int] | None) -> None:
        """Run the harness's hook, if any, before a write's answer goes out."""
        if self.before_answer is not None:
            self.before_answer(write, client)

    def create_job(
        self,
        body: CreateJobBody,
        more: Sequence[tuple[Window, list[int]]] = (),
        external: tuple[str, list[Record]] | None = None,
        with_invoice: bool = False,
    ) -> Record:
        """``POST /jobs``: the new job with its ``appointments``; ``external`` is the
        official (application guid, ``externalData`` items) of the job; ``with_invoice``
        opens its empty invoice, as the official API does for the jobs it books."""
        with self.store.lock:
            items = external[1] if external is not None else None
            job = jobs.create_job(self.store, body, more, items)
            if external is not None:
                self.external_guids[("jobs", job["id"])] = external[0]
            if with_invoice:
                invoices.open_invoice(self.store, job["id"])
                appointments = job["appointments"]
                job = {**(self.store.get("jobs", job["id"]) or job), "appointments": appointments}
            return job

    def dispatch(self, job_id: int, body: DispatchBody, if_match: str | None) -> Record:
        """``PATCH /jobs/{id}/dispatch``: the appointment as it stands after."""
        return jobs.dispatch(self.store, job_id, body, if_match)

    def create_invoice(self, job_id: int, body: InvoiceBody) -> Record:
        """``POST /jobs/{id}/invoices``: the new invoice."""
        return invoices.create_invoice(self.store, job_id, body)

    def hold(self, appointment_id: int, reason_id: int, memo: str) -> Record:
        """Official ``PUT appointments/{id}/hold``: the appointment after."""
        return holds.hold_appointment(self.store, appointment_id, reason_id, memo)

    def remove_hold(self, appointment_id: int) -> Record:
        """Official ``DELETE appointments/{id}/hold``: the appointment after."""
        return holds.remove_hold(self.store, appointment_id)

    def cancel_job(self, job_id: int, reason_id: int, memo: str) -> Record:
        """Official ``PUT jobs/{id}/cancel``: the job after."""
        return holds.cancel_job(self.store, job_id, reason_id, memo)

    def remove_cancellation(self, job_id: int) -> Record:
        """Official ``PUT jobs/{id}/remove-cancellation``: the job after."""
        return holds.remove_cancellation(self.store, job_id)

    def payment_status(self, payment_ids: list[int], status: str) -> None:
        """Official ``POST payments/status``: the payments' export status."""
        holds.set_payment_status(self.store, payment_ids, status)
