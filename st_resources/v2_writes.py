"""Writes on the official v2 API: look before you write.

v2 has no idempotency keys, so each write first reads what is there and sends only what
is missing: a retried or re-executed write finds its effect in place and sends nothing.
A dispatch is an un-cancel, a reschedule, assign/unassign calls and a status move (hold,
take off hold, cancel), in that order; when a later call is refused the earlier ones
are undone, so a refused dispatch changes nothing. Booking a job is in
``v2_writes_jobs``, invoices and payments' status in ``v2_writes_invoices``.

Status moves v2 has: to Hold (``PUT appointments/{id}/hold``), Hold to Scheduled
(``DELETE appointments/{id}/hold``), to Canceled (``PUT jobs/{id}/cancel``: the whole
job) and Canceled to Scheduled (``PUT jobs/{id}/remove-cancellation``). Dispatched,
Working and Done have none: technicians move appointments there in the mobile app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from st_contract.models import Appointment
from st_contract.v2_paths import (
    ASSIGN_TECHNICIANS,
    CANCEL_JOB,
    HOLD_APPOINTMENT,
    REMOVE_CANCELLATION,
    REMOVE_HOLD,
    RESCHEDULE,
    UNASSIGN_TECHNICIANS,
    V2Operation,
)
from st_resources.errors import (
    ApiValidationError,
    ConflictError,
    NotFoundError,
    UnsupportedOperation,
)
from st_resources.reads import parse_timestamp
from st_resources.transport import Call, Transport
from st_resources.v2_reads import V2Reader

DISPATCH_FIELDS = frozenset(
    {
        "appointmentId",
        "technicianIds",
        "start",
        "end",
        "arrivalWindowStart",
        "arrivalWindowEnd",
        "status",
        "reasonId",
        "memo",
    }
)
WINDOW_FIELDS = ("start", "end", "arrivalWindowStart", "arrivalWindowEnd")
HELD = ("Hold", "Canceled")
NO_STATUS_OPERATION = frozenset({"Dispatched", "Working", "Done"})


@dataclass(frozen=True)
class Written:
    """A write's record afterwards (session API shape) and how many calls changed it."""

    record: dict[str, Any]
    sent: int


# One write kind's writer: (the session API's body, the job's id, the write request's
# id) → the record after. ``V2Backend.send_write`` looks writers up by kind.
WriteFunction = Callable[[dict[str, Any], int | None, str], Written]


@dataclass(frozen=True)
class _Change:
    """One official write call."""

    operation: V2Operation
    url: str
    body: dict[str, Any] | None


def send(transport: Transport, change: _Change) -> None:
    """Send one official write call (never resent blindly: v2 has no keys)."""
    transport.request(Call(change.operation.method, change.url, json_body=change.body))


def send_all(transport: Transport, changes: list[tuple[_Change, _Change | None]]) -> int:
    """Send ``changes`` in order; when one is refused (409, 400) undo the ones sent, last
    first, so a refused write changes nothing. How many were sent."""
    done: list[_Change | None] = []
    try:
        for change, undo in changes:
            send(transport, change)
            done.append(undo)
    except (ConflictError, ApiValidationError):
        # v2 splits one write into several calls; a refusal of a later one must not
        # leave the earlier ones in place.
        for undo in reversed(done):
            if undo is not None:
                send(transport, undo)
        raise
    return len(done)


