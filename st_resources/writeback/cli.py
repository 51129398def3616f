"""``st-writeback``: submit write requests, follow them, read the audit log.

    st-writeback submit dispatch --job 12 --technician 3 --start 2026-05-01T09:00:00Z \\
        --end 2026-05-01T11:00:00Z --status Dispatched
    st-writeback submit invoice --job 12 --items items.json --discount 10% --payment card:tok_visa
    st-writeback submit --wait --timeout 60 dispatch --job 12 --technician any ...
    st-writeback submit attachment --job 12 --file photo.jpg [--name NAME]
    st-writeback status <id>
    st-writeback list --status conflict
    st-writeback list --stuck
    st-writeback audit --export audit.parquet

The queue is ``ST_WRITEBACK_DB_URL`` (or ``--db-url``; default SQLite under
``DAGSTER_HOME``). When a tenant is configured (``ST_BASE_URL``, or ``ST_BACKEND=v2``
with the v2 app's variables), a request is checked against it before it is stored: what
the backend cannot send at all, an unknown job, an invoice of a job not completed;
``--no-check`` skips that. The ``writeback_requests`` sensor then launches a run for it
(a batch of requests per run when many are pending).

``submit --wait`` waits for the request's outcome (``--timeout`` seconds, default 120),
prints the request with its audit rows and exits by outcome: 0 ``succeeded``, 3
``conflict``, 4 ``rejected``, 5 ``failed``, 6 still waiting at the timeout (2: refused
before anything was queued, as without ``--wait``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import dagster as dg

from st_resources.resource import REQUIRED_ENV, backend_from_env, resource_from_env
from st_resources.writeback.attachment_payload import attachment_payload
from st_resources.writeback.payloads import ANY_TECHNICIAN, KINDS, Payload, PayloadError
from st_resources.writeback.preflight import tenant_check
from st_resources.writeback.queue import (
    CONFLICT,
    FAILED,
    REJECTED,
    STATUSES,
    SUCCEEDED,
    WriteQueue,
    audit_table,
    configured_db_url,
)
from st_resources.writeback.stuck import find_stuck, redrive_seconds

MAX_ITEMS_FILE_BYTES = 1024 * 1024
EXIT_REFUSED, EXIT_TIMEOUT = 2, 6
EXIT_CODES = {SUCCEEDED: 0, CONFLICT: 3, REJECTED: 4, FAILED: 5}
"""``submit --wait``: the exit code of each outcome (``EXIT_TIMEOUT`` when none came)."""
WAIT_POLL_SECONDS = 0.2


def _technicians(values: list[str] | None) -> list[int] | list[str] | None:
    if not values:
        return None
    if ANY_TECHNICIAN in values:
        return list(values)  # validation explains that "any" stands alone
    try:
        return [int(v) for v in values]
    except ValueError:
        raise PayloadError(f"--technician takes ids or 'any', got {values}") from None


def _discount(text: str) -> dict[str, str]:
    text = text.strip()
    try:
        if text.endswith("%"):
            return {"percent": format(Decimal(text[:-1]), "f")}
        return {"amount": format(Decimal(text), "f")}
    except InvalidOperation:
        raise PayloadError(f"--discount takes 10% or 25.00, got {text!r}") from None


def _payment(text: str) -> dict[str, str]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise PayloadError(f"--payment takes METHOD:TOKEN[:AMOUNT] (card:tok_visa), got {text!r}")
    payment = {"method": parts[0], "token": parts[1]}
    if len(parts) == 3:
        payment["amount"] = parts[2]
    return payment


def _items(path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise PayloadError(f"--items {path}: no such file (a JSON list of items)")
    if file.stat().st_size > MAX_ITEMS_FILE_BYTES:
        raise PayloadError(f"--items {path} is larger than 1 MiB; at most 500 items")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise PayloadError(f"--items {path} is not valid JSON: {exc}") from None


def payload_from_args(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The request kind and raw payload the command line describes."""
    if args.what == "attachment":  # the file is copied into the outbox first
        warehouse = Path(args.warehouse_dir or os.environ.get("ST_WAREHOUSE_DIR") or "data")
        file = Path(args.file)
        return "attachment", attachment_payload(
            args.job, file, warehouse, args.name, args.content_type
        )
    if args.what == "dispatch":
        return "dispatch", {
            "job_id": args.job,
            "appointment_id": args.appointment,
            "technician_ids": _technicians(args.technician),
            "start": args.start,
            "end": args.end,
            "arrival_start": args.arrival_start,
            "arrival_end": args.arrival_end,
            "status": args.status,
            "reason_id": args.reason,
            "memo": args.memo,
        }
    if args.what == "payment-status":
        return "payment_status", {"payment_ids": args.payment_id, "status": args.status}
    if args.what == "invoice":
        return "invoice", {
            "job_id": args.job,
            "items": _items(args.items),
            "discounts": [_discount(d) for d in args.discount or []],
            "tax_zone_id": args.tax_zone,
            "summary": args.summary,
            "payment": _payment(args.payment) if args.payment else None,
        }
    return "create_job", {
        "customer_id": args.customer,
        "location_id": args.location,
        "business_unit_id": args.business_unit,
        "job_type_id": args.job_type,
        "campaign_id": args.campaign,
        "priority": args.priority,
        "summary": args.summary,
        "start": args.start,
        "end": args.end,
        "arrival_start": args.arrival_start,
        "arrival_end": args.arrival_end,
        "technician_ids": [int(t) for t in args.technician or []],
    }


