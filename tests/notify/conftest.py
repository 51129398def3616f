"""Webhook fixtures: the store on SQLite and PostgreSQL, local HTTP subscribers on free
loopback ports (healthy, failing, slow, down), and a simulated clock."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from st_resources.notify.signing import EVENT_ID_HEADER, SIGNATURE_HEADER


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'notify.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


@dataclass
class Clock:
    """A simulated clock: ``now`` for the worker, moved by the test."""

    at: datetime = field(default_factory=lambda: datetime(2026, 5, 1, 8, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Received:
    """One request a subscriber got, with what it answered."""

    event_id: str
    body: bytes
    signature: str
    answered: int
    at: float


class Subscriber:
    """A tiny HTTP subscriber on a free loopback port. ``mode``: ``ok`` (200), ``fail``
    (500) or ``slow`` (sleeps ``slow_seconds`` then 200: past the worker's timeout)."""

    def __init__(self, mode: str = "ok", slow_seconds: float = 1.0) -> None:
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.received: list[Received] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                mode = owner.mode
                if mode == "slow":
                    time.sleep(owner.slow_seconds)
                code = 500 if mode == "fail" else 200
                owner.received.append(
                    Received(
                        self.headers[EVENT_ID_HEADER],
                        body,
                        self.headers[SIGNATURE_HEADER],
                        # A slow answer comes after the worker gave up: not a delivery.
                        0 if mode == "slow" else code,
                        time.perf_counter(),
                    )
                )
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks?token=s3cr3t-query"

    def delivered_ids(self) -> list[str]:
        """The event ids answered 2xx, in order."""
        return [r.event_id for r in self.received if 200 <= r.answered < 300]

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.received if 200 <= r.answered < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def subscriber_server() -> Iterator[Callable[..., Subscriber]]:
    """Start local HTTP subscribers; all stop at teardown."""
    started: list[Subscriber] = []

    def make(mode: str = "ok", slow_seconds: float = 1.0) -> Subscriber:
        server = Subscriber(mode, slow_seconds)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


SECRET = "whsec_test_0123456789abcdef"
