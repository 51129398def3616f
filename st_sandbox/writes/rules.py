"""The rules the writes share: what exists, who is free, how an appointment's status
moves, how a job's status follows its appointments, and an appointment's version."""

from __future__ import annotations

from datetime import datetime

from st_sandbox.clock import to_us
from st_sandbox.errors import ApiError
from st_sandbox.store import Record, TenantStore

ACTIVE_APPOINTMENT = {"Scheduled", "Dispatched", "Working", "Hold"}
TRANSITIONS: dict[str, set[str]] = {
    "Scheduled": {"Dispatched", "Hold", "Canceled"},
    "Dispatched": {"Working", "Hold", "Canceled", "Scheduled"},
    "Working": {"Done", "Canceled"},
    "Hold": {"Scheduled", "Canceled"},
    "Done": set(),
    "Canceled": set(),
}


def job_or_404(store: TenantStore, job_id: int) -> Record:
    """The active job ``job_id``, or a 404."""
    job = store.get("jobs", job_id)
    if job is None or not job.get("active", True):
        raise ApiError(404, "not_found", f"job {job_id} does not exist", {"jobId": job_id})
    return job


def technician(store: TenantStore, tech_id: int) -> Record:
    """The active technician ``tech_id``, or a 422."""
    tech = store.get("technicians", tech_id)
    if tech is None or not tech["active"]:
        raise ApiError(
            422,
            "validation_error",
            f"technician {tech_id} does not exist or is inactive",
            {"errors": [{"loc": ["technicianIds"], "msg": f"unknown technician {tech_id}"}]},
        )
    return tech


def check_overlap(
    store: TenantStore, tech_ids: list[int], start_us: int, end_us: int, skip: int | None
) -> None:
    """409 double_booking if a technician holds another overlapping active appointment."""
    wanted = set(tech_ids)
    records = store.tables["appointments"].records
    candidates = set().union(*(store.tech_appointments.get(t, set()) for t in wanted))
    for appt in (records[i] for i in sorted(candidates)):
        if appt["id"] == skip or appt["status"] not in ACTIVE_APPOINTMENT or not appt["active"]:
            continue
        holders = {a["technicianId"] for a in appt["assignments"] if a["active"]} & wanted
        if not holders:
            continue
        a_start = to_us(datetime.fromisoformat(appt["start"].replace("Z", "+00:00")))
        a_end = to_us(datetime.fromisoformat(appt["end"].replace("Z", "+00:00")))
        if a_start < end_us and start_us < a_end:
            tech = min(holders)
            raise ApiError(
                409,
                "double_booking",
                f"technician {tech} already holds appointment {appt['id']} from "
                f"{appt['start']} to {appt['end']}; pick another technician or window",
                {"technicianId": tech, "conflictingAppointmentId": appt["id"]},
            )


def assignments(
    store: TenantStore, appt: Record, job: Record, tech_ids: list[int], status: str
) -> list[Record]:
    """The appointment's assignments for ``tech_ids``; a technician who already held it
    keeps the assignment's id and creation (and needs not be active any more)."""
    stamp = store.stamp(store.now_us())
    existing = {a["technicianId"]: a for a in appt.get("assignments", []) if a["active"]}
    out = []
    asg_status = status if status in ("Scheduled", "Dispatched", "Working", "Done") else "Scheduled"
    for tech_id in tech_ids:
        prior = existing.get(tech_id)
        # Only a technician new to the appointment must be active: one who holds it keeps
        # it after being deactivated (an official assign adds technicians to those held).
        name = prior["technicianName"] if prior else technician(store, tech_id)["name"]
        out.append(
            {
                "id": prior["id"] if prior else store.next_id("_assignments"),
                "technicianId": tech_id,
                "technicianName": name,
                "assignedById": 1,
                "assignedOn": prior["assignedOn"] if prior else stamp,
                "status": asg_status,
                "isPaused": False,
                "jobId": job["id"],
                "appointmentId": appt["id"],
                "active": True,
                "createdOn": prior["createdOn"] if prior else stamp,
                "modifiedOn": stamp,
            }
        )
    return out


def sync_job_status(store: TenantStore, job_id: int) -> None:
    """Move the job's status to what its active appointments say, with an event."""
    job = store.get("jobs", job_id)
    assert job is not None
    records = store.tables["appointments"].records
    statuses = [
        records[i]["status"] for i in store.job_appointments.get(job_id, []) if records[i]["active"]
    ]
    live = [s for s in statuses if s != "Canceled"]
    if not live:
        new = "Canceled"
    elif all(s == "Done" for s in live):
        new = "Completed"
    elif any(s in ("Working", "Done") for s in live):
        new = "InProgress"
    elif any(s == "Dispatched" for s in live):
        new = "Dispatched"
    elif all(s == "Hold" for s in live):
        new = "Hold"
    else:
        new = "Scheduled"
    if new != job["jobStatus"]:
        changes: Record = {"jobStatus": new}
        if new == "Completed":
            changes["completedOn"] = store.stamp(store.now_us())
        store.update("jobs", job_id, changes)
        store.emit("job.status_changed", "jobs", job_id, {"from": job["jobStatus"], "to": new})


def etag_version(store: TenantStore, appointment_id: int) -> str:
    """The appointment's version: its modifiedOn in µs, which every change bumps."""
    return str(store.tables["appointments"].mod_us.get(appointment_id, 0))


def etag(store: TenantStore, appointment_id: int) -> str:
    """The ``ETag`` header value of an appointment."""
    return f'"{etag_version(store, appointment_id)}"'
