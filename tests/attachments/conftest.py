"""Attachment fixtures: a small sandbox where every job has attachments, the backends
over it (session API and v2, real HTTP on loopback), and a blob store in a temp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from st_resources.attachments import BlobStore, DownloadPolicy
from st_resources.backend import Backend
from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxServer
from tests.conftest import DEFAULT_TEST_CONFIG
from tests.helpers import v2_resource
from tests.writeback.conftest import api_resource

# No pauses between attempts: the tests are about what is retried, not when.
FAST = DownloadPolicy(max_attempts=4, retry_delay=0.0)


LARGE_MB = 32


@pytest.fixture(scope="session")
def att_server() -> Iterator[SandboxServer]:
    """A 20-customer tenant where every job has attachments, and the lowest job a
    ``LARGE_MB`` one too; shared by the attachment tests of a worker (starting a sandbox
    costs seconds): each test uses jobs of its own (``job_ids(...)[n]``, a distinct ``n``
    per test) and puts back the faults it sets."""
    config = SandboxConfig(
        **{**DEFAULT_TEST_CONFIG, "customers": 20, "log_requests": False},
        attachment_share=1.0,
        large_attachment_mb=LARGE_MB,
    )
    server = SandboxServer(config).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A token cache shared with ``att_server``: one login per user and app (a TOTP
    code is single-use, so a second login within its 30 s would wait for the next)."""
    return tmp_path_factory.mktemp("tokens")


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Clear the attachment faults after each test that used the shared tenant."""
    yield
    if "att_server" in request.fixturenames:
        set_faults(request.getfixturevalue("att_server"))


def session_backend(server: SandboxServer, tmp: Path, user: str = "demo") -> Backend:
    """The session API backend as a sandbox user."""
    return api_resource(server.base_url, user, tmp / "tokens").get_backend()


def v2_backend(server: SandboxServer, tmp: Path, app: int = 0) -> Backend:
    """The v2 backend as a demo app (0: every scope, 1: read only)."""
    backend: Backend = v2_resource(server.base_url, tmp / f"v2tokens{app}", app).get_backend()
    return backend


def backend_of(kind: str, server: SandboxServer, tmp: Path) -> Backend:
    """``session`` or ``v2``."""
    return session_backend(server, tmp) if kind == "session" else v2_backend(server, tmp)


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    """A blob store in a fresh warehouse folder."""
    (tmp_path / "warehouse").mkdir()
    return BlobStore(tmp_path / "warehouse")


def job_ids(server: SandboxServer) -> list[int]:
    """The tenant's job ids, lowest first (the lowest carries the large attachment)."""
    return sorted(server.tenant.store.ids("jobs"))


def set_faults(server: SandboxServer, **faults: Any) -> dict[str, Any]:
    """``POST /_sandbox/attachments/faults``; answers the counters."""
    answer = httpx.post(f"{server.base_url}/_sandbox/attachments/faults", json=faults)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def counters(server: SandboxServer) -> dict[str, Any]:
    """``GET /_sandbox/attachments``."""
    return httpx.get(f"{server.base_url}/_sandbox/attachments").json()  # type: ignore[no-any-return]
