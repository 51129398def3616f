"""The receiver's entry point as ``make dev`` runs it: a subprocess with a generated key
in its environment, subscribed to a sandbox; and its settings errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

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


def test_the_receiver_refuses_to_start_without_a_valid_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    env["DAGSTER_HOME"] = str(tmp_path)
    cmd = [sys.executable, "-m", "st_resources.webhooks", "--port", "1"]
    missing = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and f"{KEY_ENV} is not set" in missing.stderr
    short = subprocess.run(
        cmd, env={**env, KEY_ENV: "too-short"}, capture_output=True, text=True, timeout=60
    )
    assert short.returncode == 2 and "32 to 64 characters" in short.stderr
    assert "too-short" not in short.stderr
