"""The worker against real HTTP subscribers on loopback, with a simulated clock: a healthy
one, one answering 500 for an hour, a slow one and a down one; backoff, recovery with
every event exactly once, ``dead`` after 24 hours, replays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from st_resources.notify.events import make_event
from st_resources.notify.records import Event
from st_resources.notify.signing import verify
from st_resources.notify.store import NotifyStore
from st_resources.notify.tables import DEAD, DELIVERED, EVENT_TYPES, PENDING
from st_resources.notify.worker import BASE_DELAY, JITTER, MAX_DELAY, Worker
from tests.notify.conftest import SECRET, Clock, Subscriber, closed_port_url

TIMEOUT = 0.5  # the worker's request timeout (10 s in production)


def _events(clock: Clock, count: int) -> list[Event]:
    return [
        make_event("job.done", f"test:{i}", clock.now(), "42", {"jobId": i}) for i in range(count)
    ]


def _next_due(store: NotifyStore) -> float | None:
    pending = {d["subscriber_id"] for d in store.deliveries(status=PENDING, limit=1000)}
    times = [s.next_attempt_at for s in store.subscribers() if s.id in pending]
    known = [t for t in times if t is not None]
    return min(t.timestamp() for t in known) if known else None


def _run_until(worker: Worker, store: NotifyStore, clock: Clock, end: float) -> int:
    """Passes at each next due time until ``end`` (unix seconds); returns the passes."""
    passes = 0
    while (due := _next_due(store)) is not None and due <= end:
        clock.advance(max(0.0, due - clock.now().timestamp()))
        worker.deliver_once()
        passes += 1
    return passes


def test_backoff_recovery_dead_and_replay(
    store_url: str, subscriber_server: Callable[..., Subscriber]
) -> None:
    clock = Clock()
    store = NotifyStore(store_url)
    healthy, flaky, slow = subscriber_server(), subscriber_server("fail"), subscriber_server("slow")
    subs = {
        name: store.subscribe(url, SECRET, "env:T", frozenset(EVENT_TYPES), clock.now())
        for name, url in [
            ("healthy", healthy.url),
            ("flaky", flaky.url),
            ("slow", slow.url),
            ("down", closed_port_url()),
        ]
    }
    events = _events(clock, 3)
    assert store.record([], events, clock.now()) == 12
    assert store.record([], events, clock.now()) == 0  # the same events: not again
    worker = Worker(store, now=clock.now, timeout=TIMEOUT, per_subscriber=10)
    try:
        started = time.perf_counter()
        first = worker.deliver_once()
        # Every healthy delivery finished before the slow subscriber's request timed out.
        assert max(r.at for r in healthy.received) - started < TIMEOUT
        assert healthy.delivered_ids() == [e.id for e in events]
        assert first.delivered == 3 and first.attempted == 6
        for body, received in zip(healthy.bodies(), healthy.received, strict=True):
            assert verify(SECRET, received.body, received.signature, now=clock.now().timestamp())
            assert set(body) == {"id", "type", "occurredAt", "tenantId", "data"}
        slow.mode = "ok"

        # An hour of 500s: retried with a doubling backoff, one attempt per due time.
        start = clock.now()
        _run_until(worker, store, clock, (start + timedelta(hours=1)).timestamp())
        flaky_attempts = [a for a in store.attempts() if a["subscriber_id"] == subs["flaky"].id]
        gaps = [
            (b - a).total_seconds()
            for a, b in zip(
                [_at(x) for x in flaky_attempts], [_at(x) for x in flaky_attempts[1:]], strict=False
            )
        ]
        assert len(flaky_attempts) >= 6
        for n, gap in enumerate(gaps, start=1):
            expected = min(MAX_DELAY, BASE_DELAY * 2 ** (n - 1))
            assert expected * (1 - JITTER) <= gap <= expected * (1 + JITTER)
        assert flaky.delivered_ids() == [] and len(flaky.received) == len(flaky_attempts)

        flaky.mode = "ok"  # recovers: every event exactly once, in order
        _run_until(worker, store, clock, (start + timedelta(hours=3)).timestamp())
        assert flaky.delivered_ids() == [e.id for e in events]
        assert slow.delivered_ids() == [e.id for e in events]
        assert healthy.delivered_ids() == [e.id for e in events]  # nothing twice

        # The down subscriber: dead once 24 hours have passed, all three at once.
        _run_until(worker, store, clock, (start + timedelta(hours=26)).timestamp())
        down = store.deliveries(subscriber=subs["down"].id)
        assert [d["status"] for d in down] == [DEAD] * 3
        assert all(d["status"] == DELIVERED for d in store.deliveries(status=DELIVERED))
        down_attempts = [a for a in store.attempts() if a["subscriber_id"] == subs["down"].id]
        assert 20 <= len(down_attempts) <= 40  # ~7 doublings, then hourly, for 24 h
        assert all("ConnectError" in (a["error"] or "") for a in down_attempts)
        assert not any("s3cr3t" in str(a) for a in store.attempts())

        # Replay: the same event id again, as a new attempt; a dead one is pending again.
        delivered = store.deliveries(subscriber=subs["flaky"].id)[-1]
        assert store.replay(delivered["id"], clock.now()) == 1
        worker.deliver_once()
        assert flaky.delivered_ids() == [e.id for e in events] + [delivered["event_id"]]
        since = clock.now() - timedelta(days=3)
        assert store.replay_since(subs["down"].id, since, clock.now()) == 3
        assert {d["status"] for d in store.deliveries(subscriber=subs["down"].id)} == {PENDING}
    finally:
        worker.close()


def _at(row: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(row["at"]))


def test_forever_serves_each_subscriber_on_its_own(
    tmp_path: Path, subscriber_server: Callable[..., Subscriber]
) -> None:
    """``deliver --forever``: a subscriber slower than the poll keeps its thread busy while
    the healthy one gets every event; the slow one gets them all too, in order, once."""
    store = NotifyStore(f"sqlite:///{tmp_path / 'wb.sqlite'}")
    healthy, slow = subscriber_server(), subscriber_server("slow", slow_seconds=0.4)
    for server in (healthy, slow):
        store.subscribe(server.url, SECRET, "env:T", frozenset(EVENT_TYPES), Clock().now())
    events = _events(Clock(), 3)
    store.record([], events, Clock().now())
    worker = Worker(store, timeout=5.0)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(0.02, stop))
    started = time.perf_counter()
    thread.start()
    try:
        while len(healthy.delivered_ids()) < 3 and time.perf_counter() - started < 5:
            time.sleep(0.01)
        assert healthy.delivered_ids() == [e.id for e in events]
        while len(store.deliveries(status=DELIVERED)) < 6 and time.perf_counter() - started < 5:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
        worker.close()
    # Answered within the worker's timeout: each delivered once, in order.
    assert [r.event_id for r in slow.received] == [e.id for e in events]
    assert len(store.deliveries(status=DELIVERED)) == 6
    # The healthy one had all three before the slow one answered its first.
    assert max(r.at for r in healthy.received) < slow.received[0].at
