"""Settings of the backends, independent of Dagster (the resources map their ``dg.EnvVar``
fields onto these). Secrets are ``SecretStr``: never printed.

``TransportSettings`` are what every backend's transport needs (rate limit, retries,
timeouts, page size); ``SessionSettings`` and ``V2Settings`` add how each logs in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# The largest ``pageSize`` ServiceTitan's list endpoints take: fewer calls per record.
MAX_PAGE_SIZE = 5000
# The application guid the v2 backend tags the jobs it books with (``externalData``), to
# find them again after a lost answer. Any fixed guid works as long as it stays the same
# for a tenant: changing it makes earlier bookings invisible to the look-before-write.
DEFAULT_APPLICATION_GUID = "5d1f2c8e-3b7a-4f69-9c1e-7a2b4d6e8f10"
HOSTS = {
    "production": ("https://auth.servicetitan.io", "https://api.servicetitan.io"),
    "integration": (
        "https://auth-integration.servicetitan.io",
        "https://api-integration.servicetitan.io",
    ),
}


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("URLs must start with http:// or https://, e.g. http://127.0.0.1:8765")
    return value.rstrip("/")


class TransportSettings(BaseModel):
    """Rate limit, retries, timeouts and page size: the same for every backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_limit: float = Field(default=60.0, gt=0, le=10_000)
    rate_limit_share: int = Field(
        default=1, ge=1, le=1000, description="Processes sharing the tenant's budget"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=50)
    max_retry_seconds: float = Field(default=120.0, gt=0, le=3600)
    page_size: int = Field(
        default=MAX_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description="Records per page (ST_PAGE_SIZE); the API's maximum by default",
    )

    @property
    def limiter_rate(self) -> float:
        """Requests per second this process allows itself: its share of ``rate_limit``
        (processes that run at once each take ``1 / rate_limit_share`` of the budget)."""
        return self.rate_limit / self.rate_limit_share


class SessionSettings(TransportSettings):
    """How to reach and log in to one tenant through its session API."""

    base_url: str = Field(description="The tenant's session API, e.g. https://tenant.example")
    username: str = Field(min_length=1)
    password: SecretStr
    mfa_method: Literal["totp", "sms", "email", "none"] = "totp"
    totp_secret: SecretStr | None = None
    mfa_code_command: str | None = Field(
        default=None, description="Shell command that prints the SMS/e-mail code"
    )
    token_cache_dir: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class V2Settings(TransportSettings):
    """How to reach one tenant through ServiceTitan's official v2 API (client credentials
    and the app key)."""

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    app_key: SecretStr
    tenant_id: int = Field(ge=1)
    environment: Literal["production", "integration"] = "production"
    auth_url: str | None = Field(default=None, description="Overrides the environment's host")
    api_url: str | None = Field(default=None, description="Overrides the environment's host")
    state_dir: Path | None = Field(default=None, description="Export continuation state")
    application_guid: str = Field(
        default=DEFAULT_APPLICATION_GUID,
        description="The guid of the externalData on the jobs the backend books "
        "(ST_APPLICATION_GUID): keep it fixed per tenant",
    )

    @field_validator("auth_url", "api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value) if value else None

    @field_validator("application_guid")
    @classmethod
    def _guid(cls, value: str) -> str:
        try:
            return str(UUID(value))
        except ValueError:
            raise ValueError(
                f"ST_APPLICATION_GUID (application_guid) must be a guid such as "
                f"{DEFAULT_APPLICATION_GUID}, not {value!r}"
            ) from None

    @property
    def auth_base(self) -> str:
        """The OAuth host (``/connect/token``)."""
        return self.auth_url or HOSTS[self.environment][0]

    @property
    def api_base(self) -> str:
        """The API host (``/{module}/v2/tenant/{tenant}/...``)."""
        return self.api_url or HOSTS[self.environment][1]
