"""``POST /jobs`` (a job with its first appointment) and ``PATCH /jobs/{id}/dispatch``
(technicians, windows and status of an appointment)."""

from __future__ import annotations

from datetime import datetime

from st_sandbox.clock import to_us
from st_sandbox.errors import ApiError
from st_sandbox.store import Record, TenantStore
from st_sandbox.writes.bodies import CreateJobBody, DispatchBody, check_window
from st_sandbox.writes.rules import (
    ACTIVE_APPOINTMENT,
    TRANSITIONS,
    assignments,
    check_overlap,
    etag,
    etag_version,
    job_or_404,
    sync_job_status,
    technician,
)


def create_job(store: TenantStore, body: CreateJobBody) -> Record:
    """Create the job and its first appointment; the job with ``appointments``."""
    with store.lock:
        _check_new_job(store, body)
        window = body.appointment
        start_us, end_us = to_us(window.start), to_us(window.end)
        if body.technicianIds:
            for tech_id in body.technicianIds:
                technician(store, tech_id)
            check_overlap(store, body.technicianIds, start_us, end_us, None)
        job_id = store.next_id("jobs")
        appt_id = store.next_id("appointments")
        now = store.stamp(store.now_us())
        job = _new_job(body, job_id, appt_id, now)
        appt = _new_appointment(store, body, job_id, appt_id, start_us, end_us, now)
        appt["assignments"] = assignments(store, appt, job, body.technicianIds, "Scheduled")
        store.insert("jobs", job)
        store.insert("appointments", appt)
        store.emit("job.created", "jobs", job_id, {"customerId": body.customerId})
        result = store.get("jobs", job_id) or job
        result["appointments"] = [store.get("appointments", appt_id)]
        return result


def _check_new_job(store: TenantStore, body: CreateJobBody) -> None:
    """404 for an unknown customer, 422 for a location, unit or job type that does not fit."""
    customer = store.get("customers", body.customerId)
    if customer is None or not customer["active"]:
        raise ApiError(404, "not_found", f"customer {body.customerId} does not exist")
    location = store.get("locations", body.locationId)
    if location is None or location["customerId"] != body.customerId:
        raise ApiError(
            422,
            "validation_error",
            f"location {body.locationId} does not belong to customer {body.customerId}",
            {"errors": [{"loc": ["locationId"], "msg": "not a location of the customer"}]},
        )
    if store.get("business_units", body.businessUnitId) is None:
        raise ApiError(422, "validation_error", f"unknown business unit {body.businessUnitId}")
    if store.get("job_types", body.jobTypeId) is None:
        raise ApiError(422, "validation_error", f"unknown job type {body.jobTypeId}")


def _new_job(body: CreateJobBody, job_id: int, appt_id: int, now: str) -> Record:
    return {
        "id": job_id,
        "jobNumber": str(job_id),
        "customerId": body.customerId,
        "locationId": body.locationId,
        "jobStatus": "Scheduled",
        "completedOn": None,
        "businessUnitId": body.businessUnitId,
        "jobTypeId": body.jobTypeId,
        "priority": body.priority,
        "campaignId": None,
        "appointmentCount": 1,
        "firstAppointmentId": appt_id,
        "lastAppointmentId": appt_id,
        "membershipId": None,
        "invoiceId": None,
        "total": None,
        "createdFromEstimateId": None,
        "estimateIds": [],
        "summary": body.summary,
        "active": True,
        "createdOn": now,
        "createdById": 1,
    }


def _new_appointment(
    store: TenantStore,
    body: CreateJobBody,
    job_id: int,
    appt_id: int,
    start_us: int,
    end_us: int,
    now: str,
) -> Record:
    window = body.appointment
    return {
        "id": appt_id,
        "jobId": job_id,
        "appointmentNumber": f"{job_id}-1",
        "start": store.stamp(start_us),
        "end": store.stamp(end_us),
        "arrivalWindowStart": store.stamp(to_us(window.arrivalWindowStart))
        if window.arrivalWindowStart
        else None,
        "arrivalWindowEnd": store.stamp(to_us(window.arrivalWindowEnd))
        if window.arrivalWindowEnd
        else None,
        "status": "Scheduled",
        "specialInstructions": None,
        "customerId": body.customerId,
        "unused": False,
        "isConfirmed": False,
        "active": True,
        "arrivedOn": None,
        "assignments": [],
        "createdOn": now,
        "createdById": 1,
    }