class V2Dispatcher:
    """Sends dispatches through the official operations."""

    def __init__(self, transport: Transport, reader: V2Reader) -> None:
        self.transport = transport
        self.reader = reader

    # --- dispatch -----------------------------------------------------------------------------

    def dispatch(self, body: dict[str, Any], job_id: int | None, request_id: str) -> Written:
        """Un-cancel, move the window (reschedule), set the technicians (assign/unassign)
        and move the status (hold, off hold, cancel) of a job's appointment; only what
        differs from the appointment as it stands is sent."""
        if job_id is None:
            raise ValueError("a dispatch needs the job's id")
        unknown = set(body) - DISPATCH_FIELDS
        if unknown:
            raise ApiValidationError(
                f"unknown dispatch fields: {sorted(unknown)}", code="validation_error"
            )
        appt = self._appointment_of(job_id, body.get("appointmentId"))
        moves = self._reschedule(appt, body) + self._assignments(appt, body)
        status = self._status(appt, body)
        if status and status[0][0].operation is REMOVE_CANCELLATION:
            if moves:
                raise UnsupportedOperation(
                    "a canceled job's appointment takes no other change with the "
                    "un-cancel: submit the dispatch with status Scheduled alone, then "
                    "one with the window and technicians",
                    code="unsupported",
                )
            changes = status
        else:
            changes = moves + status
        sent = send_all(self.transport, changes)
        record = self.reader.one("appointments", appt["id"])
        return Written(
            Appointment.model_validate(record).model_dump(mode="json", by_alias=True), sent
        )

    def _status(
        self, appt: dict[str, Any], body: dict[str, Any]
    ) -> list[tuple[_Change, _Change | None]]:
        """The official call that moves the appointment to the body's status (none when
        it is there already); it goes last, so it needs no undo."""
        current, target = appt["status"], body.get("status")
        if target in (None, current):
            return []
        tenant = self.reader.tenant_id
        reason = {"reasonId": body.get("reasonId"), "memo": body.get("memo") or ""}
        if target in NO_STATUS_OPERATION or (target == "Scheduled" and current not in HELD):
            raise UnsupportedOperation(
                f"the official v2 API has no operation to move an appointment from {current} "
                f"to {target} (technicians move appointments to Dispatched, Working and "
                "Done in the mobile app): drop the status, move it in ServiceTitan, or use "
                "the session API backend",
                code="unsupported",
            )
        if target in HELD and body.get("reasonId") is None:
            raise ApiValidationError(
                f"a move to {target} needs reason_id and memo on the official v2 API",
                code="validation_error",
            )
        if target == "Hold":
            url = HOLD_APPOINTMENT.url(tenant, id=appt["id"])
            return [(_Change(HOLD_APPOINTMENT, url, reason), None)]
        if target == "Canceled":
            url = CANCEL_JOB.url(tenant, id=appt["jobId"])
            return [(_Change(CANCEL_JOB, url, reason), None)]
        if current == "Hold":
            return [(_Change(REMOVE_HOLD, REMOVE_HOLD.url(tenant, id=appt["id"]), None), None)]
        url = REMOVE_CANCELLATION.url(tenant, id=appt["jobId"])
        return [(_Change(REMOVE_CANCELLATION, url, None), None)]

    def _appointment_of(self, job_id: int, appointment_id: int | None) -> dict[str, Any]:
        if appointment_id is None:
            appointment_id = self.reader.one("jobs", job_id)["lastAppointmentId"]
        appt = self.reader.one("appointments", int(appointment_id))
        if appt["jobId"] != job_id:
            raise NotFoundError(
                f"appointment {appointment_id} is not an appointment of job {job_id}",
                code="not_found",
                status=404,
            )
        return appt

    def _reschedule(
        self, appt: dict[str, Any], body: dict[str, Any]
    ) -> list[tuple[_Change, _Change | None]]:
        """The reschedule call when the window differs, with the call that restores it."""
        window = {k: body[k] for k in WINDOW_FIELDS if body.get(k)}
        if not any(
            appt.get(k) is None or parse_timestamp(str(v)) != parse_timestamp(str(appt[k]))
            for k, v in window.items()
        ):
            return []
        url = RESCHEDULE.url(self.reader.tenant_id, id=appt["id"])
        original = {k: appt[k] for k in WINDOW_FIELDS if appt.get(k)}
        move = _Change(RESCHEDULE, url, {"start": appt["start"], "end": appt["end"], **window})
        return [(move, _Change(RESCHEDULE, url, original))]

    def _assignments(
        self, appt: dict[str, Any], body: dict[str, Any]
    ) -> list[tuple[_Change, _Change | None]]:
        """Unassign the technicians not wanted, then assign the missing ones."""
        if body.get("technicianIds") is None:
            return []
        wanted = [int(t) for t in body["technicianIds"]]
        held = [a["technicianId"] for a in appt["assignments"] if a.get("active", True)]
        changes: list[tuple[_Change, _Change | None]] = []
        for operation, opposite, techs in (
            (UNASSIGN_TECHNICIANS, ASSIGN_TECHNICIANS, [t for t in held if t not in wanted]),
            (ASSIGN_TECHNICIANS, UNASSIGN_TECHNICIANS, [t for t in wanted if t not in held]),
        ):
            if techs:
                change = {"jobAppointmentId": appt["id"], "technicianIds": techs}
                tenant = self.reader.tenant_id
                changes.append(
                    (
                        _Change(operation, operation.url(tenant), change),
                        _Change(opposite, opposite.url(tenant), change),
                    )
                )
        return changes
