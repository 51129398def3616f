"""What changed in the tenant, as webhook events (the ``notify_events`` sensor's side).

The jobs, appointments and payments modified since a point in time (less an overlap,
for records committed late with an earlier ``modifiedOn``) are read through the
``Backend`` interface, so both backends work alike. Each job's and appointment's status
is compared with the last one seen (``notify_state``); a payment's applications to
invoices are compared with those already seen.

- A job moving to Dispatched / InProgress / Completed / Canceled is ``job.dispatched`` /
  ``job.working`` / ``job.done`` / ``job.canceled``.
- An appointment moving to Dispatched / Working / Done (the technicians en route, arrived,
  finished) is ``job.dispatched`` / ``job.working`` / ``job.done`` of its job. A dispatch
  usually moves both the appointment and its job: changes of one job to one type read
  together are one event, carrying the job and its appointments.
- A new application of a payment to an invoice is ``invoice.paid``.

An event's id is a hash of what caused it, so the same change read twice is one event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from st_contract.entities import SPECS_BY_NAME
from st_contract.models import Appointment, Job, Payment
from st_resources.backend import Backend
from st_resources.notify.records import Event
from st_resources.reads import api_timestamp

OVERLAP = timedelta(minutes=2)
JOB_EVENTS = {
    "Dispatched": "job.dispatched",
    "InProgress": "job.working",
    "Completed": "job.done",
    "Canceled": "job.canceled",
}
APPOINTMENT_EVENTS = {"Dispatched": "job.dispatched", "Working": "job.working", "Done": "job.done"}
PAID = "1"  # the state value of a payment application already seen

Previous = Callable[[str, list[str]], dict[str, str]]
"""The states last seen of some keys of an entity (``NotifyStore.state``)."""


@dataclass
class Detection:
    """The statuses read (to store), the events they make, and the newest ``modifiedOn``."""

    seen: list[tuple[str, str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    high_water: datetime | None = None

    def saw(self, entity: str, key: str, value: str, modified_on: datetime) -> None:
        """Note one record's state and advance the high-water mark."""
        self.seen.append((entity, key, value))
        if self.high_water is None or modified_on > self.high_water:
            self.high_water = modified_on


@dataclass
class _Tenant:
    jobs: list[Job]
    appointments: list[Appointment]
    payments: list[Payment]


def _read(backend: Backend, since: datetime | None) -> _Tenant:
    filters = {"modifiedOnOrAfter": api_timestamp(since - OVERLAP)} if since else None

    def records(name: str) -> Iterator[dict[str, Any]]:
        return backend.iter_records(SPECS_BY_NAME[name], filters)

    return _Tenant(
        [Job.model_validate(r) for r in records("jobs")],
        [Appointment.model_validate(r) for r in records("appointments")],
        [Payment.model_validate(r) for r in records("payments")],
    )


def _status(value: object) -> str:
    return str(getattr(value, "value", value))


def _applications(payment: Payment) -> Iterator[str]:
    for applied in payment.applied_to:
        yield f"{payment.id}:{applied.applied_id}"


def baseline(backend: Backend) -> Detection:
    """Every job's and appointment's status and every payment application, without
    events: the first tick's starting point (no flood of history)."""
    tenant = _read(backend, None)
    found = Detection()
    for job in tenant.jobs:
        found.saw("jobs", str(job.id), _status(job.job_status), job.modified_on)
    for appt in tenant.appointments:
        found.saw("appointments", str(appt.id), _status(appt.status), appt.modified_on)
    for payment in tenant.payments:
        for key in _applications(payment):
            found.saw("payments", key, PAID, payment.modified_on)
    return found


