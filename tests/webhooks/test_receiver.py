"""The receiver over real HTTP, on SQLite and PostgreSQL: signatures, validation,
de-duplication and durability before the answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import orjson
import pytest

from st_contract.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, sign
from st_resources.webhooks.app import create_app
from st_resources.webhooks.store import WebhookStore
from tests.webhooks.conftest import KEY, Receiver


def _event(**overrides: object) -> bytes:
    body = {
        "eventId": str(uuid.uuid4()),
        "eventType": "jobs.updated",
        "tenantId": 1000001,
        "occurredOn": "2026-05-01T10:00:00.123456Z",
        "entity": "jobs",
        "entityId": 42,
        "data": {"id": 42, "modifiedOn": "2026-05-01T10:00:00.123456Z", "jobStatus": "Hold"},
    }
    return orjson.dumps({**body, **overrides})


def _post(receiver: Receiver, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return httpx.post(receiver.url, content=body, headers=headers)


def test_signatures_validation_and_replays(
    store_url: str, receiver_factory: Callable[..., Receiver]
) -> None:
    store = WebhookStore(store_url)
    receiver = receiver_factory(store)
    body = _event()

    missing = _post(receiver, body, None)
    assert missing.status_code == 401 and SIGNATURE_HEADER in missing.json()["error"]
    forged = _post(receiver, body, sign("x" * 40, body))
    assert forged.status_code == 401
    # The right signature of other bytes: the body was altered in transit.
    altered = _post(receiver, body.replace(b"Hold", b"Done"), sign(KEY, body))
    assert altered.status_code == 401
    assert store.count() == 0

    bad = b'{"eventId": "e1", "entity": "jobs"}'
    answer = _post(receiver, bad, sign(KEY, bad))
    assert answer.status_code == 400
    assert "entityId" in answer.json()["error"] and "occurredOn" in answer.json()["error"]
    not_json = b"\xff not json"
    assert _post(receiver, not_json, sign(KEY, not_json)).status_code == 400
    assert store.count() == 0

    first = _post(receiver, body, sign(KEY, body))
    assert first.status_code == 200 and first.json()["stored"] is True
    # Stored before the answer: visible to another reader at once.
    [event] = WebhookStore(store_url).after(0)
    assert (event.entity, event.entity_id, event.event_type) == ("jobs", 42, "jobs.updated")
    assert event.modified_on.isoformat() == "2026-05-01T10:00:00.123456+00:00"

    replay = _post(receiver, body, sign(KEY, body))
    assert replay.status_code == 200 and replay.json()["stored"] is False
    assert store.count() == 1
    assert httpx.get(receiver.url.rsplit("/", 2)[0] + "/healthz").json()["events"] == 1


def test_a_key_of_the_wrong_length_is_refused_without_echoing_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = WebhookStore(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with pytest.raises(ValueError, match="32 to 64 characters") as caught:
        create_app(store, "short-secret")
    assert "short-secret" not in str(caught.value)


def test_the_event_id_header_is_informative_only(
    tmp_path, receiver_factory: Callable[..., Receiver]
) -> None:  # type: ignore[no-untyped-def]
    store = WebhookStore(f"sqlite:///{tmp_path / 'w.sqlite'}")
    receiver = receiver_factory(store)
    body = _event()
    headers = {SIGNATURE_HEADER: sign(KEY, body), EVENT_ID_HEADER: "another-id"}
    assert httpx.post(receiver.url, content=body, headers=headers).status_code == 200
    # The body's eventId is the one signed, so the one kept.
    assert store.after(0)[0].event_id == orjson.loads(body)["eventId"]
