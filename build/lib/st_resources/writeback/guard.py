"""The dispatch guard: refuse an overlap we can already see before sending, and pick a
technician when a request asks for "any".

Where it reads from, and why:
- Bookings come from the queue itself (the dispatches we sent or are sending). They are
  the overlaps a burst of requests creates, and the queue knows them the moment they are
  sent, while the warehouse only learns them at the next ingest. The rest of the
  tenant's schedule (dispatchers in ServiceTitan's own UI) is left to the server, whose
  409 ``double_booking`` decides in every case: the guard only saves a doomed call.
- The job, its job type and the technicians come from the API through the backend:
  they are a few small reads, and a stale business unit or skill would pick the wrong
  person, so they must be current, which the warehouse is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from st_contract.entities import ENTITIES_BY_NAME
from st_contract.models import JobType, Technician
from st_resources.backend import Backend
from st_resources.reads import parse_timestamp
from st_resources.writeback.payloads import DispatchPayload
from st_resources.writeback.preflight import read_job
from st_resources.writeback.queue import WriteQueue

INACTIVE_STATUSES = {"Done", "Canceled"}
RECENT_DISPATCHES = 5000


class GuardRefusal(Exception):
    """The guard refused a dispatch before sending; ``code`` and ``details`` say why."""

    def __init__(self, code: str, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Booking:
    """A technician's window as the queue knows it."""

    request_id: str
    job_id: int
    technician_id: int
    start: datetime
    end: datetime


def local_bookings(queue: WriteQueue, *, exclude: str) -> list[Booking]:
    """Technician windows of the dispatches sent or being sent, the newest per job."""
    seen_jobs: set[int] = set()
    out: list[Booking] = []
    for request_id, payload, body in queue.sent_dispatches(
        exclude=exclude, limit=RECENT_DISPATCHES
    ):
        job_id = int(payload["job_id"])
        if job_id in seen_jobs:
            continue  # a newer dispatch of the job replaced this one
        seen_jobs.add(job_id)
        if body.get("status") in INACTIVE_STATUSES or "start" not in body:
            continue
        start, end = parse_timestamp(body["start"]), parse_timestamp(body["end"])
        out += [
            Booking(request_id, job_id, int(t), start, end) for t in body.get("technicianIds", [])
        ]
    return out


def overlapping(
    bookings: list[Booking], technician_id: int, start: datetime, end: datetime, job_id: int
) -> Booking | None:
    """The first booking of ``technician_id`` overlapping ``[start, end)`` on another job."""
    for b in bookings:
        other_job = b.technician_id == technician_id and b.job_id != job_id
        if other_job and start < b.end and b.start < end:
            return b
    return None


def candidate_technicians(backend: Backend, job_id: int) -> list[Technician]:
    """Active technicians of the job's business unit with its job type's skill, by id."""
    job = read_job(backend, job_id)
    job_type = JobType.model_validate(
        backend.get_record(ENTITIES_BY_NAME["job_types"], job.job_type_id)
    )
    needed = set(job_type.skills)
    filters = {"businessUnitId": str(job.business_unit_id), "active": "true"}
    techs = [
        Technician.model_validate(r)
        for r in backend.iter_records(ENTITIES_BY_NAME["technicians"], filters)
    ]
    return sorted(
        (
            t
            for t in techs
            # Filtered here too: a backend may not filter (v2 lists include inactive ones).
            if t.active
            and t.business_unit_id == job.business_unit_id
            and needed <= {s.name for s in t.skills}
        ),
        key=lambda t: t.id,
    )


def guard_dispatch(
    queue: WriteQueue, backend: Backend, request_id: str, payload: DispatchPayload
) -> DispatchPayload:
    """The payload to send: "any" resolved, and no overlap visible in the queue.

    Raises ``GuardRefusal`` (code ``double_booking`` or ``no_technician_available``).
    """
    if payload.start is None or payload.end is None or payload.status in INACTIVE_STATUSES:
        return payload  # no new window to check; the server still checks the old one
    bookings = local_bookings(queue, exclude=request_id)
    start, end = payload.start, payload.end
    if payload.wants_any_technician:
        candidates = candidate_technicians(backend, payload.job_id)
        for tech in candidates:
            if overlapping(bookings, tech.id, start, end, payload.job_id) is None:
                return payload.with_technicians([tech.id])
        raise GuardRefusal(
            "no_technician_available",
            f"no technician of job {payload.job_id}'s business unit with its skill is free "
            f"from {start.isoformat()} to {end.isoformat()} ({len(candidates)} checked)",
            {"jobId": payload.job_id, "checked": [t.id for t in candidates]},
        )
    for tech_id in payload.technician_ids or []:
        assert isinstance(tech_id, int)
        clash = overlapping(bookings, tech_id, start, end, payload.job_id)
        if clash is not None:
            raise GuardRefusal(
                "double_booking",
                f"technician {tech_id} is already dispatched to job {clash.job_id} from "
                f"{clash.start.isoformat()} to {clash.end.isoformat()} (write request "
                f"{clash.request_id}); pick another technician or window",
                {
                    "technicianId": tech_id,
                    "conflictingJobId": clash.job_id,
                    "conflictingRequestId": clash.request_id,
                    "checkedBy": "guard",
                },
            )
    return payload
