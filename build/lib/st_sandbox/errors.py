"""The one error shape of the sandbox API: ``{error: {code, message, details, requestId}}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API error with its HTTP status, machine-readable code and a helpful message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body of the error answer."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "requestId": request_id,
            }
        }
