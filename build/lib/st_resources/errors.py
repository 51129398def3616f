"""Typed errors of the ServiceTitan client. Each carries the API's error ``code``, HTTP
``status`` and ``request_id``, and a message that tells the user what to do next."""

from __future__ import annotations

from typing import Any


class ServiceTitanError(Exception):
    """Base of every error the client raises."""

    hint = ""

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: int | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.details = details or {}
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [self.message]
        if self.hint:
            parts.append(self.hint)
        meta = ", ".join(
            f"{k}={v}"
            for k, v in (
                ("code", self.code),
                ("status", self.status),
                ("requestId", self.request_id),
            )
            if v is not None
        )
        return " ".join(parts) + (f" [{meta}]" if meta else "")


class AuthenticationError(ServiceTitanError):
    """The tenant refused the credentials, or a request's token even after a renewal.

    ``settings`` names the settings of the backend in use (the session API's user and
    MFA, or the v2 app's client credentials), so the message says what to check.
    """

    def __init__(
        self, message: str, *, settings: str = "the backend's credentials", **kwargs: Any
    ) -> None:
        self.hint = f"Check {settings}."
        super().__init__(message, **kwargs)


class MfaError(ServiceTitanError):
    hint = "Check ST_MFA_METHOD and ST_TOTP_SECRET (or ST_MFA_CODE_COMMAND)."


class UserLockedError(ServiceTitanError):
    hint = "Wait until the lock expires or ask a tenant administrator; no retry was attempted."

    @property
    def locked_until(self) -> str | None:
        value = self.details.get("lockedUntil")
        return str(value) if value is not None else None


class ForbiddenError(ServiceTitanError):
    hint = "The API user lacks the role or business unit for this; use a user that has it."


class NotFoundError(ServiceTitanError):
    pass


class ConflictError(ServiceTitanError):
    """409: the write conflicts with the tenant's state; retrying will not help."""

    @property
    def kind(self) -> str:
        return self.code


class PreconditionFailedError(ServiceTitanError):
    hint = "The record changed since it was read: read it again and retry."


class ApiValidationError(ServiceTitanError):
    """400/422: the request is wrong; fix it rather than retrying."""


class UnsupportedOperation(ApiValidationError):
    """The selected backend has no such operation (its ``Capabilities`` say so, e.g.
    creating a job through the official v2 API); retrying cannot help: use the other
    backend or ServiceTitan itself."""


class RateLimitExceeded(ServiceTitanError):
    hint = (
        "Lower ST_RATE_LIMIT, or set ST_RATE_LIMIT_SHARE to the number of processes "
        "calling the tenant at once."
    )


class TransientError(ServiceTitanError):
    hint = "The tenant or the network failed repeatedly; retry later."


def error_for_status(
    status: int,
    code: str,
    message: str,
    request_id: str | None,
    details: dict[str, Any],
    *,
    auth_settings: str | None = None,
) -> ServiceTitanError:
    """The typed error for an API error answer; ``auth_settings`` names what a 401 should
    tell the user to check (the settings of the backend in use)."""
    kwargs: dict[str, Any] = {
        "code": code,
        "status": status,
        "request_id": request_id,
        "details": details,
    }
    if status == 423:
        return UserLockedError(message, **kwargs)
    if status == 401:
        if code.startswith("mfa_"):
            return MfaError(message, **kwargs)
        return AuthenticationError(
            message, settings=auth_settings or "the backend's credentials", **kwargs
        )
    if status == 403:
        return ForbiddenError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    if status == 412:
        return PreconditionFailedError(message, **kwargs)
    if status == 429:
        return RateLimitExceeded(message, **kwargs)
    if status >= 500:
        return TransientError(message, **kwargs)
    return ApiValidationError(message, **kwargs)
