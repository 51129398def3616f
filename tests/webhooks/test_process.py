"""The receiver's entry point as ``make dev`` runs it: a subprocess with a generated key
in its environment, subscribed to a sandbox; and its settings errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from st_resources.webhooks.__main__ import main as receiver_main
from st_resources.webhooks.store import WebhookStore
from st_sandbox.server import SandboxServer
from st_sandbox.webhooks.process import KEY_ENV, ReceiverProcess
from tests.webhooks.conftest import wait_for


def test_the_receiver_process_stores_what_the_subscribed_sandbox_sends(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = sandbox_factory(customers=30)
    db_url = f"sqlite:///{tmp_path / 'writeback.sqlite'}"
    log = tmp_path / "webhooks.log"
    with ReceiverProcess(log_file=log, env={"ST_WRITEBACK_DB_URL": db_url}) as receiver:
        receiver.subscribe(server.base_url)
        httpx.post(f"{server.base_url}/_sandbox/activity", json={"steps": 5})
        store = WebhookStore(db_url)
        wait_for(store.count, 15, "an event stored by the receiver process")
    assert receiver._key not in log.read_text()  # the key is never logged


def test_the_receiver_refuses_to_start_without_a_valid_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert receiver_main(["--port", "1"]) == 2
    assert f"{KEY_ENV} is not set" in capsys.readouterr().err
    monkeypatch.setenv(KEY_ENV, "too-short")
    assert receiver_main(["--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "32 to 64 characters" in err and "too-short" not in err
