"""The v2 backend's ``AuthStrategy``: OAuth2 client credentials, renewed before expiry
(single-flight) and after the API refuses a token."""

from __future__ import annotations

import threading
import time
from typing import Any

from st_resources.errors import AuthenticationError
from st_resources.redact import register_secret
from st_resources.settings import V2Settings
from st_resources.transport import Transport

TOKEN_MARGIN = 0.1  # renew once 90 % of a token's life has passed
V2_SETTINGS = "ST_CLIENT_ID, ST_CLIENT_SECRET, ST_APP_KEY and ST_TENANT_ID"


class ClientCredentialsAuth:
    """Holds a client-credentials token, renewing it before it expires or when refused.

    Tokens are kept in memory only: a new one costs one call, and no refresh token exists
    whose rotation processes would have to share.
    """

    settings_names = V2_SETTINGS

    def __init__(self, settings: V2Settings, transport: Transport) -> None:
        self.settings = settings
        self.transport = transport
        self.lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        register_secret(settings.client_secret.get_secret_value())
        register_secret(settings.app_key.get_secret_value())

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(client_id={self.settings.client_id!r}, token=[REDACTED])"

    def token(self) -> str:
        """A valid access token (requesting a new one first if needed); threads that find
        it stale together wait for one request."""
        with self.lock:
            if self._token is not None and time.monotonic() < self._renew_at:
                return self._token
            renewal = self._token is not None
            sent_at = time.monotonic()
            status, body = self.transport.send_unauthenticated(
                f"{self.settings.auth_base}/connect/token",
                form={
                    "grant_type": "client_credentials",
                    "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret.get_secret_value(),
                },
            )
            if status != 200 or "access_token" not in body:
                raise _refused(status, body)
            token = str(body["access_token"])
            register_secret(token)
            # The lifetime counts from the send: the server's clock started before the
            # answer arrived, and a slow answer must not eat the renewal margin.
            lifetime = float(body.get("expires_in") or 900)
            self._token = token
            self._renew_at = sent_at + lifetime * (1 - TOKEN_MARGIN)
            self.transport.metrics.add(**({"refreshes": 1} if renewal else {"logins": 1}))
            return token

    def invalidate(self, token: str) -> None:
        """The API refused ``token``: get a new one next time, unless another thread did."""
        with self.lock:
            if self._token == token:
                self._renew_at = 0.0


def _refused(status: int, body: dict[str, Any]) -> AuthenticationError:
    data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
    return AuthenticationError(
        f"the auth server refused the client credentials ({body.get('title') or status})",
        settings="ST_CLIENT_ID and ST_CLIENT_SECRET",
        code=str(data.get("code") or body.get("error") or f"http_{status}"),
        status=status,
    )
