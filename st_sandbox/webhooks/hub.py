"""Subscriptions and the delivery worker.

Every insert and update of a webhook entity (``st_contract.webhooks.WEBHOOK_ENTITIES``)
becomes one event while a subscription wants its type. The store's change listener only
puts ``(entity, action, id, µs)`` on a bounded queue, so a request never waits for a
delivery; one worker thread builds each event's body (the record as it stands then, in
its v2 shape), signs it per subscription and POSTs it with short timeouts. A non-2xx
answer or a timeout schedules the next attempt after ``RETRY_SCHEDULE`` seconds times
``webhook_retry_scale``; after the last, the delivery is ``failed`` (a real tenant leaves
it to a manual replay). ``webhook_shuffle`` and ``webhook_duplicate_rate`` make the
out-of-order, at-least-once delivery that ServiceTitan allows happen on purpose.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from st_contract.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPES,
    RETRY_SCHEDULE,
    SIGNATURE_HEADER,
    check_hmac_key,
    sign,
)
from st_sandbox.config import SandboxConfig
from st_sandbox.store import TenantStore
from st_sandbox.v2.oauth import SANDBOX_TENANT_ID
from st_sandbox.v2.shapes import V2_BY_ENTITY, shape

QUEUE_SIZE = 100_000
LOG_SIZE = 10_000


@dataclass(frozen=True)
class Subscription:
    """Event types delivered to a URL, signed with a key."""

    id: str
    event_types: frozenset[str]
    url: str
    hmac_key: str = field(repr=False)

    def public(self) -> dict[str, Any]:
        """The subscription without its key (for ``GET``)."""
        return {"id": self.id, "eventTypes": sorted(self.event_types), "url": self.url}


@dataclass(order=True)
class Delivery:
    """One event to one subscription; ``due`` orders the worker's schedule."""

    due: float
    order: int
    subscription: Subscription = field(compare=False)
    event_id: str = field(compare=False)
    event_type: str = field(compare=False)
    body: bytes = field(compare=False, repr=False)
    attempt: int = field(default=0, compare=False)


