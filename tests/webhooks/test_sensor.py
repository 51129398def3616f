"""The ``webhook_events`` sensor with a real instance and the real definitions: stored
events become refreshes of the days and entities they touched, its cursor is tied to the
store, and (end to end) a sandbox change reaches ``raw.<entity>`` through the receiver,
the sensor and the run it asked for."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

from st_assets.definitions import load_defs
from st_assets.defs.ingest.partitions import partition_key_for
from st_assets.defs.ingest.refresh import CHANGING_OP, changing_partitions
from st_assets.defs.names import asset_key
from st_contract.webhooks import EVENT_TYPES, WebhookEvent
from st_resources.webhooks.store import WebhookStore
from st_resources.writeback.queue import WriteQueueResource
from st_sandbox.server import SandboxServer
from tests.assets.conftest import resources_for
from tests.webhooks.conftest import Receiver, deliveries, pending, subscribe, wait_for

SENSOR = "webhook_events"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _resources(base_url: str, warehouse: Path, db_url: str) -> dict[str, object]:
    return {
        **resources_for(base_url, warehouse),
        "writeback_queue": WriteQueueResource(db_url=db_url),
    }


def _defs(base_url: str, warehouse: Path, db_url: str) -> dg.Definitions:
    return dg.Definitions.merge(
        load_defs("ingest", "webhooks", start_date="2020-01-01"),
        dg.Definitions(resources=_resources(base_url, warehouse, db_url)),
    )


def _tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorResult:
    resources = defs.get_repository_def().get_top_level_resources()
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=dict(resources)
    ) as context:
        result = defs.resolve_sensor_def(SENSOR)(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _add(store: WebhookStore, entity: str, modified: datetime, entity_id: int = 1) -> None:
    stamp = modified.isoformat().replace("+00:00", "Z")
    event = WebhookEvent(
        eventId=str(uuid.uuid4()),
        eventType=f"{entity}.updated",
        tenantId=1,
        occurredOn=modified,
        entity=entity,
        entityId=entity_id,
        data={"id": entity_id, "modifiedOn": stamp},
    )
    assert store.add(event, event.model_dump_json().encode())


def test_events_become_refreshes_of_their_days_and_entities(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    db_url = f"sqlite:///{tmp_path / 'writeback.sqlite'}"
    defs = _defs("http://127.0.0.1:9", tmp_path / "warehouse", db_url)
    store = WebhookStore(db_url)
    first = _tick(defs, instance, None)
    assert first.skip_reason is not None and not first.run_requests

    now = datetime.now(UTC)
    earlier = now - timedelta(days=40)  # another month: a partition of its own
    _add(store, "jobs", now)
    _add(store, "invoices", now, 2)
    _add(store, "jobs", earlier, 3)
    _add(store, "technicians", now)  # not a webhook stream of the location: ignored
    result = _tick(defs, instance, first.cursor)
    partitions = changing_partitions(defs.get_repository_def())
    by_key = {r.partition_key: r for r in result.run_requests or []}
    assert set(by_key) == {partition_key_for(partitions, d.date()) for d in (now, earlier)}
    for day in (now, earlier):
        request = by_key[partition_key_for(partitions, day.date())]
        assert request.run_config["ops"][CHANGING_OP]["config"]["days"] == [day.date().isoformat()]
        assert request.asset_selection == [asset_key("invoices"), asset_key("jobs")]
        assert request.tags["servicetitan/webhook_events"] == "4"
        assert request.job_name == "servicetitan_changing"
        assert request.run_config["execution"] == {"config": {"in_process": {}}}

    again = _tick(defs, instance, result.cursor)
    assert again.skip_reason is not None and not again.run_requests
    # Another database (a new identity): its events are read from its start.
    other_url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    _add(WebhookStore(other_url), "payments", now)
    moved = _tick(
        _defs("http://127.0.0.1:9", tmp_path / "warehouse", other_url), instance, again.cursor
    )
    assert [r.asset_selection for r in moved.run_requests or []] == [[asset_key("payments")]]


def test_new_events_wait_while_a_requested_run_has_not_started(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    db_url = f"sqlite:///{tmp_path / 'writeback.sqlite'}"
    defs = _defs("http://127.0.0.1:9", tmp_path / "warehouse", db_url)
    store = WebhookStore(db_url)
    _add(store, "jobs", datetime.now(UTC))
    first = _tick(defs, instance, None)
    [request] = first.run_requests or []
    run = instance.create_run_for_job(
        defs.resolve_job_def("servicetitan_changing"),
        run_config=request.run_config,
        tags={**request.tags, "dagster/sensor_name": "webhook_events"},
        status=dg.DagsterRunStatus.NOT_STARTED,
    )
    _add(store, "payments", datetime.now(UTC))
    held = _tick(defs, instance, first.cursor)
    assert held.skip_reason is not None and run.run_id in str(held.skip_reason.skip_message)
    assert held.cursor is None  # the cursor stays: the events are not skipped
    instance.report_run_failed(run)  # no longer waiting (any status past starting)
    [later] = _tick(defs, instance, first.cursor).run_requests or []
    assert later.asset_selection == [asset_key("payments")]


def test_a_sandbox_change_reaches_the_warehouse_through_the_sensor(
    sandbox_factory: Callable[..., SandboxServer],
    receiver_factory: Callable[..., Receiver],
    tmp_path: Path,
    instance: dg.DagsterInstance,
) -> None:
    server = sandbox_factory(customers=40)
    db_url = f"sqlite:///{tmp_path / 'writeback.sqlite'}"
    store = WebhookStore(db_url)
    receiver = receiver_factory(store)
    subscribe(
        server, receiver.url, [t for t in EVENT_TYPES if t.startswith(("payments", "invoices"))]
    )
    answer = httpx.post(f"{server.base_url}/_sandbox/activity", json={"steps": 30})
    assert answer.status_code == 200
    wait_for(
        lambda: (
            pending(server) == 0
            and store.count() == len({d["eventId"] for d in deliveries(server)})
        ),
        15,
        "the deliveries",
    )
    events = store.after(0)

    defs = _defs(server.base_url, tmp_path / "warehouse", db_url)
    requests = _tick(defs, instance, None).run_requests or []
    assert requests
    job = defs.resolve_job_def("servicetitan_changing")
    for request in requests:
        result = job.execute_in_process(
            run_config=request.run_config,
            partition_key=request.partition_key,
            asset_selection=request.asset_selection,
            instance=instance,
            tags=request.tags,
        )
        assert result.success
    with duckdb.connect(str(tmp_path / "warehouse" / "warehouse.duckdb"), read_only=True) as con:
        for entity in {e.entity for e in events}:
            ids = {e.entity_id for e in events if e.entity == entity}
            landed = {row[0] for row in con.execute(f"SELECT id FROM raw.{entity}").fetchall()}
            assert ids <= landed, f"{entity}: {sorted(ids - landed)} did not land"
