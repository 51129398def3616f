"""Backend test helpers: session settings for the sandbox's demo users."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from st_resources.settings import SessionSettings
from st_sandbox.auth import DEMO_TOTP_SECRET

ALL_SECRETS = [
    "demo-password",
    "dispatch-password",
    "account-password",
    "readonly-password",
    DEMO_TOTP_SECRET,
]


@pytest.fixture
def settings_for() -> Callable[..., SessionSettings]:
    def make(base_url: str, username: str = "demo", **overrides: Any) -> SessionSettings:
        passwords = {
            "demo": "demo-password",
            "dispatcher": "dispatch-password",
            "accountant": "account-password",
            "readonly": "readonly-password",
        }
        methods = {"demo": "totp", "dispatcher": "sms", "accountant": "email", "readonly": "none"}
        values: dict[str, Any] = {
            "base_url": base_url,
            "username": username,
            "password": SecretStr(passwords.get(username, "wrong")),
            "mfa_method": methods.get(username, "none"),
            "totp_secret": SecretStr(DEMO_TOTP_SECRET),
            "max_retry_seconds": 60,
        }
        values.update(overrides)
        return SessionSettings(**values)

    return make


@pytest.fixture
def token_dir(tmp_path: Path) -> Path:
    return tmp_path / "tokens"