def dispatch(store: TenantStore, job_id: int, body: DispatchBody, if_match: str | None) -> Record:
    """Change an appointment of the job (its last one unless ``appointmentId``); the
    appointment as it stands after."""
    with store.lock:
        job, appt = _dispatched_appointment(store, job_id, body, if_match)
        appt_id, current = appt["id"], appt["status"]
        target = body.status or current
        start, end = _window(appt, body)
        current_techs = [a["technicianId"] for a in appt["assignments"] if a["active"]]
        techs = body.technicianIds if body.technicianIds is not None else current_techs
        if len(set(techs)) != len(techs):
            raise ApiError(422, "validation_error", "technicianIds has duplicates")
        if not techs and target in ("Dispatched", "Working", "Done"):
            raise ApiError(
                409,
                "invalid_transition",
                f"a {target} appointment needs at least one technician",
                {"from": current, "to": target},
            )
        start_us, end_us = to_us(start), to_us(end)
        if target in ACTIVE_APPOINTMENT and techs:
            check_overlap(store, techs, start_us, end_us, appt_id)
        changes: Record = {
            "start": store.stamp(start_us),
            "end": store.stamp(end_us),
            "status": target,
            "isConfirmed": target != "Scheduled" or appt["isConfirmed"],
        }
        if body.arrivalWindowStart and body.arrivalWindowEnd:
            changes["arrivalWindowStart"] = store.stamp(to_us(body.arrivalWindowStart))
            changes["arrivalWindowEnd"] = store.stamp(to_us(body.arrivalWindowEnd))
        if target == "Working" and not appt.get("arrivedOn"):
            changes["arrivedOn"] = store.stamp(store.now_us())
        changes["assignments"] = (
            [] if target == "Canceled" else assignments(store, appt, job, techs, target)
        )
        store.update("appointments", appt_id, changes)
        if body.technicianIds is not None and body.technicianIds != current_techs:
            store.emit("appointment.dispatched", "appointments", appt_id, {"technicianIds": techs})
        if target != current:
            store.emit(
                "appointment.status_changed",
                "appointments",
                appt_id,
                {"from": current, "to": target},
            )
        sync_job_status(store, job_id)
        result = store.get("appointments", appt_id)
        assert result is not None
        return result


def _dispatched_appointment(
    store: TenantStore, job_id: int, body: DispatchBody, if_match: str | None
) -> tuple[Record, Record]:
    """The job and the appointment a dispatch changes, once the request may change it:
    404 for neither, 412 for a stale ``If-Match``, 409 for a status it cannot move to."""
    job = job_or_404(store, job_id)
    appt_id = body.appointmentId or job["lastAppointmentId"]
    appt = store.get("appointments", appt_id)
    if appt is None or appt["jobId"] != job_id:
        raise ApiError(
            404, "not_found", f"appointment {appt_id} is not an appointment of job {job_id}"
        )
    if if_match is not None and if_match.strip('"') != etag_version(store, appt_id):
        raise ApiError(
            412,
            "version_mismatch",
            "the appointment changed since you read it: read it again and retry",
            {"currentETag": etag(store, appt_id)},
        )
    current = appt["status"]
    target = body.status or current
    if target != current and target not in TRANSITIONS.get(current, set()):
        raise ApiError(
            409,
            "invalid_transition",
            f"an appointment cannot move from {current} to {target}",
            {"from": current, "to": target},
        )
    if current in ("Done", "Canceled") and (
        body.technicianIds is not None or body.start or body.end or body.arrivalWindowStart
    ):
        raise ApiError(
            409,
            "invalid_transition",
            f"a {current} appointment cannot be changed",
            {"from": current},
        )
    return job, appt


def _window(appt: Record, body: DispatchBody) -> tuple[datetime, datetime]:
    """The appointment's new window (the body's, else its own), or a 422."""
    start = body.start or datetime.fromisoformat(appt["start"].replace("Z", "+00:00"))
    end = body.end or datetime.fromisoformat(appt["end"].replace("Z", "+00:00"))
    try:
        check_window(start, end, body.arrivalWindowStart, body.arrivalWindowEnd)
    except ValueError as exc:
        raise ApiError(
            422, "validation_error", str(exc), {"errors": [{"loc": ["body"], "msg": str(exc)}]}
        ) from None
    return start, end
