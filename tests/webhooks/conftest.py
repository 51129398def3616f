"""The webhook receiver on a free loopback port (uvicorn in a thread), its store on
SQLite or PostgreSQL, and helpers to wait for the sandbox's deliveries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from st_resources.webhooks.app import PATH, create_app
from st_resources.webhooks.store import WebhookStore
from st_sandbox.server import SandboxServer, free_port

KEY = "k" * 24 + "-webhook-test-key-0123456789"  # 52 characters


class Receiver:
    """The receiver app served by uvicorn in a background thread."""

    def __init__(self, store: WebhookStore, port: int = 0, key: str = KEY) -> None:
        self.store = store
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self._key = key
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        """Serve and return once ``/healthz`` answers."""
        config = uvicorn.Config(
            create_app(self.store, self._key),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: _healthy(self.port), 10, "the receiver to answer")
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def deliveries(server: SandboxServer) -> list[dict[str, Any]]:
    """The sandbox's delivery log."""
    answer = httpx.get(f"{server.base_url}/_sandbox/webhooks/deliveries")
    return list(answer.json()["data"])


def pending(server: SandboxServer) -> int:
    """Changes and deliveries the sandbox has not finished."""
    answer = httpx.get(f"{server.base_url}/_sandbox/webhooks/deliveries")
    return int(answer.json()["pending"])


def subscribe(server: SandboxServer, url: str, event_types: list[str], key: str = KEY) -> None:
    """Subscribe the sandbox's ``event_types`` to ``url``."""
    answer = httpx.post(
        f"{server.base_url}/_sandbox/webhooks/subscriptions",
        json={"eventTypes": event_types, "url": url, "hmacKey": key},
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store on SQLite (a temp file) and on PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'writeback.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    """Build receivers (started or not); all stop at teardown."""
    made: list[Receiver] = []

    def make(store: WebhookStore, port: int = 0, start: bool = True) -> Receiver:
        receiver = Receiver(store, port)
        made.append(receiver)
        return receiver.start() if start else receiver

    yield make
    for receiver in made:
        receiver.stop()
