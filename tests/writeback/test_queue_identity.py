"""The ``writeback_requests`` cursor is tied to the queue's identity (issue #18): a queue
recreated or switched (SQLite to PostgreSQL) between ticks never has a request skipped,
with a real Dagster instance evaluating the sensor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from st_resources.writeback.identity import identity_metadata
from st_resources.writeback.queue import WriteQueue, metadata
from st_sandbox.server import SandboxServer
from tests.writeback.conftest import Harness

Factory = Callable[..., Harness]


def _submit(queue: WriteQueue, job_id: int) -> str:
    payload = {"job_id": job_id, "technician_ids": [1]}
    return queue.submit("dispatch", payload, requested_by="alice").request.id


def _keys(harness: Harness) -> list[str]:
    """The requests the tick launched (a batch of them per run), in order."""
    return [
        request_id
        for run in harness.tick().run_requests or []
        for op in (run.run_config or {})["ops"].values()
        for request_id in op["config"]["request_ids"]
    ]


def _recreate(queue: WriteQueue) -> None:
    """Drop and create the queue's tables, as a deleted and recreated database would be."""
    for meta in (metadata, identity_metadata):
        meta.drop_all(queue.engine)
        meta.create_all(queue.engine)


def test_identity_is_stable_and_per_database(sqlite_queue_url: str, pg_database: str) -> None:
    queue = WriteQueue(sqlite_queue_url)
    assert queue.identity() == WriteQueue(sqlite_queue_url).identity() == queue.identity()
    assert WriteQueue(pg_database).identity() not in {queue.identity()}
    before = queue.identity()
    _recreate(queue)
    assert queue.identity() != before


def test_a_recreated_queue_is_read_from_the_start(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Factory
) -> None:
    harness = harness_factory(server, sqlite_queue_url)
    first = [_submit(harness.queue, job) for job in (1, 2)]
    assert _keys(harness) == first
    _recreate(harness.queue)
    fresh = _submit(harness.queue, 3)  # seq 1 again: below the old cursor
    assert _keys(harness) == [fresh]
    assert _keys(harness) == []


def test_a_switch_from_sqlite_to_postgres_skips_nothing(
    server: SandboxServer, sqlite_queue_url: str, pg_database: str, harness_factory: Factory
) -> None:
    old = harness_factory(server, sqlite_queue_url)
    assert _keys(old) == []  # an idle tick stores the identity too
    sent = [_submit(old.queue, job) for job in (1, 2, 3)]
    assert _keys(old) == sent
    new = harness_factory(server, pg_database)
    new.cursors = dict(old.cursors)  # the instance keeps the sensor's cursor
    moved = _submit(new.queue, 4)
    assert _keys(new) == [moved]
    assert _keys(new) == []


def test_an_old_plain_number_cursor_starts_over(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Factory
) -> None:
    harness: Any = harness_factory(server, sqlite_queue_url)
    pending = [_submit(harness.queue, job) for job in (1, 2)]
    harness.cursors["writeback_requests"] = "2"
    # Run keys come from the request ids: the daemon launches nothing that already has a run.
    assert _keys(harness) == pending
