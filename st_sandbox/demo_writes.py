"""The demo's write-back (``st-demo``, either backend): book a job, dispatch it to a
technician, let the technician finish it, and invoice it, each through the write queue
and the backend the environment selects (``ST_BACKEND``), printing the ids.

On the official v2 API the booking carries its write request's id in ``externalData``
and the invoice ServiceTitan opens with the job gets the items and the discount. The
technician's part (Dispatched, Working, Done) has no v2 operation: it happens in the
mobile app, for which the sandbox's session API stands in here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from st_resources.backend import Backend
from st_resources.resource import resource_from_env
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_resources.writeback.preflight import tenant_check
from st_resources.writeback.queue import WriteQueue
from st_resources.writeback.sender import process
from st_sandbox.auth import DEMO_TOTP_SECRET


def _first(base_url: str, entity: str) -> dict[str, Any]:
    """The sandbox's first active record of ``entity`` (its ground truth)."""
    text = httpx.get(f"{base_url}/_sandbox/dump", params={"entity": entity}, timeout=60).text
    for line in text.splitlines():
        record: dict[str, Any] = json.loads(line)
        if record.get("active", True):
            return record
    raise RuntimeError(f"the sandbox has no active {entity}")


def _write(queue: WriteQueue, backend: Backend, kind: str, payload: dict[str, Any]) -> Any:
    """Submit one request (checked against the tenant) and send it now; its result."""
    submitted = queue.submit(kind, payload, requested_by="st-demo", check=tenant_check(backend))
    done = process(queue, backend, submitted.request.id).request
    if done.status != "succeeded" or done.result is None:
        raise RuntimeError(f"the demo's {kind} ended {done.status}: {done.result}")
    return done.result


def _technician_finishes(base_url: str, job_id: int, backend: Backend) -> None:
    """The technician's moves, made in the mobile app: the sandbox's session API (the
    session backend's own login, or the demo user's when the project uses v2)."""
    if isinstance(backend, SessionBackend):
        _finish(backend, job_id)
        return
    settings = SessionSettings(
        base_url=base_url,
        username="demo",
        password=SecretStr("demo-password"),
        totp_secret=SecretStr(DEMO_TOTP_SECRET),
    )
    with SessionBackend(settings) as app:
        _finish(app, job_id)


def _finish(app: SessionBackend, job_id: int) -> None:
    for status in ("Dispatched", "Working", "Done"):
        key = f"st-demo-{job_id}-{status}"
        app.send_write("dispatch", {"status": status}, job_id=job_id, idempotency_key=key)


def run_demo_writes(base_url: str, home: Path) -> dict[str, Any]:
    """Book, dispatch, finish and invoice one job through the configured backend; the
    ids (and the invoice's total), as printed."""
    backend = resource_from_env().process_config_and_initialize().get_backend()
    queue = WriteQueue(f"sqlite:///{home / 'demo-writes.sqlite'}")
    location = _first(base_url, "locations")
    job_type = _first(base_url, "job_types")
    technician = _first(base_url, "technicians")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=400)
    print(f"\nWrite-back through the {backend.name} backend:")
    booked = _write(
        queue,
        backend,
        "create_job",
        {
            "customer_id": location["customerId"],
            "location_id": location["id"],
            "business_unit_id": job_type["businessUnitIds"][0],
            "job_type_id": job_type["id"],
            "campaign_id": _first(base_url, "marketing_campaigns")["id"],
            "summary": "st-demo: tune-up",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
        },
    )
    job_id = int(booked["jobId"])
    print(f"  booked job {job_id} (appointment {booked['appointmentIds'][0]})")
    later = start + timedelta(hours=1)
    dispatched = _write(
        queue,
        backend,
        "dispatch",
        {
            "job_id": job_id,
            "technician_ids": [technician["id"]],
            "start": later.isoformat(),
            "end": (later + timedelta(hours=2)).isoformat(),
        },
    )
    print(f"  dispatched appointment {dispatched['appointmentId']} to {technician['name']}")
    _technician_finishes(base_url, job_id, backend)
    print("  the technician finished it (the mobile app: the sandbox's session API)")
    invoiced = _write(
        queue,
        backend,
        "invoice",
        {
            "job_id": job_id,
            "items": [{"description": "Tune-up", "quantity": "1", "unit_price": "129.00"}],
            "discounts": [{"percent": "10"}],
            "summary": "Seasonal tune-up",
        },
    )
    print(f"  invoiced: invoice {invoiced['invoiceId']}, total {invoiced['total']}")
    return {"job": job_id, "appointment": dispatched["appointmentId"], **invoiced}
