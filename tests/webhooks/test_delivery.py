"""The sandbox delivers to the receiver over loopback: every change of a subscribed type
arrives signed, out of order and duplicated on purpose, and stored once; while the
receiver is down the (scaled) official retries deliver everything once it is back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import httpx
import orjson

from st_contract.webhooks import EVENT_TYPES
from st_resources.webhooks.store import WebhookStore
from st_sandbox.server import SandboxServer, free_port
from tests.webhooks.conftest import Receiver, deliveries, pending, subscribe, wait_for

CHANGING = ["appointments", "invoices", "payments", "customers", "memberships", "jobs"]
TYPES = [t for t in EVENT_TYPES if t.split(".")[0] in CHANGING]


def _activity(server: SandboxServer, steps: int) -> None:
    answer = httpx.post(f"{server.base_url}/_sandbox/activity", json={"steps": steps})
    assert answer.status_code == 200 and answer.json()["changed"] > 0


def _delivered(server: SandboxServer) -> set[str]:
    return {d["eventId"] for d in deliveries(server) if d["outcome"] == "delivered"}


def _settled(server: SandboxServer, store: WebhookStore) -> bool:
    """Every change sent (none queued, scheduled or in flight) and every event stored."""
    delivered = _delivered(server)
    return bool(delivered) and pending(server) == 0 and store.count() == len(delivered)


def test_out_of_order_and_duplicated_deliveries_are_all_stored_once(
    sandbox_factory: Callable[..., SandboxServer],
    store_url: str,
    receiver_factory: Callable[..., Receiver],
) -> None:
    server = sandbox_factory(customers=40, webhook_shuffle=True, webhook_duplicate_rate=0.5)
    store = WebhookStore(store_url)
    receiver = receiver_factory(store)
    subscribe(server, receiver.url, TYPES)
    _activity(server, 40)
    wait_for(lambda: _settled(server, store), 15, "every delivery to be stored")

    log = [d for d in deliveries(server) if d["outcome"] == "delivered"]
    copies = Counter(d["eventId"] for d in log)
    assert max(copies.values()) == 2, "some events were delivered twice"
    stored = store.after(0, limit=10_000)
    assert sorted(e.event_id for e in stored) == sorted(copies)  # each one stored once
    # Shuffled: the receiver saw events out of the order of their changes.
    occurred = [e.occurred_on for e in stored]
    assert occurred != sorted(occurred)
    # The body is the record in its v2 shape, signed as sent, of a subscribed type.
    for event in stored:
        assert event.event_type in TYPES
        assert event.body["data"]["id"] == event.entity_id
        assert "modifiedOn" in event.body["data"]


def test_retries_deliver_everything_after_the_receiver_was_down(
    sandbox_factory: Callable[..., SandboxServer],
    tmp_path,  # type: ignore[no-untyped-def]
    receiver_factory: Callable[..., Receiver],
) -> None:
    # Official delays 10, 30, 60, 300 s scaled to 0.1, 0.3, 0.6, 3 s.
    server = sandbox_factory(customers=40, webhook_retry_scale=0.01)
    store = WebhookStore(f"sqlite:///{tmp_path / 'writeback.sqlite'}")
    port = free_port()
    receiver = receiver_factory(store, port, start=False)
    subscribe(server, receiver.url, TYPES)
    _activity(server, 15)
    wait_for(
        lambda: {d["attempt"] for d in deliveries(server)} >= {1, 2},
        10,
        "the first retries against the stopped receiver",
    )
    assert store.count() == 0
    receiver.start()
    wait_for(lambda: _settled(server, store), 15, "the retries to deliver everything")

    log = deliveries(server)
    assert not [d for d in log if d["outcome"] == "failed"]
    assert {d["error"] for d in log if d["outcome"] == "retrying"} == {"ConnectError"}
    assert max(d["attempt"] for d in log) >= 3
    assert store.count() == len({d["eventId"] for d in log})


def test_subscriptions_are_validated_and_listed_without_keys(sandbox: SandboxServer) -> None:
    # The shared sandbox: the one subscription made here is removed at the end.
    server = sandbox
    url = f"{server.base_url}/_sandbox/webhooks/subscriptions"
    bad_type = httpx.post(
        url, json={"eventTypes": ["jobs.exploded"], "url": "http://x/y", "hmacKey": "k" * 40}
    )
    assert bad_type.status_code == 400 and "jobs.exploded" in bad_type.text
    short_key = httpx.post(
        url, json={"eventTypes": ["jobs.updated"], "url": "http://x/y", "hmacKey": "k"}
    )
    assert short_key.status_code == 400 and "32 to 64" in short_key.text
    subscribe(server, "http://127.0.0.1:9/hook", ["jobs.updated"])
    listed = httpx.get(url).json()["data"]
    assert [s["eventTypes"] for s in listed] == [["jobs.updated"]]
    assert "hmacKey" not in orjson.dumps(listed).decode()
    assert httpx.delete(f"{url}/{listed[0]['id']}").json() == {"removed": 1}
    assert httpx.get(url).json()["data"] == []
