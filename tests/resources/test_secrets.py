"""No password, TOTP secret, MFA code, token or refresh token in any log line or exception."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from st_resources.auth import OutboxCodeProvider
from st_resources.client import ServiceTitanClient
from st_resources.errors import ServiceTitanError
from st_resources.redact import redact, register_secret
from st_resources.settings import ClientSettings
from st_sandbox.server import SandboxServer
from tests.resources.conftest import ALL_SECRETS


def test_redact_masks_registered_and_secret_shaped_values() -> None:
    register_secret("s3cr3t-value")
    text = redact(
        'password="hunter2" Bearer abc.def s3cr3t-value rt_AAAAAAAAAAAAAAAAAAAAAA code=double_booking'
    )
    assert "hunter2" not in text and "abc.def" not in text and "s3cr3t-value" not in text
    assert "rt_AAAA" not in text
    assert "code=double_booking" in text  # error codes stay readable


def test_no_secret_in_debug_logs_or_exceptions(
    sandbox_factory: Callable[..., SandboxServer],
    settings_for: Callable[..., ClientSettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = sandbox_factory(customers=60, token_ttl=1)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    seen_secrets = list(ALL_SECRETS)
    with ServiceTitanClient(settings_for(server.base_url, "demo", page_size=10)) as client:
        for _ in client.iter_records("/customers"):
            pass
        import time

        time.sleep(1.1)  # force a refresh
        client.get_json("/jobs", {"pageSize": 1})
        assert client.auth.pair is not None
        seen_secrets += [client.auth.pair.token, client.auth.pair.refresh_token]
        texts += [repr(client), repr(client.auth), repr(client.auth.pair), repr(client.settings)]
    outbox = OutboxCodeProvider(server.base_url)
    with ServiceTitanClient(
        settings_for(server.base_url, "dispatcher"), code_provider=outbox
    ) as sms:
        sms.login()
        seen_secrets += [
            m["code"] for m in httpx.get(f"{server.base_url}/_sandbox/outbox").json()["data"]
        ]
    failures = [
        settings_for(server.base_url, "readonly", password=SecretStr("demo-password")),
        settings_for(server.base_url, "demo", totp_secret=SecretStr("JBSWY3DPEHPK3PXQ")),
        settings_for(server.base_url, "dispatcher"),
    ]
    for settings in failures:
        with ServiceTitanClient(settings) as client, pytest.raises(ServiceTitanError) as err:
            client.get_json("/jobs")
        texts += [str(err.value), repr(err.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert any("logged in" in t for t in texts)
    for text in texts:
        for secret in seen_secrets:
            assert secret not in text, f"secret leaked in: {text[:200]}"
