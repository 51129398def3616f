"""The Dagster resources of a tenant: ``SessionApiResource`` (the session API) and
``V2ApiResource`` (ServiceTitan's official v2 API), both a ``ServiceTitanResource``.

Assets and ops declare ``servicetitan: ServiceTitanResource`` and call ``get_backend()``;
which backend they get is which resource the code location binds (``resource_from_env``
picks it from ``ST_BACKEND``). One backend per process and settings is shared by every
step in it, and session processes share tokens through a cache under ``DAGSTER_HOME``,
so a run logs in once.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field, SecretStr

from st_resources.backend import Backend
from st_resources.session import SessionBackend
from st_resources.settings import (
    DEFAULT_APPLICATION_GUID,
    MAX_PAGE_SIZE,
    SessionSettings,
    TransportSettings,
    V2Settings,
)
from st_resources.v2 import V2Backend

_backends: dict[tuple[str, TransportSettings], Backend] = {}
_backends_lock = threading.Lock()

BackendName = Literal["session", "v2"]
# The variables each backend cannot run without (the write-back CLI checks them first).
REQUIRED_ENV: dict[BackendName, tuple[str, ...]] = {
    "session": ("ST_BASE_URL", "ST_USERNAME", "ST_PASSWORD"),
    "v2": ("ST_CLIENT_ID", "ST_CLIENT_SECRET", "ST_APP_KEY", "ST_TENANT_ID"),
}


class ServiceTitanResource(dg.ConfigurableResource, ABC):
    """A ServiceTitan tenant: the transport settings every backend shares, and the
    backend itself through ``get_backend()``.

    Configure secrets with ``dg.EnvVar``: the UI then shows the variable names, never
    the values.
    """

    rate_limit: float = Field(default=60.0, description="Requests per second for the tenant")
    rate_limit_share: int = Field(
        default=1,
        description="Processes calling the tenant at once (ST_RATE_LIMIT_SHARE): each "
        "allows itself rate_limit / rate_limit_share",
    )
    page_size: int = Field(
        default=MAX_PAGE_SIZE,
        description=f"Records per page (ST_PAGE_SIZE), 1 to {MAX_PAGE_SIZE}",
    )
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    token_cache_dir: str | None = Field(
        default=None,
        description="Shared token cache (v2: export state); default $DAGSTER_HOME/.servicetitan",
    )

    @abstractmethod
    def settings(self) -> TransportSettings:
        """The backend settings this resource stands for (resolved at run time)."""

    @abstractmethod
    def _new_backend(self) -> Backend:
        """A new backend for ``settings()``."""

    def get_backend(self) -> Backend:
        """The process-wide backend for these settings (created on first use)."""
        key = (type(self).__name__, self.settings())
        with _backends_lock:
            backend = _backends.get(key)
            if backend is None:
                backend = _backends[key] = self._new_backend()
            return backend

    def _transport_fields(self) -> dict[str, Any]:
        return {
            "rate_limit": self.rate_limit,
            "rate_limit_share": self.rate_limit_share,
            "timeout_seconds": self.timeout_seconds,
            "max_attempts": self.max_attempts,
            "page_size": checked_page_size(self.page_size),
        }

    def _cache_dir(self) -> Path | None:
        if self.token_cache_dir:
            return Path(self.token_cache_dir)
        home = os.environ.get("DAGSTER_HOME")
        return Path(home) / ".servicetitan" if home else None


class SessionApiResource(ServiceTitanResource):
    """A tenant through its session API: a user with MFA (``ST_BASE_URL``,
    ``ST_USERNAME``, ``ST_PASSWORD``, ``ST_MFA_METHOD``, ``ST_TOTP_SECRET`` or
    ``ST_MFA_CODE_COMMAND``)."""

    base_url: str = Field(description="The tenant's session API (ST_BASE_URL)")
    username: str = Field(description="API user (ST_USERNAME)")
    password: str = Field(description="API password (use dg.EnvVar: ST_PASSWORD)")
    mfa_method: Literal["totp", "sms", "email", "none"] = Field(
        default="totp", description="ST_MFA_METHOD"
    )
    totp_secret: str | None = Field(default=None, description="Base32 TOTP secret (use dg.EnvVar)")
    mfa_code_command: str | None = Field(
        default=None, description="Shell command printing the SMS/e-mail code"
    )

    def settings(self) -> SessionSettings:
        """The session backend's settings."""
        return SessionSettings(
            base_url=self.base_url,
            username=self.username,
            password=SecretStr(self.password),
            mfa_method=self.mfa_method,
            totp_secret=SecretStr(self.totp_secret) if self.totp_secret else None,
            mfa_code_command=self.mfa_code_command or None,
            token_cache_dir=self._cache_dir(),
            **self._transport_fields(),
        )

    def _new_backend(self) -> Backend:
        return SessionBackend(self.settings())


