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

_clients: dict[tuple[object, ...], ServiceTitanClient] = {}
_clients_lock = threading.Lock()


class ServiceTitanResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """A ServiceTitan tenant reached through its session API.

    Configure it with ``dg.EnvVar`` (``ST_BASE_URL``, ``ST_USERNAME``, ``ST_PASSWORD``,
    ``ST_MFA_METHOD``, ``ST_TOTP_SECRET``, ``ST_MFA_CODE_COMMAND``, ``ST_RATE_LIMIT``): the
    UI then shows the variable names, never the values. One client per process is shared
    by every step in it, and processes share tokens through a cache under
    ``DAGSTER_HOME``, so a run logs in once.
    """

    base_url: str = Field(description="The tenant's session API")
    username: str = Field(description="API user")
    password: str = Field(description="API password (use dg.EnvVar)")
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

    def settings(self) -> ClientSettings:
        """The client settings this resource stands for (resolved at run time)."""
        cache = self.token_cache_dir
        if cache is None and os.environ.get("DAGSTER_HOME"):
            cache = str(Path(os.environ["DAGSTER_HOME"]) / ".servicetitan")
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

    def get_client(self) -> ServiceTitanClient:
        """The process-wide client for these settings (created on first use)."""
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
