"""``POST /jobs`` (a job with its appointments) and ``PATCH /jobs/{id}/dispatch``
(technicians, windows and status of an appointment)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from st_sandbox.clock import to_us
from st_sandbox.errors import ApiError
from st_sandbox.store import Record, TenantStore
from st_sandbox.writes.bodies import CreateJobBody, DispatchBody, Window, check_window
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


def create_job(
    store: TenantStore,
    body: CreateJobBody,
    more: Sequence[tuple[Window, list[int]]] = (),
    external_data: list[Record] | None = None,
) -> Record:
    """Create the job with its appointment (and the ``more`` appointments, each with its
    technicians: the official API books several at once); the job with ``appointments``.
    ``external_data`` is the official ``externalData`` items stored on the job."""
    with store.lock:
        _check_new_job(store, body)
        wanted = [(body.appointment, list(body.technicianIds)), *more]
        _check_free(store, wanted)
        job_id = store.next_id("jobs")
        appt_ids = [store.next_id("appointments") for _ in wanted]
        now = store.stamp(store.now_us())
        job = _new_job(body, job_id, appt_ids, now)
        if external_data is not None:
            job["externalData"] = external_data
        store.insert("jobs", job)
        for number, (appt_id, (window, techs)) in enumerate(zip(appt_ids, wanted, strict=True)):
            appt = _new_appointment(store, body, job_id, appt_id, window, now, number + 1)
            appt["assignments"] = assignments(store, appt, job, techs, "Scheduled")
            store.insert("appointments", appt)
        store.emit("job.created", "jobs", job_id, {"customerId": body.customerId})
        result = store.get("jobs", job_id) or job
        result["appointments"] = [store.get("appointments", a) for a in appt_ids]
        return result


def _check_free(store: TenantStore, wanted: Sequence[tuple[Window, list[int]]]) -> None:
    """422 for an unknown technician, 409 when one is booked elsewhere in a window, or
    in two of the new appointments at once."""
    booked: list[tuple[int, int, int]] = []
    for window, techs in wanted:
        start_us, end_us = to_us(window.start), to_us(window.end)
        for tech_id in techs:
            technician(store, tech_id)
            for other, o_start, o_end in booked:
                if other == tech_id and o_start < end_us and start_us < o_end:
                    raise ApiError(
                        409,
                        "double_booking",
                        f"technician {tech_id} is in two overlapping appointments of the job",
                        {"technicianId": tech_id},
                    )
            booked.append((tech_id, start_us, end_us))
        if techs:
            check_overlap(store, techs, start_us, end_us, None)


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
    campaigns = store.tables["marketing_campaigns"].records
    if body.campaignId is not None and body.campaignId not in campaigns:
        raise ApiError(
            422,
            "validation_error",
            f"unknown campaign {body.campaignId}",
            {"errors": [{"loc": ["campaignId"], "msg": f"unknown campaign {body.campaignId}"}]},
        )


def _new_job(body: CreateJobBody, job_id: int, appt_ids: list[int], now: str) -> Record:
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
        "campaignId": body.campaignId,
        "appointmentCount": len(appt_ids),
        "firstAppointmentId": appt_ids[0],
        "lastAppointmentId": appt_ids[-1],
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
    window: Window,
    now: str,
    number: int,
) -> Record:
    return {
        "id": appt_id,
        "jobId": job_id,
        "appointmentNumber": f"{job_id}-{number}",
        "start": store.stamp(to_us(window.start)),
        "end": store.stamp(to_us(window.end)),
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
