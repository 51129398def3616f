"""Tokens never fail a read, on both backends: eight windows read concurrently while
one-second tokens expire (some in flight, slowed past their lifetime by the tenant) land
every record, every time; the 401s are absorbed by one renewal for all threads; and an
authentication failure names the settings of the backend in use, never a secret."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from st_contract.entities import ENTITIES_BY_NAME
from st_contract.v2_paths import V2_PATHS
from st_resources.backend import Backend
from st_resources.errors import AuthenticationError
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings, V2Settings
from st_resources.v2 import V2Backend
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.helpers import sandbox_dump

JOBS = ENTITIES_BY_NAME["jobs"]
WINDOWS = 8
REPEATS = 3
PAGE_SIZE = 25


def _v2_settings(base_url: str, **overrides: object) -> V2Settings:
    app = DEMO_APPS[0]
    values: dict[str, object] = {
        "client_id": app.client_id,
        "client_secret": SecretStr(app.client_secret),
        "app_key": SecretStr(app.app_key),
        "tenant_id": SANDBOX_TENANT_ID,
        "auth_url": base_url,
        "api_url": base_url,
        "rate_limit": 1000,
        "page_size": PAGE_SIZE,
        **overrides,
    }
    return V2Settings.model_validate(values)


def _backend(kind: str, base_url: str) -> SessionBackend | V2Backend:
    if kind == "v2":
        return V2Backend(_v2_settings(base_url))
    settings = SessionSettings(
        base_url=base_url,
        username="readonly",
        password=SecretStr("readonly-password"),
        mfa_method="none",
        rate_limit=1000,
        page_size=PAGE_SIZE,
    )
    return SessionBackend(settings)


def _windows(end: datetime) -> list[tuple[datetime, datetime]]:
    """The whole history (three years, and a margin) in eight equal windows."""
    step = timedelta(days=1100) / WINDOWS
    return [(end - step * (WINDOWS - i), end - step * (WINDOWS - i - 1)) for i in range(WINDOWS)]


def _read_route(kind: str) -> str:
    return "/jobs" if kind == "session" else V2_PATHS["jobs"].export_url(SANDBOX_TENANT_ID)


@pytest.mark.parametrize("kind", ["session", "v2"])
def test_eight_concurrent_windows_land_everything_while_one_second_tokens_expire(
    kind: str, sandbox_factory: Callable[..., SandboxServer]
) -> None:
    server = sandbox_factory(customers=150, token_ttl=1)
    base = server.base_url
    if kind == "v2":
        httpx.post(f"{base}/_sandbox/v2/export-page-size", json={"exportPageSize": PAGE_SIZE})
    expected = sorted(r["id"] for r in sandbox_dump(base, "jobs"))
    windows = _windows(datetime.now(UTC) + timedelta(seconds=1))
    for repeat in range(REPEATS):
        # Sixteen reads in a row slowed past the token's lifetime (a certain 401 each:
        # the token expires in flight), so the first retries of the eight threads are
        # slowed and refused again; and a seeded 5 % of the others as well.
        faults = {
            "slowRate": 0.05,
            "slowMs": 1200,
            "seed": repeat,
            "targeted": [{"route": _read_route(kind), "nth": 2, "status": "slow", "times": 16}],
        }
        assert httpx.post(f"{base}/_sandbox/faults", json=faults).is_success
        with _backend(kind, base) as backend:

            def read(window: tuple[datetime, datetime], backend: Backend = backend) -> list[int]:
                tables = backend.iter_window_tables(JOBS, *window, datetime.now(UTC))
                return [i for table in tables for i in table.column("id").to_pylist()]

            with ThreadPoolExecutor(WINDOWS) as pool:
                ids = sorted(i for window in pool.map(read, windows) for i in window)
            metrics = backend.metrics.snapshot()
        assert ids == expected, f"repeat {repeat}: {len(ids)} of {len(expected)} records"
        assert metrics["token_retries"] >= 16, metrics  # the 401s were absorbed
        assert metrics["refreshes"] >= 2, metrics  # renewed before expiry, several times
        assert metrics["logins"] == 1, metrics  # never a second login: no refresh race
    stats = httpx.get(f"{base}/_sandbox/stats").json()
    assert stats["faults"]["injected"]["slow"] >= REPEATS * 16
    if kind == "session":
        assert stats["auth"]["logins"] == REPEATS


def test_a_v2_authentication_failure_names_the_v2_settings_and_no_secret(
    sandbox: SandboxServer,
) -> None:
    wrong_secret = _v2_settings(sandbox.base_url, client_secret=SecretStr("cs1.not-the-secret"))
    with V2Backend(wrong_secret) as backend, pytest.raises(AuthenticationError) as refused:
        backend.get_record(JOBS, 1)
    text = str(refused.value)
    assert "ST_CLIENT_ID" in text and "ST_CLIENT_SECRET" in text
    assert "ST_USERNAME" not in text and "ST_PASSWORD" not in text
    assert "cs1.not-the-secret" not in text

    # A valid token refused for another reason (the app key of another app) is not
    # retried as an expiry, and its error names the v2 settings too.
    other_key = SecretStr(DEMO_APPS[1].app_key)
    with (
        V2Backend(_v2_settings(sandbox.base_url, app_key=other_key)) as backend,
        pytest.raises(AuthenticationError) as refused,
    ):
        backend.get_record(JOBS, 1)
    text = str(refused.value)
    assert refused.value.code == "app_key_invalid"
    assert "ST_APP_KEY" in text and "ST_USERNAME" not in text
    assert DEMO_APPS[1].app_key not in text and backend.metrics.token_retries == 0
