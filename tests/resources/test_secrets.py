"""No password, TOTP secret, MFA code, token or refresh token in any log line or exception."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from st_contract.entities import ENTITIES_BY_NAME
from st_resources.auth import SessionAuth
from st_resources.errors import ServiceTitanError
from st_resources.redact import redact, register_secret
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_sandbox.cli import outbox_code_command
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
    settings_for: Callable[..., SessionSettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = sandbox_factory(customers=60, token_ttl=1)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    seen_secrets = list(ALL_SECRETS)
    with SessionBackend(settings_for(server.base_url, "demo", page_size=10)) as backend:
        for _ in backend.iter_records(ENTITIES_BY_NAME["customers"]):
            pass
        import time

        time.sleep(1.1)  # force a refresh
        backend.get_record(ENTITIES_BY_NAME["jobs"], 1)
        auth = backend.transport.auth
        assert isinstance(auth, SessionAuth) and auth.pair is not None
        seen_secrets += [auth.pair.token, auth.pair.refresh_token]
        texts += [repr(backend), repr(auth), repr(auth.pair), repr(backend.settings)]
    outbox = outbox_code_command(server.base_url)
    with SessionBackend(
        settings_for(server.base_url, "dispatcher", mfa_code_command=outbox)
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
        with SessionBackend(settings) as backend, pytest.raises(ServiceTitanError) as err:
            backend.get_record(ENTITIES_BY_NAME["jobs"], 1)
        texts += [str(err.value), repr(err.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert any("logged in" in t for t in texts)
    for text in texts:
        for secret in seen_secrets:
            assert secret not in text, f"secret leaked in: {text[:200]}"
