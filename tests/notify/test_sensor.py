"""The ``notify_events`` sensor against a sandbox over HTTP, on both backends: it
baselines on its first tick, turns a dispatch made through the sandbox into exactly one
event per subscriber, and every new payment application into one ``invoice.paid``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from st_assets.defs.notify.sensors import notify_events
from st_contract.entities import SPECS_BY_NAME
from st_resources.notify.store import NotifyStore
from st_resources.notify.tables import EVENT_TYPES
from st_resources.reads import parse_timestamp
from st_resources.resource import ServiceTitanResource, SessionApiResource
from st_resources.writeback.queue import WriteQueueResource
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.server import SandboxServer
from tests.helpers import auth_client, sandbox_dump, v2_resource
from tests.notify.conftest import SECRET


def _api(backend: str, base_url: str, tmp: Path) -> ServiceTitanResource:
    if backend == "v2":
        return v2_resource(base_url, tmp / "tokens-v2")  # type: ignore[no-any-return]
    return SessionApiResource(
        base_url=base_url,
        username="demo",
        password="demo-password",
        totp_secret=DEMO_TOTP_SECRET,
        rate_limit=1000,
        token_cache_dir=str(tmp / "tokens"),
    )


class Ticker:
    """Ticks ``notify_events`` in a real Dagster instance, keeping its cursor."""

    def __init__(self, resources: dict[str, Any]) -> None:
        self.resources = resources
        self.cursor: str | None = None
        self.instance = dg.DagsterInstance.ephemeral()

    def tick(self) -> str:
        with dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        ) as context:
            result = notify_events(context)
        assert isinstance(result, dg.SensorResult) and not result.run_requests
        self.cursor = result.cursor
        assert result.skip_reason is not None
        return str(result.skip_reason.skip_message)


def _bodies(store: NotifyStore) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, body FROM notify_events").all()
    return {r[0]: json.loads(r[1]) for r in rows}


def _applications(server: SandboxServer) -> set[str]:
    return {
        f"{p['id']}:{a['appliedId']}"
        for p in sandbox_dump(server.base_url, "payments")
        for a in p["appliedTo"]
    }


@pytest.mark.parametrize(
    ("backend", "db"), [("session", "sqlite"), ("session", "postgres"), ("v2", "sqlite")]
)
def test_sensor_enqueues_one_event_per_change(
    backend: str,
    db: str,
    sandbox_factory: Callable[..., SandboxServer],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    server = sandbox_factory(customers=40)
    url = (
        str(request.getfixturevalue("pg_database"))
        if db == "postgres"
        else f"sqlite:///{tmp_path / 'wb.sqlite'}"
    )
    store = NotifyStore(url)
    ticker = Ticker(
        {
            "servicetitan": _api(backend, server.base_url, tmp_path),
            "writeback_queue": WriteQueueResource(db_url=url),
        }
    )
    assert "no subscribers" in ticker.tick()
    now = datetime.now(UTC)
    everything = store.subscribe(
        "http://127.0.0.1:1/a", SECRET, "env:A", frozenset(EVENT_TYPES), now
    )
    some = store.subscribe(
        "http://127.0.0.1:1/b", SECRET, "env:B", frozenset({"job.dispatched", "invoice.paid"}), now
    )
    store.subscribe("http://127.0.0.1:1/c", SECRET, "env:C", frozenset({"job.done"}), now)
    assert "baseline" in ticker.tick()
    assert store.deliveries() == []

    job = next(j for j in sandbox_dump(server.base_url, "jobs") if j["jobStatus"] == "Scheduled")
    with auth_client(server.base_url, "demo") as http:
        answer = http.patch(f"/jobs/{job['id']}/dispatch", json={"status": "Dispatched"})
        assert answer.status_code == 200, answer.text
    ticker.tick()
    deliveries = store.deliveries()
    assert sorted(d["subscriber_id"] for d in deliveries) == sorted([everything.id, some.id])
    assert len({d["event_id"] for d in deliveries}) == 1
    body = _bodies(store)[deliveries[0]["event_id"]]
    assert body["type"] == "job.dispatched" and body["data"]["jobId"] == job["id"]
    assert body["data"]["job"]["previousStatus"] == "Scheduled"
    assert [a["status"] for a in body["data"]["appointments"]] == ["Dispatched"]
    assert (body["tenantId"] is None) == (backend == "session")
    ticker.tick()  # the overlap reads the dispatch again: no second event
    assert len(store.deliveries()) == 2

    before = _applications(server)
    httpx.post(f"{server.base_url}/_sandbox/activity", json={"steps": 60}).raise_for_status()
    new = _applications(server) - before
    ticker.tick()
    paid = [b for b in _bodies(store).values() if b["type"] == "invoice.paid"]
    assert new and {f"{b['data']['paymentId']}:{b['data']['appliedId']}" for b in paid} == new
    to_some = store.deliveries(subscriber=some.id, limit=1000)
    assert len([d for d in to_some if d["type"] == "invoice.paid"]) == len(new)
    assert {d["type"] for d in to_some} <= {"job.dispatched", "invoice.paid"}


@pytest.mark.parametrize("backend", ["session", "v2"])
def test_both_backends_honour_modified_on_or_after(
    backend: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The sensor's reads: only the records modified at or after the filter, on both."""
    api = _api(backend, sandbox.base_url, tmp_path).get_backend()
    for name in ("jobs", "appointments", "payments"):
        stamps = sorted(r["modifiedOn"] for r in sandbox_dump(sandbox.base_url, name))
        cut = stamps[len(stamps) * 9 // 10]
        read = list(api.iter_records(SPECS_BY_NAME[name], {"modifiedOnOrAfter": cut}))
        expected = [s for s in stamps if parse_timestamp(s) >= parse_timestamp(cut)]
        assert 0 < len(read) == len(expected) < len(stamps), name
