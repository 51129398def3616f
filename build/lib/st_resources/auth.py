"""The session API's ``AuthStrategy``: logging in with a password and MFA (TOTP, SMS,
e-mail), refreshing before expiry, and a token cache shared by the processes of one
deployment.

The cache is a JSON file (0600, written atomically under a file lock) holding tokens
only; a backfill of many step processes therefore logs in once, and a process that finds
the refresh token rotated by another one adopts the new pair instead of reusing the dead
one (which would revoke the session).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyotp
from filelock import FileLock

from st_resources.errors import MfaError, ServiceTitanError, error_for_status
from st_resources.redact import register_secret
from st_resources.settings import SessionSettings
from st_resources.transport import Transport

log = logging.getLogger("st_resources.auth")
REFRESH_AT = 0.8  # refresh once 80 % of a token's lifetime has passed
TOTP_STEP = 30


class MfaCodeProvider(Protocol):
    """Produces the SMS or e-mail code for ``username`` (a callable or a command)."""

    def __call__(self, method: str, username: str) -> str: ...


class CommandCodeProvider:
    """Runs a shell command that prints the code (``ST_MFA_CODE_COMMAND``)."""

    def __init__(self, command: str, timeout: float = 120.0) -> None:
        self.command = command
        self.timeout = timeout

    def __call__(self, method: str, username: str) -> str:
        env = {**os.environ, "ST_MFA_METHOD": method, "ST_MFA_USERNAME": username}
        try:
            done = subprocess.run(
                shlex.split(self.command),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MfaError(f"the MFA code command failed to run: {type(exc).__name__}") from None
        code = done.stdout.strip().splitlines()[-1].strip() if done.stdout.strip() else ""
        if done.returncode != 0 or not code:
            raise MfaError(
                f"the MFA code command exited with {done.returncode} and printed no code"
            )
        return code


class CallableCodeProvider:
    """Wraps a plain function ``(method, username) -> code``."""

    def __init__(self, fn: Callable[[str, str], str]) -> None:
        self.fn = fn

    def __call__(self, method: str, username: str) -> str:
        return self.fn(method, username)


@dataclass
class TokenPair:
    """An access token, its refresh token and when to refresh (epoch seconds)."""

    token: str
    refresh_token: str
    expires_at: float
    refresh_after: float

    @classmethod
    def from_api(cls, body: dict[str, Any], sent_at: float) -> TokenPair:
        """The pair of a login or refresh answer to a request sent at ``sent_at`` (epoch
        seconds): the tenant's clock started before the answer arrived, so the lifetime
        counts from the send, and a slow answer does not eat the renewal margin."""
        ttl = float(body.get("expiresIn") or 900)
        pair = cls(body["token"], body["refreshToken"], sent_at + ttl, sent_at + ttl * REFRESH_AT)
        register_secret(pair.token)
        register_secret(pair.refresh_token)
        return pair

    def fresh(self) -> bool:
        return time.time() < self.refresh_after

    def __repr__(self) -> str:
        return f"TokenPair(expires_at={self.expires_at:.0f}, token=[REDACTED])"


class TokenCache:
    """Tokens shared by the processes of one deployment (a locked, atomic 0600 file)."""

    def __init__(self, directory: Path, key: str) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / "servicetitan-tokens.json"
        self.key = key
        self.lock = FileLock(str(self.path) + ".lock", timeout=300)

    def read(self) -> TokenPair | None:
        try:
            entries = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        entry = entries.get(self.key)
        if not entry:
            return None
        pair = TokenPair(**entry)
        register_secret(pair.token)
        register_secret(pair.refresh_token)
        return pair

    def write(self, pair: TokenPair | None) -> None:
        try:
            entries = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            entries = {}
        if pair is None:
            entries.pop(self.key, None)
        else:
            entries[self.key] = pair.__dict__
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(entries, fh)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


SESSION_SETTINGS = (
    "ST_USERNAME, ST_PASSWORD and ST_MFA_METHOD/ST_TOTP_SECRET (or ST_MFA_CODE_COMMAND)"
)


class SessionAuth:
    """Holds a valid token for one (tenant, user), logging in or refreshing when needed
    (the session backend's ``AuthStrategy``)."""

    settings_names = SESSION_SETTINGS

    def __init__(
        self,
        settings: SessionSettings,
        transport: Transport,
        code_provider: MfaCodeProvider | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.code_provider = code_provider
        self.pair: TokenPair | None = None
        self.lock = threading.Lock()
        register_secret(settings.password.get_secret_value())
        if settings.totp_secret is not None:
            register_secret(settings.totp_secret.get_secret_value())
        key = hashlib.sha256(f"{settings.base_url}|{settings.username}".encode()).hexdigest()[:32]
        self.cache = TokenCache(settings.token_cache_dir, key) if settings.token_cache_dir else None

    def __repr__(self) -> str:
        return f"SessionAuth(user={self.settings.username!r}, token=[REDACTED])"

    def _shared(self) -> AbstractContextManager[Any]:
        return self.cache.lock if self.cache is not None else nullcontext()

    def token(self) -> str:
        """A valid access token (logging in or refreshing first if needed)."""
        with self.lock:
            if self.pair is not None and self.pair.fresh():
                return self.pair.token
            with self._shared():
                cached = self.cache.read() if self.cache else None
                if cached is not None and cached.fresh():
                    self.pair = cached
                    return cached.token
                # Another process may have rotated the refresh token: use the newest one.
                candidate = cached or self.pair
                if candidate is not None:
                    refreshed = self._refresh(candidate)
                    if refreshed is not None:
                        return self._store(refreshed)
                return self._store(self._login())

    def invalidate(self, token: str) -> None:
        """The tenant refused ``token`` (expired or revoked): forget it everywhere."""
        with self.lock:
            if self.pair is not None and self.pair.token == token:
                self.pair.refresh_after = 0
            if self.cache is not None:
                with self.cache.lock:
                    cached = self.cache.read()
                    if cached is not None and cached.token == token:
                        cached.refresh_after = 0
                        self.cache.write(cached)

    def _store(self, pair: TokenPair) -> str:
        self.pair = pair
        if self.cache is not None:
            self.cache.write(pair)
        return pair.token

    def _send(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        """A session call without a bearer: status, answer and when it was sent."""
        sent_at = time.time()
        status, answer = self.transport.send_unauthenticated(path, json_body=body)
        return status, answer, sent_at

    def _refresh(self, pair: TokenPair) -> TokenPair | None:
        status, body, sent_at = self._send(
            "/sessions/refresh", {"refreshToken": pair.refresh_token}
        )
        if status == 200:
            self.transport.metrics.add(refreshes=1)
            log.debug("refreshed the session token")
            return TokenPair.from_api(body, sent_at)
        log.info("refresh refused (%s); logging in again", _code(body))
        return None

    def _login(self) -> TokenPair:
        s = self.settings
        status, body, sent_at = self._send(
            "/sessions", {"username": s.username, "password": s.password.get_secret_value()}
        )
        if status == 200:
            self.transport.metrics.add(logins=1)
            log.info("logged in as %s (no MFA)", s.username)
            return TokenPair.from_api(body, sent_at)
        if status != 202:
            raise _login_error(status, body)
        challenge = body["mfa"]["challengeId"]
        methods = body["mfa"].get("methods", [])
        method = s.mfa_method if s.mfa_method != "none" else (methods[0] if methods else "totp")
        if method not in methods:
            raise MfaError(
                f"the tenant asks for MFA by {', '.join(methods)} but ST_MFA_METHOD is {s.mfa_method!r}",
                code="mfa_method_mismatch",
            )
        code = self._code(method, offset=0)
        status, body, sent_at = self._send(
            "/sessions/mfa", {"challengeId": challenge, "method": method, "code": code}
        )
        for offset in (1, -1, None):
            if not (status == 401 and _code(body) == "mfa_code_reused" and method == "totp"):
                break
            if offset is None:
                # Every code the tenant accepts now (this step's and its neighbours') was used
                # by other logins of this user (workers starting together): the step after
                # next brings an unused one. Other threads wait on this login's lock.
                wait = TOTP_STEP - time.time() % TOTP_STEP + 0.5
                log.info("every TOTP code of this step was used; waiting %.0f s", wait)
                time.sleep(wait)
                offset = 1
            # Another process used this 30-second code; the tenant also accepts the codes of
            # the neighbouring steps (clock drift), each once.
            status, body, sent_at = self._send(
                "/sessions/mfa",
                {"challengeId": challenge, "method": method, "code": self._code(method, offset)},
            )
        if status != 200:
            raise _login_error(status, body)
        self.transport.metrics.add(logins=1)
        log.info("logged in as %s with MFA (%s)", s.username, method)
        return TokenPair.from_api(body, sent_at)

    def _code(self, method: str, offset: int) -> str:
        s = self.settings
        if method == "totp":
            if s.totp_secret is None:
                raise MfaError(
                    "the tenant asks for a TOTP code but ST_TOTP_SECRET is not set",
                    code="mfa_no_secret",
                )
            try:
                code = pyotp.TOTP(s.totp_secret.get_secret_value()).at(
                    time.time() + offset * TOTP_STEP
                )
            except Exception:
                raise MfaError(
                    "ST_TOTP_SECRET is not a valid base32 secret", code="mfa_bad_secret"
                ) from None
        else:
            provider = self.code_provider
            if provider is None and s.mfa_code_command:
                provider = CommandCodeProvider(s.mfa_code_command)
            if provider is None:
                raise MfaError(
                    f"the tenant sent a {method} code but no code provider is configured: set "
                    "ST_MFA_CODE_COMMAND to a command that prints it",
                    code="mfa_no_provider",
                )
            code = provider(method, s.username)
        register_secret(code)
        return code


def _code(body: dict[str, Any]) -> str:
    return str(body.get("error", {}).get("code", "unknown"))


def _login_error(status: int, body: dict[str, Any]) -> ServiceTitanError:
    error = body.get("error", {})
    return error_for_status(
        status,
        str(error.get("code", "login_failed")),
        str(error.get("message", f"login failed with HTTP {status}")),
        error.get("requestId"),
        dict(error.get("details") or {}),
        auth_settings=SESSION_SETTINGS,
    )