def _tenant_check() -> Callable[[str, Payload], None] | None:
    """A submit-time check against the tenant the ST_* variables select (the same
    resource as the Dagster jobs, ``resource_from_env``), or None when no tenant is
    configured."""
    try:
        backend = backend_from_env()
        if backend == "session" and not os.environ.get("ST_BASE_URL"):
            return None
        missing = [var for var in REQUIRED_ENV[backend] if not os.environ.get(var)]
        if missing:
            raise ValueError(f"set {', '.join(missing)}")
        resource = resource_from_env()
    except ValueError as exc:
        raise PayloadError(
            f"cannot check the request against the tenant: {exc}, or pass --no-check"
        ) from None
    return tenant_check(resource.process_config_and_initialize().get_backend())


def _window_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--start", required=required, help="ISO timestamp with zone")
    p.add_argument("--end", required=required, help="ISO timestamp with zone")
    p.add_argument("--arrival-start", help="arrival window start")
    p.add_argument("--arrival-end", help="arrival window end")


def _wait_args(p: argparse.ArgumentParser, default: Any) -> None:
    """``--wait`` and ``--timeout``, before or after the request kind (the kind's parser
    leaves them unset unless given: a subparser's defaults would override the parent's)."""
    p.add_argument(
        "--wait",
        action="store_true",
        default=default,
        help="wait for the outcome; exit 0 succeeded, 3 conflict, 4 rejected, 5 failed, 6 timeout",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0 if default is False else default,
        help="seconds --wait waits (default 120)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="st-writeback", description=__doc__.split("\n")[0])
    parser.add_argument("--db-url", help="the queue (default: ST_WRITEBACK_DB_URL or SQLite)")
    sub = parser.add_subparsers(dest="command", required=True)

    submit = sub.add_parser("submit", help="queue a write request")
    submit.add_argument("--requested-by", default=None, help="who asks (default: OS user)")
    submit.add_argument("--no-check", action="store_true", help="skip the tenant check")
    _wait_args(submit, default=False)
    kinds = submit.add_subparsers(dest="what", required=True)
    dispatch = kinds.add_parser("dispatch", help="assign technicians, window, status")
    dispatch.add_argument("--job", type=int, required=True)
    dispatch.add_argument("--appointment", type=int, help="default: the job's last")
    dispatch.add_argument("--technician", action="append", help="technician id (repeat) or 'any'")
    _window_args(dispatch, required=False)
    dispatch.add_argument(
        "--status", choices=["Scheduled", "Dispatched", "Working", "Hold", "Done", "Canceled"]
    )
    dispatch.add_argument("--reason", type=int, help="hold/cancel reason id (v2: Hold, Canceled)")
    dispatch.add_argument("--memo", help="why (v2: Hold, Canceled)")
    invoice = kinds.add_parser("invoice", help="invoice a completed job")
    invoice.add_argument("--job", type=int, required=True)
    invoice.add_argument("--items", required=True, help="JSON file: list of items")
    invoice.add_argument("--discount", action="append", help="10%% or 25.00 (repeat)")
    invoice.add_argument("--payment", help="METHOD:TOKEN[:AMOUNT], e.g. card:tok_visa")
    invoice.add_argument("--tax-zone", type=int)
    invoice.add_argument("--summary")
    create = kinds.add_parser("create-job", help="book a job with its first appointment")
    for name in ("customer", "location", "business-unit", "job-type"):
        create.add_argument(f"--{name}", type=int, required=True)
    create.add_argument("--campaign", type=int, help="marketing campaign id (required on v2)")
    create.add_argument("--priority", default="Normal", choices=["Low", "Normal", "High", "Urgent"])
    create.add_argument("--summary")
    create.add_argument("--technician", action="append")
    _window_args(create, required=True)
    payments = kinds.add_parser("payment-status", help="set payments' export status (v2)")
    payments.add_argument("--payment-id", type=int, action="append", required=True)
    payments.add_argument("--status", required=True, choices=["Pending", "Posted", "Exported"])
    attach = kinds.add_parser("attachment", help="attach a file to a job (copied to the outbox)")
    attach.add_argument("--job", type=int, required=True)
    attach.add_argument("--file", required=True, help="the file to attach")
    attach.add_argument("--name", help="its name on the job (default: the file's)")
    attach.add_argument("--content-type", help="MIME type (default: guessed from the name)")
    attach.add_argument("--warehouse-dir", help="default: ST_WAREHOUSE_DIR, else ./data")
    for kind_parser in (dispatch, invoice, create, payments, attach):
        _wait_args(kind_parser, default=argparse.SUPPRESS)

    status = sub.add_parser("status", help="one request, with its audit rows")
    status.add_argument("id")
    listing = sub.add_parser("list", help="recent requests")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--kind", choices=list(KINDS))
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument(
        "--stuck",
        action="store_true",
        help="requests pending/running longer than ST_WRITEBACK_REDRIVE_SECONDS, with why",
    )
    audit = sub.add_parser("audit", help="the audit log (JSON lines, or --export Parquet)")
    audit.add_argument("--request", help="one request's rows")
    audit.add_argument("--export", help="write the whole log to this Parquet file")
    return parser


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def export_audit(queue: WriteQueue, target: Path) -> int:
    """Write the audit log to a Parquet file (for DuckDB without a scanner extension)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = queue.audit()
    names = [c.name for c in audit_table.columns]
    table = pa.table({n: [r[n] for r in rows] for n in names})
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target)
    return len(rows)


def _instance() -> dg.DagsterInstance | None:
    """The Dagster instance of ``DAGSTER_HOME`` (where the write runs are), if set."""
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None


def wait_for_outcome(queue: WriteQueue, request_id: str, timeout: float) -> int:
    """Poll the request until it ends or ``timeout`` passes; print it with its audit rows
    and return the exit code of its outcome."""
    deadline = time.monotonic() + timeout
    request = queue.get(request_id)
    while not request.terminal and time.monotonic() < deadline:
        time.sleep(WAIT_POLL_SECONDS)
        request = queue.get(request_id)
    _print({**request.to_json(), "audit": queue.audit(request.id)})
    if not request.terminal:
        print(
            f"request {request.id} is still {request.status} after {timeout:g} s "
            "(st-writeback list --stuck says why)",
            file=sys.stderr,
        )
        return EXIT_TIMEOUT
    return EXIT_CODES[request.status]


def submit(queue: WriteQueue, args: argparse.Namespace) -> int:
    """``st-writeback submit``: queue the request (and with ``--wait``, wait for it)."""
    try:
        kind, payload = payload_from_args(args)
        check = None if args.no_check else _tenant_check()
        submitted = queue.submit(
            kind, payload, requested_by=args.requested_by or getpass.getuser(), check=check
        )
    except PayloadError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if submitted.duplicate:
        print(
            f"the same request is already queued as {submitted.request.id} "
            f"({submitted.request.status}); nothing new was stored",
            file=sys.stderr,
        )
    if args.wait:
        return wait_for_outcome(queue, submitted.request.id, args.timeout)
    _print(submitted.request.to_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    queue = WriteQueue(configured_db_url(args.db_url))
    if args.command == "submit":
        return submit(queue, args)
    if args.command == "status":
        try:
            request = queue.get(args.id)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 1
        _print({**request.to_json(), "audit": queue.audit(request.id)})
        return 0
    if args.command == "list" and args.stuck:
        for item in find_stuck(queue, _instance(), redrive_seconds()):
            print(item.describe())
        return 0
    if args.command == "list":
        for request in queue.recent(status=args.status, kind=args.kind, limit=args.limit):
            r = request.to_json()
            print(
                f"{r['id']}  {r['kind']:<10} {r['status']:<9} {r['created_at']}  {r['requested_by']}"
            )
        return 0
    if args.export:
        count = export_audit(queue, Path(args.export))
        print(f"{count} audit rows written to {args.export}")
        return 0
    for row in queue.audit(args.request):
        print(json.dumps(row, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
