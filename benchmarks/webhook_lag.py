"""The lag from a change in the tenant to its row in the warehouse, through webhooks,
under a real Dagster daemon.

    python -m benchmarks.webhook_lag --changes 20

Starts the sandbox (a subprocess, no background activity), the webhook receiver
(``python -m st_resources.webhooks``, subscribed to the sandbox with a generated key) and
``dagster-daemon run -w workspace.yaml`` (the local instance of ``make dev``, the default
run launcher) on a fresh ``DAGSTER_HOME``, warehouse and store. After a warm-up change
has landed (the code servers load), it makes ``--changes`` business changes (one
activity step each, at random intervals) and, for every event the receiver stored,
measures the time from the record's ``modifiedOn`` to the moment the landing Parquet
(what ``raw.<entity>`` reads) holds that version. The ``webhook_events`` sensor is the
only thing that refreshes: the schedules and ``change_feed`` stay stopped.

Writes a section of ``benchmarks/RESULTS.md`` (between ``<!-- webhook_lag -->`` marks;
``make bench`` rewrites that file, run this again after it).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

from benchmarks.sections import write_section
from st_resources.webhooks.store import StoredEvent, WebhookStore
from st_sandbox.config import SandboxConfig
from st_sandbox.daemon import DaemonProcess, wait_until
from st_sandbox.demo import LOCAL_INSTANCE_ENV, sandbox_env
from st_sandbox.server import SandboxProcess
from st_sandbox.webhooks.process import ReceiverProcess

ENTITIES = ("appointments", "invoices", "payments", "customers", "memberships", "jobs")
HERE = Path(__file__).resolve().parent
SECTION = "webhook_lag"
WARM_UP_TIMEOUT = 600.0
LAG_TIMEOUT = 300.0


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _landed_version(warehouse: Path, event: StoredEvent) -> bool:
    """Whether the landing Parquet holds the event's record at its version or newer."""
    files = sorted((warehouse / "landing" / event.entity).glob("*.parquet"))
    if not files:
        return False
    paths = [str(f) for f in files]
    with duckdb.connect() as con:
        row = con.execute(
            "SELECT max(CAST(modifiedOn AS TIMESTAMPTZ)) FROM read_parquet(?, union_by_name=true)"
            " WHERE id = ?",
            [paths, event.entity_id],
        ).fetchone()
    newest = row[0] if row else None
    return newest is not None and newest.astimezone(UTC) >= event.modified_on


def _step(sandbox_url: str) -> None:
    answer = httpx.post(f"{sandbox_url}/_sandbox/activity", json={"steps": 1}, timeout=30)
    answer.raise_for_status()