class V2ApiResource(ServiceTitanResource):
    """A tenant through ServiceTitan's official v2 API: an app's client credentials and
    key (``ST_CLIENT_ID``, ``ST_CLIENT_SECRET``, ``ST_APP_KEY``, ``ST_TENANT_ID``;
    production hosts unless ``environment`` or the URLs say otherwise)."""

    client_id: str = Field(description="The app's client id (ST_CLIENT_ID)")
    client_secret: str = Field(description="The app's client secret (use dg.EnvVar)")
    app_key: str = Field(description="The app's ST-App-Key (use dg.EnvVar)")
    tenant_id: int = Field(description="The tenant id (ST_TENANT_ID)")
    environment: Literal["production", "integration"] = Field(
        default="production", description="The v2 hosts (ST_ENVIRONMENT)"
    )
    auth_url: str | None = Field(default=None, description="Auth host override (ST_AUTH_URL)")
    api_url: str | None = Field(default=None, description="API host override (ST_API_URL)")
    application_guid: str = Field(
        default=DEFAULT_APPLICATION_GUID,
        description="The guid tagging the jobs the backend books (ST_APPLICATION_GUID)",
    )

    def settings(self) -> V2Settings:
        """The v2 backend's settings."""
        return V2Settings(
            client_id=self.client_id,
            client_secret=SecretStr(self.client_secret),
            app_key=SecretStr(self.app_key),
            tenant_id=self.tenant_id,
            environment=self.environment,
            auth_url=self.auth_url or None,
            api_url=self.api_url or None,
            state_dir=self._cache_dir(),
            application_guid=self.application_guid,
            **self._transport_fields(),
        )

    def _new_backend(self) -> Backend:
        return V2Backend(self.settings())


def backend_from_env() -> BackendName:
    """The backend the environment selects: ``ST_BACKEND=v2`` (or the older
    ``ST_AUTH=client_credentials``) for the official v2 API, else the session API."""
    chosen = os.environ.get("ST_BACKEND", "").strip().lower()
    if chosen not in ("", "session", "v2"):
        raise ValueError(f"ST_BACKEND must be session or v2, not {chosen!r}")
    if chosen == "v2" or (not chosen and os.environ.get("ST_AUTH") == "client_credentials"):
        return "v2"
    return "session"


def _from_env(variables: dict[str, str]) -> dict[str, Any]:
    """``dg.EnvVar`` for each variable that exists now (an unset optional one keeps its
    documented default instead of failing the run)."""
    return {field: dg.EnvVar(var) for var, field in variables.items() if var in os.environ}


def _literal_from_env(var: str, field: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A choice read now (``dg.EnvVar`` only fills text fields), checked with a message
    that names the variable."""
    value = os.environ.get(var)
    if value is None:
        return {}
    if value not in allowed:
        raise ValueError(f"{var} must be one of {', '.join(allowed)}, not {value!r}")
    return {field: value}


def checked_page_size(value: object) -> int:
    """``value`` as a page size, or a ``ValueError`` naming ``ST_PAGE_SIZE`` and its range
    (the settings' own error would name a field the user never set)."""
    text = str(value).strip()
    size = int(text) if text.lstrip("-").isdigit() else None
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(
            f"ST_PAGE_SIZE (page_size) must be a whole number from 1 to {MAX_PAGE_SIZE}, "
            f"not {text!r}"
        )
    return size


def _transport_from_env() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "ST_PAGE_SIZE" in os.environ:
        # Checked now, for a clear error when the location loads; resolved at run time.
        checked_page_size(os.environ["ST_PAGE_SIZE"])
        fields["page_size"] = dg.EnvVar.int("ST_PAGE_SIZE")
    if "ST_RATE_LIMIT" in os.environ:
        # Read now: dg.EnvVar only fills text and integer fields.
        fields["rate_limit"] = float(os.environ["ST_RATE_LIMIT"])
    if "ST_RATE_LIMIT_SHARE" in os.environ:
        fields["rate_limit_share"] = dg.EnvVar.int("ST_RATE_LIMIT_SHARE")
    return fields


def resource_from_env() -> ServiceTitanResource:
    """The resource the ``ST_*`` variables describe, wired with ``dg.EnvVar`` (values are
    resolved when a run starts). Call it when the code location loads, never at import:
    which optional variables exist is read at call time."""
    transport = _transport_from_env()
    if backend_from_env() == "v2":
        return V2ApiResource(
            client_id=dg.EnvVar("ST_CLIENT_ID"),
            client_secret=dg.EnvVar("ST_CLIENT_SECRET"),
            app_key=dg.EnvVar("ST_APP_KEY"),
            tenant_id=dg.EnvVar.int("ST_TENANT_ID"),
            **_literal_from_env("ST_ENVIRONMENT", "environment", ("production", "integration")),
            **_from_env(
                {
                    "ST_AUTH_URL": "auth_url",
                    "ST_API_URL": "api_url",
                    "ST_APPLICATION_GUID": "application_guid",
                }
            ),
            **transport,
        )
    return SessionApiResource(
        base_url=dg.EnvVar("ST_BASE_URL"),
        username=dg.EnvVar("ST_USERNAME"),
        password=dg.EnvVar("ST_PASSWORD"),
        **_literal_from_env("ST_MFA_METHOD", "mfa_method", ("totp", "sms", "email", "none")),
        **_from_env({"ST_TOTP_SECRET": "totp_secret", "ST_MFA_CODE_COMMAND": "mfa_code_command"}),
        **transport,
    )