class WebhookHub:
    """The subscriptions and the delivery worker of one tenant."""

    def __init__(self, store: TenantStore, config: SandboxConfig) -> None:
        self.store = store
        self.config = config
        self.subscriptions: dict[str, Subscription] = {}
        self.log: list[dict[str, Any]] = []
        self.dropped = 0
        # Changes and deliveries not finished yet (queued, scheduled or being sent).
        self.pending = 0
        self._changes: queue.Queue[tuple[str, str, int, int]] = queue.Queue(QUEUE_SIZE)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(config.seed)
        self._order = itertools.count()
        self._wanted: frozenset[str] = frozenset()
        store.listeners.append(self._on_change)

    # --- subscriptions -----------------------------------------------------------------

    def subscribe(self, event_types: list[str], url: str, hmac_key: str) -> Subscription:
        """Add a subscription (and start the worker on the first)."""
        unknown = sorted(set(event_types) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}")
        if not url.startswith(("http://", "https://")):
            raise ValueError("the webhook url must be http:// or https://")
        sub = Subscription(uuid.uuid4().hex, frozenset(event_types), url, check_hmac_key(hmac_key))
        with self._lock:
            self.subscriptions[sub.id] = sub
            self._refresh_wanted()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="st-sandbox-webhooks", daemon=True
                )
                self._thread.start()
        return sub

    def unsubscribe(self, subscription_id: str | None = None) -> int:
        """Remove one subscription (or all); returns how many were removed."""
        with self._lock:
            if subscription_id is None:
                removed = len(self.subscriptions)
                self.subscriptions.clear()
            else:
                removed = 1 if self.subscriptions.pop(subscription_id, None) else 0
            self._refresh_wanted()
        return removed

    def _refresh_wanted(self) -> None:
        self._wanted = frozenset(t for s in self.subscriptions.values() for t in s.event_types)

    def deliveries(self, after: int = 0) -> list[dict[str, Any]]:
        """The delivery log after an entry id (one entry per attempt)."""
        with self._lock:
            return [entry for entry in self.log if entry["id"] > after]

    def close(self) -> None:
        """Stop the worker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- the store's listener (under the store's lock: enqueue only) ----------------------

    def _on_change(self, entity: str, action: str, record_id: int, us: int) -> None:
        if f"{entity}.{action}" not in self._wanted:
            return
        try:
            self._changes.put_nowait((entity, action, record_id, us))
        except queue.Full:
            self.dropped += 1  # shown by /_sandbox/webhooks/deliveries; never blocks a write
            return
        with self._lock:
            self.pending += 1

    # --- the worker ------------------------------------------------------------------------

    def _run(self) -> None:
        schedule: list[Delivery] = []
        with httpx.Client(timeout=self.config.webhook_timeout) as client:
            while not self._stop.is_set():
                wait = max(0.0, schedule[0].due - time.monotonic()) if schedule else 0.2
                self._take_changes(schedule, min(wait, 0.2))
                now = time.monotonic()
                ready = []
                while schedule and schedule[0].due <= now:
                    ready.append(heapq.heappop(schedule))
                if self.config.webhook_shuffle:
                    self._rng.shuffle(ready)
                for delivery in ready:
                    retry = self._attempt(client, delivery)
                    if retry is not None:
                        heapq.heappush(schedule, retry)

    def _take_changes(self, schedule: list[Delivery], wait: float) -> None:
        """Move the queued changes (waiting up to ``wait`` for the first) into events."""
        try:
            change = self._changes.get(timeout=wait) if wait > 0 else self._changes.get_nowait()
        except queue.Empty:
            return
        while True:
            made = self._events(*change)
            for delivery in made:
                heapq.heappush(schedule, delivery)
            with self._lock:
                self.pending += len(made) - 1  # the change became its deliveries
            try:
                change = self._changes.get_nowait()
            except queue.Empty:
                return

    def _events(self, entity: str, action: str, record_id: int, us: int) -> list[Delivery]:
        record = self.store.get(entity, record_id)
        if record is None:
            return []
        endpoint = V2_BY_ENTITY.get(entity)
        data = shape(endpoint, record, export=True) if endpoint else record
        event_id, name = str(uuid.uuid4()), f"{entity}.{action}"
        body = orjson.dumps(
            {
                "eventId": event_id,
                "eventType": name,
                "tenantId": SANDBOX_TENANT_ID,
                "occurredOn": self.store.stamp(us),
                "entity": entity,
                "entityId": record_id,
                "data": data,
            }
        )
        now, out = time.monotonic(), []
        with self._lock:
            subs = [s for s in self.subscriptions.values() if name in s.event_types]
        for sub in subs:
            copies = 2 if self._rng.random() < self.config.webhook_duplicate_rate else 1
            for _ in range(copies):
                out.append(Delivery(now, next(self._order), sub, event_id, name, body))
        return out

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> Delivery | None:
        """POST once; the delivery's next attempt when this one failed and one is left."""
        sub = delivery.subscription
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(sub.hmac_key, delivery.body),
            EVENT_ID_HEADER: delivery.event_id,
        }
        status: int | None = None
        try:
            status = client.post(sub.url, content=delivery.body, headers=headers).status_code
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        last = delivery.attempt >= len(RETRY_SCHEDULE)
        outcome = "delivered" if error is None else ("failed" if last else "retrying")
        self._record(delivery, status, error, outcome)
        if error is None or last:
            with self._lock:
                self.pending -= 1
            return None
        delay = RETRY_SCHEDULE[delivery.attempt] * self.config.webhook_retry_scale
        delivery.attempt += 1
        delivery.due = time.monotonic() + delay
        return delivery

    def _record(self, d: Delivery, status: int | None, error: str | None, outcome: str) -> None:
        with self._lock:
            self.log.append(
                {
                    "id": (self.log[-1]["id"] + 1) if self.log else 1,
                    "subscriptionId": d.subscription.id,
                    "eventId": d.event_id,
                    "eventType": d.event_type,
                    "attempt": d.attempt + 1,
                    "status": status,
                    "error": error,
                    "outcome": outcome,
                    "at": time.time(),
                }
            )
            if len(self.log) > LOG_SIZE:
                del self.log[: len(self.log) - LOG_SIZE]