class Tracker:
    """Polls (every 0.5 s, in a thread) the events stored after ``after`` and the landing,
    keeping for each event the seconds from its ``modifiedOn`` to the first poll that saw
    its version landed: it runs while the changes are being made, so an early change's
    lag does not include the later changes."""

    def __init__(self, store: WebhookStore, warehouse: Path, after: int) -> None:
        self.store, self.warehouse, self.after = store, warehouse, after
        self.events: dict[str, StoredEvent] = {}
        self.lags: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Tracker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for event in self.store.after(self.after, limit=100_000):
                self.events.setdefault(event.event_id, event)
            for key, event in list(self.events.items()):
                if key not in self.lags and _landed_version(self.warehouse, event):
                    self.lags[key] = (datetime.now(UTC) - event.modified_on).total_seconds()

    def wait(self, timeout: float) -> None:
        """Until every event seen so far has landed, or ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (
            not self.events or len(self.lags) < len(self.events)
        ):
            time.sleep(0.5)


def measure(work: Path, changes: int, customers: int, pause: float) -> dict[str, Any]:
    """Run the whole measurement in ``work``; the numbers as a dict."""
    home, warehouse = work / "dagster_home", work / "warehouse"
    home.mkdir(parents=True)
    warehouse.mkdir()
    db_url = f"sqlite:///{home / 'writeback.sqlite'}"
    first = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    with SandboxProcess(
        SandboxConfig(customers=customers, rate_limit=0), log_file=work / "sandbox.log"
    ) as sandbox:
        env = {
            **sandbox_env(sandbox.base_url),
            **LOCAL_INSTANCE_ENV,
            "ST_WAREHOUSE_DIR": str(warehouse),
            "ST_WRITEBACK_DB_URL": db_url,
            "ST_PARTITIONS_START": first.isoformat(),
            "ST_STREAMS": "core",
        }
        receiver_env = {"ST_WRITEBACK_DB_URL": db_url, "DAGSTER_HOME": str(home)}
        with ReceiverProcess(log_file=work / "webhooks.log", env=receiver_env) as receiver:
            types = tuple(f"{e}.{a}" for e in ENTITIES for a in ("created", "updated"))
            receiver.subscribe(sandbox.base_url, types)
            store = WebhookStore(db_url)
            with DaemonProcess(home, env):
                started = time.monotonic()
                _step(sandbox.base_url)
                wait_until(store.count, 60, "the warm-up event")
                with Tracker(store, warehouse, 0) as warm:
                    warm.wait(WARM_UP_TIMEOUT)
                warm_up = time.monotonic() - started
                after = max(e.seq for e in store.after(0))
                with Tracker(store, warehouse, after) as tracker:
                    for _ in range(changes):
                        _step(sandbox.base_url)
                        time.sleep(random.uniform(0, 2 * pause))
                    time.sleep(2)  # the last deliveries
                    tracker.wait(LAG_TIMEOUT)
                events, lags = list(tracker.events.values()), dict(tracker.lags)
    values = list(lags.values())
    return {
        "changes": changes,
        "events": len(events),
        "landed": len(values),
        "warm_up_seconds": warm_up,
        "warm_up_landed": len(warm.lags),
        "p50": quantile(values, 0.5) if values else None,
        "p95": quantile(values, 0.95) if values else None,
        "max": max(values) if values else None,
        "mean": statistics.mean(values) if values else None,
        "entities": sorted({e.entity for e in events}),
    }


def section(result: dict[str, Any], command: str) -> str:
    """The RESULTS.md section of one measurement."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "## Webhook lag: tenant change → row in `raw.<entity>`\n\n"
        f"`{command}` ({when}): sandbox → `st-webhooks-receiver` → sensor `webhook_events` "
        "(minimum interval 5 s) → a refresh run launched by `dagster-daemon` (default run "
        "launcher, local SQLite instance, `workspace.yaml`) → landing Parquet. Lag = from the "
        "record's `modifiedOn` to its version readable in the landing.\n\n"
        "| changes | events | landed | p50 s | p95 s | max s | mean s | warm-up s |\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"| {result['changes']} | {result['events']} | {result['landed']} | "
        f"{result['p50']:.1f} | {result['p95']:.1f} | {result['max']:.1f} | "
        f"{result['mean']:.1f} | {result['warm_up_seconds']:.0f} |\n\n"
        f"Entities: {', '.join(result['entities'])}. Target: p95 ≤ 60 s.\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: measure, print the numbers, write the RESULTS.md section."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhook_lag")
    parser.add_argument("--changes", type=int, default=20, help="business changes (default 20)")
    parser.add_argument("--customers", type=int, default=500, help="tenant size (default 500)")
    parser.add_argument(
        "--pause", type=float, default=3.0, help="mean seconds between changes (default 3)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument(
        "--keep", type=Path, default=None, help="work in this new folder and keep it (logs, runs)"
    )
    args = parser.parse_args(argv)
    if args.changes < 1 or args.customers < 1 or args.pause < 0:
        parser.error("--changes and --customers must be >= 1 and --pause >= 0")
    # A SIGTERM unwinds the context managers, which stop the sandbox, receiver and daemon.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.keep is not None:
        args.keep.mkdir(parents=True)
        result = measure(args.keep, args.changes, args.customers, args.pause)
    else:
        with tempfile.TemporaryDirectory(prefix="webhook-lag-") as tmp:
            result = measure(Path(tmp), args.changes, args.customers, args.pause)
    print(json.dumps(result, indent=2))
    if result["landed"] and not args.no_write:
        command = f"python -m benchmarks.webhook_lag --changes {args.changes} --customers {args.customers}"
        write_section(SECTION, section(result, command), HERE / "RESULTS.md")
    return 0 if result["landed"] == result["events"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
