"""The official status moves v2 has (``PUT/DELETE appointments/{id}/hold``,
``PUT jobs/{id}/cancel``, ``PUT jobs/{id}/remove-cancellation``) and payments' export
status (``POST payments/status``), over the same rules as the session API's dispatch: a
hold or a cancellation moves appointments through ``jobs.dispatch``; removing a
cancellation brings the job's canceled appointments back to Scheduled (without
technicians, as a cancellation left them).
"""

from __future__ import annotations

from st_sandbox.errors import ApiError
from st_sandbox.store import Record, TenantStore
from st_sandbox.writes.bodies import DispatchBody
from st_sandbox.writes.jobs import dispatch
from st_sandbox.writes.rules import job_or_404, sync_job_status

HOLD_REASONS = "jpm_job_hold_reasons"
CANCEL_REASONS = "jpm_job_cancel_reasons"
PAYMENT_STATUSES = ("Pending", "Posted", "Exported")


def _reason(store: TenantStore, table: str, reason_id: int) -> Record:
    """The active reason ``reason_id`` of ``table``, or a 400 naming the field."""
    reason = store.tables[table].records.get(reason_id)
    if reason is None or not reason.get("active", True):
        kind = "hold" if table == HOLD_REASONS else "cancel"
        raise ApiError(
            400,
            "validation_error",
            f"reasonId {reason_id} is not an active job {kind} reason",
            {"errors": [{"loc": ["reasonId"], "msg": f"unknown {kind} reason {reason_id}"}]},
        )
    return reason


def _appointment(store: TenantStore, appointment_id: int) -> Record:
    appt = store.get("appointments", appointment_id)
    if appt is None or not appt["active"]:
        raise ApiError(404, "not_found", f"appointment {appointment_id} does not exist")
    return appt


def hold_appointment(store: TenantStore, appointment_id: int, reason_id: int, memo: str) -> Record:
    """Put a Scheduled or Dispatched appointment on hold (409 from any other status)."""
    with store.lock:
        appt = _appointment(store, appointment_id)
        reason = _reason(store, HOLD_REASONS, reason_id)
        body = DispatchBody(appointmentId=appointment_id, status="Hold")
        result = dispatch(store, appt["jobId"], body, None)
        store.emit(
            "appointment.held",
            "appointments",
            appointment_id,
            {"reasonId": reason["id"], "memo": memo},
        )
        return result


def remove_hold(store: TenantStore, appointment_id: int) -> Record:
    """Take an appointment off hold (back to Scheduled); 409 unless it is on hold."""
    with store.lock:
        appt = _appointment(store, appointment_id)
        if appt["status"] != "Hold":
            raise ApiError(
                409,
                "invalid_transition",
                f"appointment {appointment_id} is {appt['status']}, not on hold",
                {"from": appt["status"]},
            )
        body = DispatchBody(appointmentId=appointment_id, status="Scheduled")
        return dispatch(store, appt["jobId"], body, None)


def cancel_job(store: TenantStore, job_id: int, reason_id: int, memo: str) -> Record:
    """Cancel the job: each of its live appointments moves to Canceled (400 when the job
    is completed or canceled already)."""
    with store.lock:
        job = job_or_404(store, job_id)
        _reason(store, CANCEL_REASONS, reason_id)
        if job["jobStatus"] in ("Completed", "Canceled"):
            raise ApiError(
                400,
                "invalid_transition",
                f"job {job_id} is {job['jobStatus']} and cannot be canceled",
                {"jobStatus": job["jobStatus"]},
            )
        records = store.tables["appointments"].records
        for appt_id in list(store.job_appointments.get(job_id, [])):
            appt = records[appt_id]
            if appt["active"] and appt["status"] not in ("Done", "Canceled"):
                dispatch(
                    store, job_id, DispatchBody(appointmentId=appt_id, status="Canceled"), None
                )
        store.emit("job.canceled", "jobs", job_id, {"reasonId": reason_id, "memo": memo})
        result = store.get("jobs", job_id)
        assert result is not None
        return result


def remove_cancellation(store: TenantStore, job_id: int) -> Record:
    """Bring a canceled job back: its canceled appointments move to Scheduled (400 when
    the job is not canceled)."""
    with store.lock:
        job = job_or_404(store, job_id)
        if job["jobStatus"] != "Canceled":
            raise ApiError(
                400,
                "invalid_transition",
                f"job {job_id} is {job['jobStatus']}, not canceled",
                {"jobStatus": job["jobStatus"]},
            )
        records = store.tables["appointments"].records
        for appt_id in list(store.job_appointments.get(job_id, [])):
            if records[appt_id]["active"] and records[appt_id]["status"] == "Canceled":
                # The session API's rules make Canceled final; only this official
                # operation leaves it, so it writes the status itself.
                store.update("appointments", appt_id, {"status": "Scheduled"})
                store.emit(
                    "appointment.status_changed",
                    "appointments",
                    appt_id,
                    {"from": "Canceled", "to": "Scheduled"},
                )
        sync_job_status(store, job_id)
        result = store.get("jobs", job_id)
        assert result is not None
        return result


def set_payment_status(store: TenantStore, payment_ids: list[int], status: str) -> None:
    """Set the export status (``syncStatus``) of the payments; 400 for an unknown one."""
    with store.lock:
        missing = [p for p in payment_ids if store.get("payments", p) is None]
        if missing:
            raise ApiError(
                400,
                "validation_error",
                f"unknown payment ids {missing[:10]}",
                {"errors": [{"loc": ["paymentIds"], "msg": f"unknown payments {missing[:10]}"}]},
            )
        for payment_id in dict.fromkeys(payment_ids):
            payment = store.get("payments", payment_id)
            assert payment is not None
            if payment.get("syncStatus") != status:
                store.update("payments", payment_id, {"syncStatus": status})
