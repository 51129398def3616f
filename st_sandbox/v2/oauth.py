"""OAuth2 client credentials for the sandbox's v2 surface, as ServiceTitan's identity
server issues them: ``POST /connect/token`` (form-encoded ``grant_type=client_credentials``,
``client_id``, ``client_secret``) answers ``{access_token, expires_in, token_type, scope}``.
Every v2 call then carries ``Authorization: Bearer`` and the app's ``ST-App-Key``; the
token's scopes decide which modules (and whether writes) the app may call.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from st_contract.catalog import MODULES as CATALOG_MODULES
from st_contract.v2_paths import MODULE_PREFIXES
from st_sandbox.errors import ApiError

SANDBOX_TENANT_ID = 1000001
# One read and one write scope per module, named like the official API's scopes.
# Every catalog module too (st_contract.catalog: all 24 of the specs), so the demo apps
# may read every stream the sandbox serves.
MODULES = tuple(
    dict.fromkeys(
        prefix.strip("/").split("/")[0]
        for prefix in (*MODULE_PREFIXES, *(m.prefix for m in CATALOG_MODULES.values()))
    )
)
ALL_SCOPES = tuple(f"tn.{m}:{rw}" for m in MODULES for rw in ("r", "w"))
# The Reporting API's official scopes (read only; st_sandbox/v2/reporting.py).
REPORTING_SCOPES = ("tn.rpr.reportcategories:r", "tn.rpr.reports:r")
# The forms module's job attachments (st_sandbox/attachments_routes.py).
ATTACHMENT_SCOPES = ("tn.frm.jobs:r", "tn.frm.jobs:w")
ALL_SCOPES = (*ALL_SCOPES, *REPORTING_SCOPES, *ATTACHMENT_SCOPES)
READ_SCOPES = tuple(s for s in ALL_SCOPES if s.endswith(":r"))


@dataclass(frozen=True)
class AppClient:
    """One registered app: its credentials, its app key and what it was granted."""

    client_id: str
    client_secret: str
    app_key: str
    tenant_id: int
    scopes: tuple[str, ...]


# The demo apps of the sandbox (docs/api.md, "v2 surface"): a full app and a read-only one.
DEMO_APPS = (
    AppClient(
        "cid.sandbox-demo",
        "cs1.sandbox-demo-secret",
        "ak1.sandbox-demo",
        SANDBOX_TENANT_ID,
        ALL_SCOPES,
    ),
    AppClient(
        "cid.sandbox-readonly",
        "cs1.sandbox-readonly-secret",
        "ak1.sandbox-readonly",
        SANDBOX_TENANT_ID,
        READ_SCOPES,
    ),
)


@dataclass
class AccessToken:
    """An issued token: its app, its scopes and when it expires (monotonic seconds)."""

    client: AppClient
    scopes: frozenset[str]
    expires: float


class OAuthService:
    """Issues and checks client-credentials tokens (in memory, like the session store)."""

    def __init__(self, apps: tuple[AppClient, ...], token_ttl: float) -> None:
        self.apps = {a.client_id: a for a in apps}
        self.app_keys = {a.app_key: a for a in apps}
        self.token_ttl = token_ttl
        self.tokens: dict[str, AccessToken] = {}
        self.lock = threading.Lock()

    def issue(self, form: dict[str, str]) -> dict[str, object]:
        """The token answer for a client-credentials request, or a 400/401 ``ApiError``."""
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        client = self.apps.get(form.get("client_id", ""))
        if client is None or not hmac.compare_digest(
            client.client_secret.encode(), form.get("client_secret", "").encode()
        ):
            raise ApiError(401, "invalid_client", "unknown client_id or wrong client_secret")
        wanted = set(form.get("scope", "").split()) or set(client.scopes)
        if not wanted <= set(client.scopes):
            extra = ", ".join(sorted(wanted - set(client.scopes)))
            raise ApiError(400, "invalid_scope", f"the app was not granted: {extra}")
        token = "st2_" + secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            self.tokens = {k: v for k, v in self.tokens.items() if v.expires > now}
            self.tokens[token] = AccessToken(client, frozenset(wanted), now + self.token_ttl)
        return {
            "access_token": token,
            "expires_in": int(self.token_ttl) if self.token_ttl >= 1 else self.token_ttl,
            "token_type": "Bearer",
            "scope": " ".join(sorted(wanted)),
        }

    def authenticate(
        self, authorization: str | None, app_key: str | None, tenant_id: int, scope: str
    ) -> AccessToken:
        """The caller's token if it may call ``scope`` on ``tenant_id``; a 401/403 otherwise."""
        # The official server also takes the bare token (clients such as servicepytan
        # send it without the scheme), so both forms are accepted.
        scheme, _, raw = (authorization or "").strip().partition(" ")
        if not raw:
            scheme, raw = "bearer", scheme
        if scheme.lower() != "bearer" or not raw.strip():
            raise ApiError(401, "token_missing", "send Authorization: Bearer <access_token>")
        with self.lock:
            token = self.tokens.get(raw.strip())
        if token is None:
            raise ApiError(401, "token_invalid", "the access token is not valid: get a new one")
        if token.expires <= time.monotonic():
            raise ApiError(401, "token_expired", "the access token expired: get a new one")
        if not app_key:
            raise ApiError(401, "app_key_missing", "send the ST-App-Key header of your app")
        if self.app_keys.get(app_key) != token.client:
            raise ApiError(401, "app_key_invalid", "ST-App-Key does not belong to this token's app")
        if tenant_id != token.client.tenant_id:
            raise ApiError(403, "forbidden", f"the app is not connected to tenant {tenant_id}")
        if scope not in token.scopes:
            raise ApiError(403, "forbidden", f"the token lacks the scope {scope}")
        return token
