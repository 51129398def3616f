"""The session backend's logins: each MFA method, bad credentials, lockout, and the
shared token cache."""

from __future__ import annotations

import json
import multiprocessing
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from st_contract.entities import ENTITIES_BY_NAME
from st_resources.auth import CallableCodeProvider, CommandCodeProvider
from st_resources.errors import AuthenticationError, MfaError, UserLockedError
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_sandbox.cli import outbox_code_command
from st_sandbox.server import SandboxServer

JOBS = ENTITIES_BY_NAME["jobs"]


def _stats(server: SandboxServer) -> dict:
    return httpx.get(f"{server.base_url}/_sandbox/stats").json()


def _first(backend: SessionBackend, entity: str) -> dict:
    return next(backend.iter_records(ENTITIES_BY_NAME[entity], {"pageSize": "5"}))


def test_login_with_totp_sms_and_email(
    sandbox: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    with SessionBackend(settings_for(sandbox.base_url, "demo")) as totp:
        assert _first(totp, "business_units")
    # SMS and e-mail codes come from a command (ST_MFA_CODE_COMMAND); the sandbox's
    # outbox-code command prints the newest one.
    outbox = outbox_code_command(sandbox.base_url)
    with SessionBackend(
        settings_for(sandbox.base_url, "accountant", mfa_code_command=outbox)
    ) as email:
        assert _first(email, "invoices")
    fn = CallableCodeProvider(CommandCodeProvider(outbox))
    with SessionBackend(settings_for(sandbox.base_url, "accountant"), code_provider=fn) as again:
        again.login()
        assert again.metrics.logins == 1


def test_sms_login_reads_the_code_through_the_outbox_command(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., SessionSettings]
) -> None:
    server = sandbox_factory(customers=30)
    settings = settings_for(
        server.base_url, "dispatcher", mfa_code_command=outbox_code_command(server.base_url)
    )
    assert settings.mfa_method == "sms"
    with SessionBackend(settings) as sms:
        assert _first(sms, "technicians")
        assert sms.metrics.logins == 1
    sent = httpx.get(f"{server.base_url}/_sandbox/outbox").json()["data"]
    assert [m["method"] for m in sent if m["username"] == "dispatcher"] == ["sms"]


def test_missing_mfa_configuration_is_a_clear_error(
    sandbox: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    with (
        SessionBackend(settings_for(sandbox.base_url, "dispatcher")) as backend,
        pytest.raises(MfaError) as err,
    ):
        backend.login()
    assert "ST_MFA_CODE_COMMAND" in str(err.value)
    bad = settings_for(sandbox.base_url, "demo", totp_secret=SecretStr("not base32!"))
    with SessionBackend(bad) as backend, pytest.raises(MfaError):
        backend.login()
    failing = CommandCodeProvider("false")
    with (
        SessionBackend(
            settings_for(sandbox.base_url, "dispatcher"), code_provider=failing
        ) as backend,
        pytest.raises(MfaError),
    ):
        backend.login()


def test_wrong_password_then_lockout_is_one_clear_error_without_retries(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., SessionSettings]
) -> None:
    server = sandbox_factory(customers=30, lockout_seconds=120)
    wrong = settings_for(server.base_url, "readonly", password=SecretStr("nope"))
    for _ in range(5):
        with SessionBackend(wrong) as backend, pytest.raises(AuthenticationError) as err:
            backend.get_record(JOBS, 1)
        assert "ST_PASSWORD" in str(err.value)
        assert "ST_CLIENT_SECRET" not in str(err.value)

    def logins() -> int:
        return sum(
            v for k, v in _stats(server)["requests"].items() if k.startswith("POST sessions")
        )

    before = logins()
    with (
        SessionBackend(settings_for(server.base_url, "readonly")) as backend,
        pytest.raises(UserLockedError) as locked,
    ):
        backend.get_record(JOBS, 1)
    assert locked.value.locked_until
    assert "locked" in str(locked.value)
    assert logins() - before == 1  # one attempt, no retry storm


def test_token_cache_is_private_holds_tokens_only_and_is_reused(
    sandbox_factory: Callable[..., SandboxServer],
    settings_for: Callable[..., SessionSettings],
    token_dir: Path,
) -> None:
    server = sandbox_factory(customers=30)
    settings = settings_for(server.base_url, "demo", token_cache_dir=token_dir)
    with SessionBackend(settings) as first:
        _first(first, "business_units")
    with SessionBackend(settings) as second:
        _first(second, "business_units")
        assert second.metrics.logins == 0
    cache = token_dir / "servicetitan-tokens.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    text = cache.read_text()
    assert "demo-password" not in text and "JBSWY3DP" not in text
    assert set(next(iter(json.loads(text).values()))) == {
        "token",
        "refresh_token",
        "expires_at",
        "refresh_after",
    }
    assert _stats(server)["auth"]["logins"] == 1


def _login_and_refresh(
    base_url: str, cache_dir: str | None, out: multiprocessing.Queue[str]
) -> None:
    from st_sandbox.auth import DEMO_TOTP_SECRET

    settings = SessionSettings(
        base_url=base_url,
        username="demo",
        password=SecretStr("demo-password"),
        totp_secret=SecretStr(DEMO_TOTP_SECRET),
        token_cache_dir=Path(cache_dir) if cache_dir else None,
    )
    try:
        with SessionBackend(settings) as backend:
            for _ in range(6):  # the token lives 1 s: this refreshes several times
                next(backend.iter_records(ENTITIES_BY_NAME["business_units"]))
                import time

                time.sleep(0.4)
        out.put("ok")
    except Exception as exc:  # reported to the parent test
        out.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("shared_cache", [True, False])
def test_two_processes_logging_in_and_refreshing_at_once_both_succeed(
    sandbox_factory: Callable[..., SandboxServer], token_dir: Path, shared_cache: bool
) -> None:
    server = sandbox_factory(customers=30, token_ttl=1)
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[str] = ctx.Queue()
    cache = str(token_dir) if shared_cache else None
    procs = [
        ctx.Process(target=_login_and_refresh, args=(server.base_url, cache, out)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = [out.get(timeout=5) for _ in procs]
    assert results == ["ok", "ok"], results
    auth = _stats(server)["auth"]
    assert auth["refreshes"] >= 2
    assert auth["logins"] == (1 if shared_cache else 2)


def test_four_logins_in_one_totp_step_all_succeed_the_fourth_after_the_next_step(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., SessionSettings]
) -> None:
    # Each 30-second code is single-use; the client falls back to the neighbouring steps.
    # The fourth finds every accepted code used and waits for the next step (found when
    # eleven entities of one run logged in on a sandbox other tests had just used).
    server = sandbox_factory(customers=30)
    for _ in range(4):
        with SessionBackend(settings_for(server.base_url, "demo")) as backend:
            backend.login()
    assert _stats(server)["auth"]["logins"] == 4
