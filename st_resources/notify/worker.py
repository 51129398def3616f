"""The delivery worker (``st-notify deliver``): signed POSTs of the outbox's due deliveries.

Each subscriber is served by a thread of its own, its deliveries in order, so a slow or
dead subscriber never holds up another: requests have a short timeout, a pass sends at
most ``per_subscriber`` deliveries to one subscriber, and a subscriber in backoff is
skipped until its next attempt is due. After a failure (non-2xx, timeout, refused
connection) the subscriber waits ``backoff_seconds(failures)``: 30 s doubling, capped at
one hour, with +-10 % jitter. A delivery still failing 24 hours after it was queued (or
replayed) is ``dead``. The worker reads time only through ``now``, so tests simulate it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from st_resources.notify.records import Due, Subscriber, display_url
from st_resources.notify.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    sign,
)
from st_resources.notify.store import NotifyStore
from st_resources.notify.tables import DELIVERED
from st_resources.redact import redact

log = logging.getLogger(__name__)

BASE_DELAY, MAX_DELAY, JITTER = 30.0, 3600.0, 0.1


def backoff_seconds(failures: int, rng: random.Random | None = None) -> float:
    """The wait after the ``failures``-th consecutive failure (1 = the first)."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, failures - 1))
    spread = (rng or random).uniform(-JITTER, JITTER)
    return delay * (1 + spread)


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass
class PassReport:
    """What one pass did: deliveries attempted, delivered, and now dead, per subscriber."""

    attempted: int = 0
    delivered: int = 0
    dead: int = 0
    subscribers: list[str] = field(default_factory=list)


class Worker:
    """Delivers the outbox of ``store`` (one per process; thread-safe passes)."""

    def __init__(
        self,
        store: NotifyStore,
        *,
        now: Callable[[], datetime] = utc_now,
        timeout: float = 10.0,
        per_subscriber: int = 50,
        max_threads: int = 16,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.now = now
        self.per_subscriber = per_subscriber
        self.rng = rng or random.Random()
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)
        self.pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="notify")
        self._inflight: dict[str, Future[PassReport]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Wait for the deliveries in flight, then release the threads and connections."""
        self.pool.shutdown(wait=True)
        self.http.close()

    def start_pass(self) -> list[Future[PassReport]]:
        """Start delivering to every due subscriber not already being served."""
        started = []
        with self._lock:
            for sub, batch in self.store.due(self.now(), self.per_subscriber):
                running = self._inflight.get(sub.id)
                if running is not None and not running.done():
                    continue  # a slow subscriber: its thread is still on the last batch
                future = self.pool.submit(self._serve, sub, batch)
                self._inflight[sub.id] = future
                started.append(future)
        return started

    def deliver_once(self) -> PassReport:
        """One pass, waiting for it to end (tests, ``st-notify deliver``)."""
        total = PassReport()
        for future in self.start_pass():
            report = future.result()
            total.attempted += report.attempted
            total.delivered += report.delivered
            total.dead += report.dead
            total.subscribers += report.subscribers
        return total

    def run_forever(self, poll_seconds: float = 1.0, stop: threading.Event | None = None) -> None:
        """Start a pass every ``poll_seconds`` until ``stop`` is set (Ctrl-C in the CLI)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.start_pass()
            except Exception as exc:  # the database away for a moment: try again
                log.warning("notify pass failed: %s", redact(str(exc)))
            stop.wait(poll_seconds)

    def _serve(self, sub: Subscriber, batch: list[Due]) -> PassReport:
        report = PassReport(subscribers=[sub.id])
        failures = sub.failures
        for due in batch:
            status = self._attempt(sub, due, failures)
            report.attempted += 1
            if status == DELIVERED:
                report.delivered += 1
                failures = 0
                continue
            # Stop at the first failure: the subscriber is in backoff now.
            report.dead += int(status != "pending")
            break
        return report

    def _attempt(self, sub: Subscriber, due: Due, failures: int) -> str:
        body = due.body.encode()
        sent_at = self.now()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(sub.secret, body, int(sent_at.timestamp())),
            EVENT_ID_HEADER: due.event_id,
            EVENT_TYPE_HEADER: due.event_type,
            "User-Agent": "st-dagster-webhooks/1",
        }
        code: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            answer = self.http.post(sub.url, content=body, headers=headers)
            code = answer.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {str(exc).replace(sub.url, display_url(sub.url))}"
        duration_ms = (time.perf_counter() - started) * 1000
        retry_at = None
        if error is not None:
            wait = backoff_seconds(failures + 1, self.rng)
            retry_at = self.now() + timedelta(seconds=wait)
            log.info("webhook %s to %s failed: %s", due.event_id, display_url(sub.url), error)
        return self.store.record_attempt(
            due,
            sub,
            now=self.now(),
            failures_before=failures,
            status_code=code,
            error=error,
            duration_ms=duration_ms,
            retry_at=retry_at,
        )
