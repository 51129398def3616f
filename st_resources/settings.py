"""Settings of the ServiceTitan client, independent of Dagster (the resource maps its
``dg.EnvVar`` fields onto these)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class ClientSettings(BaseModel):
    """How to reach and log in to one tenant. Secrets are ``SecretStr``: never printed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(description="The tenant's session API, e.g. https://tenant.example")
    username: str = Field(min_length=1)
    password: SecretStr
    mfa_method: Literal["totp", "sms", "email", "none"] = "totp"
    totp_secret: SecretStr | None = None
    mfa_code_command: str | None = Field(
        default=None, description="Shell command that prints the SMS/e-mail code"
    )
    rate_limit: float = Field(default=60.0, gt=0, le=10_000)
    rate_limit_share: int = Field(
        default=1, ge=1, le=1000, description="Processes sharing the tenant's budget"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=50)
    max_retry_seconds: float = Field(default=120.0, gt=0, le=3600)
    page_size: int = Field(default=1000, ge=1, le=5000)
    token_cache_dir: Path | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "base_url must start with http:// or https://, e.g. http://127.0.0.1:8765"
            )
        return value.rstrip("/")
