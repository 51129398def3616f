"""The delivery log in DuckDB (the asset and its export sensor) and the ``st-notify`` CLI:
secrets never printed, bad input refused with the reason, replay and one delivery pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from st_assets.defs.notify.assets import notify_deliveries
from st_assets.defs.notify.sensors import notify_deliveries_export
from st_resources.notify.cli import main
from st_resources.notify.events import make_event
from st_resources.notify.store import NotifyStore
from st_resources.notify.tables import EVENT_TYPES
from st_resources.notify.worker import Worker
from st_resources.warehouse import WarehouseResource
from st_resources.writeback.queue import WriteQueueResource
from tests.notify.conftest import SECRET, Subscriber, closed_port_url


def test_delivery_log_lands_in_duckdb(
    tmp_path: Path, subscriber_server: Callable[..., Subscriber]
) -> None:
    url = f"sqlite:///{tmp_path / 'wb.sqlite'}"
    store, now = NotifyStore(url), datetime.now(UTC)
    for target in (subscriber_server().url, closed_port_url()):
        store.subscribe(target, SECRET, "env:S", frozenset(EVENT_TYPES), now)
    store.record([], [make_event("job.done", f"x:{i}", now, None, {}) for i in range(2)], now)
    worker = Worker(store, timeout=1.0)
    try:
        worker.deliver_once()
    finally:
        worker.close()
    resources = {
        "warehouse": WarehouseResource(warehouse_dir=str(tmp_path / "warehouse")),
        "writeback_queue": WriteQueueResource(db_url=url),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = notify_deliveries_export(context)
        assert isinstance(result, dg.SensorResult) and len(result.run_requests or []) == 1
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=result.cursor
        ) as context:
            again = notify_deliveries_export(context)
        assert isinstance(again, dg.SensorResult) and not again.run_requests
        assert dg.materialize([notify_deliveries], resources=resources, instance=instance).success
    with duckdb.connect(str(tmp_path / "warehouse" / "warehouse.duckdb"), read_only=True) as con:
        log = con.sql(
            "SELECT outcome, count(*), bool_and(subscriber_url NOT LIKE '%s3cr3t%') "
            "FROM raw.webhook_deliveries GROUP BY 1 ORDER BY 1"
        ).fetchall()
        outbox = con.sql("SELECT status, count(*) FROM raw.webhook_outbox GROUP BY 1 ORDER BY 1")
        assert log == [("delivered", 2, True), ("failed", 1, True)]
        assert outbox.fetchall() == [("delivered", 2), ("pending", 2)]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    subscriber_server: Callable[..., Subscriber],
) -> None:
    db = ["--db-url", f"sqlite:///{tmp_path / 'wb.sqlite'}"]
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    (tmp_path / "secret").write_text(SECRET + "-file\n")
    server = subscriber_server()
    code, out, _ = _cli(
        capsys, *db, "subscribe", "--url", server.url, "--secret-env", "HOOK_SECRET"
    )
    sub = json.loads(out)
    assert code == 0 and sub["secret"] == "env:HOOK_SECRET" and SECRET not in out
    assert "s3cr3t" not in out  # the URL's query is masked too
    code, out, _ = _cli(
        capsys, *db, "subscribe", "--url", "http://127.0.0.1:1/x", "--secret-file",
        str(tmp_path / "secret"), "--events", "invoice.paid",
    )  # fmt: skip
    second = json.loads(out)["id"]
    code, out, _ = _cli(capsys, *db, "list")
    assert code == 0 and len(json.loads(out)) == 2 and SECRET not in out

    for argv, reason in [
        (["subscribe", "--url", "x", "--secret-env", "HOOK_SECRET"], "http:// or https://"),
        (["subscribe", "--url", server.url, "--secret-env", "NOPE"], "unset or empty"),
        (["subscribe", "--url", server.url, "--secret-env", "HOOK_SECRET", "--events", "job.x"],
         "unknown event type"),
        (["replay"], "DELIVERY_ID"),
        (["replay", "999"], "no delivery 999"),
        (["replay", "--subscriber", sub["id"], "--since", "yesterday"], "ISO time"),
        (["remove", "nobody"], "no subscriber 'nobody'"),
    ]:  # fmt: skip
        code, _, err = _cli(capsys, *db, *argv)
        assert code == 2 and reason in err, (argv, err)

    store = NotifyStore(db[1])
    now = datetime.now(UTC)
    store.record([], [make_event("job.done", "cli", now, None, {"jobId": 1})], now)
    code, out, _ = _cli(capsys, *db, "deliver")
    assert code == 0 and json.loads(out)["delivered"] == 1
    delivery = json.loads(_cli(capsys, *db, "deliveries", "--status", "delivered")[1])[0]
    code, out, _ = _cli(capsys, *db, "replay", str(delivery["id"]))
    assert code == 0 and json.loads(out) == {"requeued": 1}
    _cli(capsys, *db, "deliver")
    assert server.delivered_ids() == [delivery["event_id"]] * 2
    code, out, _ = _cli(capsys, *db, "remove", second)
    assert code == 0 and json.loads(out)["active"] is False
    assert len(json.loads(_cli(capsys, *db, "list")[1])) == 1
