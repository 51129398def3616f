"""Shared fixtures: a real sandbox tenant on a free loopback port, demo credentials,
temporary warehouse folders and a PostgreSQL URL (skipped with a reason when none is
reachable, except under CI=true where it must be there).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxServer

# Small and fast by default; tests that need scale or faults build their own with
# `sandbox_factory`. The rate limit is off so that tests measure behaviour, not waiting.
DEFAULT_TEST_CONFIG: dict[str, Any] = {
    "seed": 7,
    "customers": 300,
    "rate_limit": 0,
}

DEMO_USER = {
    "username": "demo",
    "password": "demo-password",
    "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the cases marked ``e2e(spread=True)`` evenly through the collection.

    xdist (``-n 3``) hands each worker consecutive chunks of the collection. The write-back's
    chaos cases (a daemon each, a minute or more) sat together at its end, so one worker
    ran them one after the other while the others idled. Spread, each lands in another
    chunk while there is still work for the other workers. They go in at module
    boundaries only, so no module's fixtures are torn down between its tests.
    """
    spread = [item for item in items if _spread(item)]
    if not spread:
        return
    rest = [item for item in items if not _spread(item)]
    step = len(rest) // len(spread)
    for k, item in enumerate(reversed(spread)):
        at = _module_boundary(rest, (len(spread) - 1 - k) * step)
        rest.insert(at, item)
    items[:] = rest


def _spread(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("e2e")
    return bool(marker is not None and marker.kwargs.get("spread"))


def _module_boundary(items: list[pytest.Item], at: int) -> int:
    """The index nearest ``at`` where a new module starts (or the end)."""
    starts = [
        i
        for i in range(len(items) + 1)
        if i in (0, len(items)) or items[i - 1].path != items[i].path
    ]
    return min(starts, key=lambda i: abs(i - at))


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One read-mostly sandbox shared by the session (do not mutate it: use the factory)."""
    server = SandboxServer(SandboxConfig(**DEFAULT_TEST_CONFIG)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes with custom settings (TTL, faults, rate limit...); all stop at teardown."""
    started: list[SandboxServer] = []

    def make(**overrides: Any) -> SandboxServer:
        config = SandboxConfig(**{**DEFAULT_TEST_CONFIG, **overrides})
        server = SandboxServer(config).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def demo_user() -> dict[str, str]:
    """The sandbox's admin demo user with TOTP."""
    return dict(DEMO_USER)


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    """A fresh warehouse folder (landing Parquet and warehouse.duckdb) per test."""
    path = tmp_path / "warehouse"
    path.mkdir()
    return path


def _postgres_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL server URL; skips with a reason when none is reachable (fails under CI)."""
    url = os.environ.get("ST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    if not _postgres_reachable("127.0.0.1", 5432) and "ST_TEST_PG_URL" not in os.environ:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no PostgreSQL answers on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 (set ST_TEST_PG_URL to point at one)")
    return url


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards. Yields its URL."""
    import uuid

    import psycopg2

    name = f"st_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        base = postgres_url.rsplit("/", 1)[0]
        yield f"{base}/{name}"
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.close()
