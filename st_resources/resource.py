"""``ServiceTitanResource``: the Dagster resource that hands every asset and op of a
process the same logged-in client."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import dagster as dg
from pydantic import Field, SecretStr

from st_resources.auth import OutboxCodeProvider
from st_resources.client import ServiceTitanClient
from st_resources.settings import ClientSettings
from st_resources.v2 import ServiceTitanV2Client, V2Settings

_clients: dict[tuple[object, ...], ServiceTitanClient] = {}
_clients_lock = threading.Lock()


class ServiceTitanResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """A ServiceTitan tenant reached through its session API, or through the official v2
    API with ``auth="client_credentials"`` (``ST_CLIENT_ID``, ``ST_CLIENT_SECRET``,
    ``ST_APP_KEY``, ``ST_TENANT_ID``; production hosts unless ``environment`` or the URLs
    say otherwise).

    Configure it with ``dg.EnvVar`` (``ST_BASE_URL``, ``ST_USERNAME``, ``ST_PASSWORD``,
    ``ST_MFA_METHOD``, ``ST_TOTP_SECRET``, ``ST_MFA_CODE_COMMAND``, ``ST_RATE_LIMIT``): the
    UI then shows the variable names, never the values. One client per process is shared
    by every step in it, and processes share tokens through a cache under
    ``DAGSTER_HOME``, so a run logs in once.
    """

    auth: str = Field(
        default="session", description="session (session API) or client_credentials (official v2)"
    )
    base_url: str | None = Field(default=None, description="The tenant's session API")
    username: str | None = Field(default=None, description="API user")
    password: str | None = Field(default=None, description="API password (use dg.EnvVar)")
    client_id: str | None = Field(default=None, description="v2 app client id (ST_CLIENT_ID)")
    client_secret: str | None = Field(
        default=None, description="v2 app client secret (use dg.EnvVar: ST_CLIENT_SECRET)"
    )
    app_key: str | None = Field(
        default=None, description="v2 ST-App-Key (use dg.EnvVar: ST_APP_KEY)"
    )
    tenant_id: str | None = Field(default=None, description="v2 tenant id (ST_TENANT_ID)")
    environment: str = Field(
        default="production", description="v2 hosts: production or integration"
    )
    auth_url: str | None = Field(default=None, description="v2 auth host override (ST_AUTH_URL)")
    api_url: str | None = Field(default=None, description="v2 API host override (ST_API_URL)")
    mfa_method: str = Field(default="totp", description="totp, sms, email or none")
    totp_secret: str | None = Field(default=None, description="Base32 TOTP secret (use dg.EnvVar)")
    mfa_code_command: str | None = Field(
        default=None, description="Shell command printing the SMS/e-mail code"
    )
    use_sandbox_outbox: bool = Field(
        default=False, description="Read SMS/e-mail codes from the sandbox outbox (demo only)"
    )
    rate_limit: float = Field(default=60.0, description="Requests per second for the tenant")
    rate_limit_share: int = Field(
        default=1, description="Concurrent processes sharing the rate limit"
    )
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    page_size: int = 1000
    token_cache_dir: str | None = Field(
        default=None, description="Shared token cache; default $DAGSTER_HOME/.servicetitan"
    )

    def _cache_dir(self) -> str | None:
        cache = self.token_cache_dir
        if cache is None and os.environ.get("DAGSTER_HOME"):
            cache = str(Path(os.environ["DAGSTER_HOME"]) / ".servicetitan")
        return cache

    def settings(self) -> ClientSettings:
        """The client settings this resource stands for (resolved at run time)."""
        cache = self._cache_dir()
        missing = [n for n in ("base_url", "username", "password") if not getattr(self, n)]
        if missing:
            raise ValueError(
                f"auth=session needs {', '.join(missing)} (ST_BASE_URL, ST_USERNAME, "
                "ST_PASSWORD); or set ST_AUTH=client_credentials for the official v2 API"
            )
        assert self.base_url and self.username and self.password
        return ClientSettings(
            base_url=self.base_url,
            username=self.username,
            password=SecretStr(self.password),
            mfa_method=self.mfa_method,  # type: ignore[arg-type]
            totp_secret=SecretStr(self.totp_secret) if self.totp_secret else None,
            mfa_code_command=self.mfa_code_command or None,
            rate_limit=self.rate_limit,
            rate_limit_share=self.rate_limit_share,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            page_size=self.page_size,
            token_cache_dir=Path(cache) if cache else None,
        )

    def v2_settings(self) -> V2Settings:
        """The official v2 API settings this resource stands for (``auth=client_credentials``)."""
        missing = [
            var
            for var, value in (
                ("ST_CLIENT_ID", self.client_id),
                ("ST_CLIENT_SECRET", self.client_secret),
                ("ST_APP_KEY", self.app_key),
                ("ST_TENANT_ID", self.tenant_id),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"auth=client_credentials needs {', '.join(missing)}")
        cache = self._cache_dir()
        return V2Settings(
            client_id=str(self.client_id),
            client_secret=SecretStr(str(self.client_secret)),
            app_key=SecretStr(str(self.app_key)),
            tenant_id=int(str(self.tenant_id)),
            environment=self.environment,  # type: ignore[arg-type]
            auth_url=self.auth_url or None,
            api_url=self.api_url or None,
            rate_limit=self.rate_limit,
            rate_limit_share=self.rate_limit_share,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            page_size=self.page_size,
            state_dir=Path(cache) if cache else None,
        )

    def get_client(self) -> ServiceTitanClient:
        """The process-wide client for these settings (created on first use)."""
        if self.auth == "client_credentials":
            v2 = self.v2_settings()
            v2_key = ("v2", v2.auth_base, v2.api_base, v2.client_id, v2.tenant_id, v2.state_dir)
            with _clients_lock:
                if v2_key not in _clients:
                    _clients[v2_key] = ServiceTitanV2Client(v2)
                return _clients[v2_key]
        if self.auth != "session":
            raise ValueError(f"auth must be session or client_credentials, not {self.auth!r}")
        settings = self.settings()
        key = (
            settings.base_url,
            settings.username,
            settings.password.get_secret_value(),
            settings.mfa_method,
            settings.rate_limit,
            settings.token_cache_dir,
        )
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                provider = (
                    OutboxCodeProvider(settings.base_url) if self.use_sandbox_outbox else None
                )
                client = ServiceTitanClient(settings, code_provider=provider)
                _clients[key] = client
            return client