def detect(
    backend: Backend,
    previous: Previous,
    since: datetime,
    tenant_id: str | None,
) -> Detection:
    """The changes since ``since`` as events; ``previous(entity, keys)`` gives the states
    last seen (``NotifyStore.state``)."""
    tenant = _read(backend, since)
    found = Detection()
    jobs_before = previous("jobs", [str(j.id) for j in tenant.jobs])
    appts_before = previous("appointments", [str(a.id) for a in tenant.appointments])
    groups: dict[tuple[int, str], _Group] = {}
    for job in tenant.jobs:
        now, before = _status(job.job_status), jobs_before.get(str(job.id))
        found.saw("jobs", str(job.id), now, job.modified_on)
        if now != before and now in JOB_EVENTS:
            group = groups.setdefault((job.id, JOB_EVENTS[now]), _Group(job.id, JOB_EVENTS[now]))
            group.job = _job_data(job, before)
            group.stamps.append(("job", job.id, job.modified_on))
    for appt in tenant.appointments:
        now, before = _status(appt.status), appts_before.get(str(appt.id))
        found.saw("appointments", str(appt.id), now, appt.modified_on)
        if now != before and now in APPOINTMENT_EVENTS:
            kind = APPOINTMENT_EVENTS[now]
            group = groups.setdefault((appt.job_id, kind), _Group(appt.job_id, kind))
            group.appointments.append(_appointment_data(appt, before))
            group.stamps.append(("appointment", appt.id, appt.modified_on))
    found.events = [g.event(tenant_id) for g in groups.values()]
    found.events += _payment_events(tenant.payments, previous, found, tenant_id)
    return found


def _payment_events(
    payments: list[Payment], previous: Previous, found: Detection, tenant_id: str | None
) -> list[Event]:
    keys = [k for p in payments for k in _applications(p)]
    before = previous("payments", keys)
    events = []
    for payment in payments:
        for applied in payment.applied_to:
            key = f"{payment.id}:{applied.applied_id}"
            found.saw("payments", key, PAID, payment.modified_on)
            if key in before:
                continue
            data = {
                "invoiceId": applied.applied_to,
                "paymentId": payment.id,
                "appliedId": applied.applied_id,
                "appliedAmount": str(applied.applied_amount),
                "appliedOn": _ts(applied.applied_on),
                "paymentTotal": str(payment.total),
                "paymentType": _status(payment.type) if payment.type else None,
                "customerId": payment.customer.id,
            }
            at = applied.applied_on or payment.modified_on
            events.append(make_event("invoice.paid", f"payment:{key}", at, tenant_id, data))
    return events


@dataclass
class _Group:
    """The changes of one job to one event type, read together."""

    job_id: int
    type: str
    job: dict[str, Any] | None = None
    appointments: list[dict[str, Any]] = field(default_factory=list)
    stamps: list[tuple[str, int, datetime]] = field(default_factory=list)

    def event(self, tenant_id: str | None) -> Event:
        cause = ",".join(sorted(f"{e}:{i}:{api_timestamp(t)}" for e, i, t in self.stamps))
        at = max(t for _, _, t in self.stamps)
        data = {"jobId": self.job_id, "job": self.job, "appointments": self.appointments}
        return make_event(self.type, f"job:{self.job_id}|{cause}", at, tenant_id, data)


def _ts(value: datetime | None) -> str | None:
    return api_timestamp(value) if value else None


def _job_data(job: Job, before: str | None) -> dict[str, Any]:
    return {
        "id": job.id,
        "jobNumber": job.job_number,
        "status": _status(job.job_status),
        "previousStatus": before,
        "customerId": job.customer_id,
        "locationId": job.location_id,
        "businessUnitId": job.business_unit_id,
        "jobTypeId": job.job_type_id,
        "completedOn": _ts(job.completed_on),
        "invoiceId": job.invoice_id,
        "modifiedOn": _ts(job.modified_on),
    }


def _appointment_data(appt: Appointment, before: str | None) -> dict[str, Any]:
    return {
        "id": appt.id,
        "appointmentNumber": appt.appointment_number,
        "status": _status(appt.status),
        "previousStatus": before,
        "start": _ts(appt.start),
        "end": _ts(appt.end),
        "arrivedOn": _ts(appt.arrived_on),
        "technicianIds": sorted(a.technician_id for a in appt.assignments if a.active),
        "modifiedOn": _ts(appt.modified_on),
    }


def make_event(
    kind: str, cause: str, occurred_at: datetime, tenant_id: str | None, data: dict[str, Any]
) -> Event:
    """An event whose id hashes its type and ``cause``, with its exact JSON body."""
    event_id = "evt_" + hashlib.sha256(f"{kind}|{cause}".encode()).hexdigest()[:32]
    body = {
        "id": event_id,
        "type": kind,
        "occurredAt": api_timestamp(occurred_at),
        "tenantId": tenant_id,
        "data": data,
    }
    return Event(event_id, kind, occurred_at, json.dumps(body, separators=(",", ":")))
