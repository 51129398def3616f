"""Users, sessions and MFA of the sandbox tenant.

Behaves like a strict real tenant: TOTP codes are single-use per (user, step), refresh
tokens rotate and a reused one revokes its whole session, five failed logins lock the
user. SMS and e-mail codes go to an outbox that stands in for the phone and the inbox.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pyotp

from st_sandbox.errors import ApiError

DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CHALLENGE_TTL = 300.0


@dataclass
class User:
    """A tenant user; ``business_unit_ids`` None means every business unit."""

    id: int
    username: str
    password: str
    roles: list[str]
    mfa: str | None  # "totp" | "sms" | "email" | None
    totp_secret: str | None = None
    business_unit_ids: list[int] | None = None
    failed_logins: int = 0
    locked_until: float = 0.0
    used_steps: set[int] = field(default_factory=set)

    def public(self, all_bus: list[int]) -> dict[str, Any]:
        """The user as the API shows it (no password; all units if unrestricted)."""
        return {
            "id": self.id,
            "username": self.username,
            "roles": list(self.roles),
            "businessUnitIds": list(self.business_unit_ids or all_bus),
        }


def demo_users(hvac_bus: list[int]) -> list[User]:
    """The documented demo users (docs/api.md)."""
    return [
        User(1, "demo", "demo-password", ["admin"], "totp", DEMO_TOTP_SECRET),
        User(2, "dispatcher", "dispatch-password", ["dispatcher"], "sms"),
        User(3, "accountant", "account-password", ["accountant"], "email"),
        User(4, "hvac", "hvac-password", ["readonly"], None, business_unit_ids=hvac_bus),
        User(5, "readonly", "readonly-password", ["readonly"], None),
    ]


@dataclass
class Session:
    """A logged-in session: its user and its current refresh token."""

    id: str
    user: User
    refresh_token: str
    refresh_expires: float
    revoked: bool = False
    dead_refresh_tokens: set[str] = field(default_factory=set)


@dataclass
class Challenge:
    """An MFA challenge waiting for its code."""

    id: str
    user: User
    expires: float
    codes: dict[str, str] = field(default_factory=dict)  # method -> code sent


class AuthService:
    """Logins, MFA challenges, tokens and the outbox; thread-safe."""

    def __init__(
        self,
        users: list[User],
        all_bus: list[int],
        token_ttl: float,
        refresh_ttl: float,
        lockout_seconds: float,
        max_failed: int,
    ) -> None:
        self.users = {u.username: u for u in users}
        self.all_bus = all_bus
        self.token_ttl = token_ttl
        self.refresh_ttl = refresh_ttl
        self.lockout_seconds = lockout_seconds
        self.max_failed = max_failed
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple[Session, float]] = {}
        self.refresh_index: dict[str, Session] = {}
        self.challenges: dict[str, Challenge] = {}
        self.outbox: list[dict[str, Any]] = []
        self.stats = {"logins": 0, "refreshes": 0, "failed_logins": 0, "mfa_failures": 0}

    # --- login ------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> tuple[int, dict[str, Any]]:
        """(200, session) or (202, MFA challenge); 401 for bad credentials, 423 when locked."""
        with self.lock:
            user = self.users.get(username)
            now = time.time()
            if user is not None and user.locked_until > now:
                raise ApiError(
                    423,
                    "user_locked",
                    f"user {username!r} is locked after repeated failed logins; try again "
                    f"in {int(user.locked_until - now) + 1} s or ask an administrator",
                    {
                        "lockedUntil": time.strftime(
                            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(user.locked_until)
                        )
                    },
                )
            if user is None or not secrets.compare_digest(
                user.password.encode(), password.encode()
            ):
                self.stats["failed_logins"] += 1
                if user is not None:
                    user.failed_logins += 1
                    if user.failed_logins >= self.max_failed:
                        user.locked_until = now + self.lockout_seconds
                        user.failed_logins = 0
                raise ApiError(401, "invalid_credentials", "wrong username or password")
            user.failed_logins = 0
            if user.mfa is None:
                return 200, self._issue(user)
            challenge = Challenge(secrets.token_urlsafe(16), user, now + CHALLENGE_TTL)
            self.challenges[challenge.id] = challenge
            if user.mfa in ("sms", "email"):
                self._send_code(challenge, user.mfa)
            methods = [user.mfa]
            return 202, {
                "mfa": {
                    "challengeId": challenge.id,
                    "methods": methods,
                    "expiresAt": _iso(challenge.expires),
                }
            }

    def send_code(self, challenge_id: str, method: str) -> None:
        """Send the challenge's SMS or e-mail code (again) to the outbox."""
        with self.lock:
            challenge = self._challenge(challenge_id)
            if method not in ("sms", "email") or method != challenge.user.mfa:
                raise ApiError(
                    422, "validation_error", f"method {method!r} is not enabled for this user"
                )
            self._send_code(challenge, method)

    def _send_code(self, challenge: Challenge, method: str) -> None:
        code = f"{secrets.randbelow(10**6):06d}"
        challenge.codes[method] = code
        self.outbox.append(
            {
                "id": len(self.outbox) + 1,
                "username": challenge.user.username,
                "method": method,
                "code": code,
                "sentOn": _iso(time.time()),
            }
        )

    def _challenge(self, challenge_id: str) -> Challenge:
        challenge = self.challenges.get(challenge_id)
        if challenge is None or challenge.expires < time.time():
            self.challenges.pop(challenge_id, None)
            raise ApiError(
                401,
                "mfa_challenge_expired",
                "the MFA challenge is unknown or expired: log in again",
            )
        return challenge

    def verify_mfa(self, challenge_id: str, method: str, code: str) -> dict[str, Any]:
        """The session once the challenge's code is right; a 401 (422 for a method the user
        does not have) otherwise."""
        with self.lock:
            challenge = self._challenge(challenge_id)
            user = challenge.user
            if method != user.mfa:
                raise ApiError(
                    422, "validation_error", f"method {method!r} is not enabled for this user"
                )
            if method == "totp":
                totp = pyotp.TOTP(user.totp_secret or "")
                now = time.time()
                step_now = int(now // 30)
                matched = None
                for step in (step_now - 1, step_now, step_now + 1):
                    if secrets.compare_digest(totp.at(step * 30).encode(), code.encode()):
                        matched = step
                        break
                if matched is None:
                    self.stats["mfa_failures"] += 1
                    raise ApiError(401, "mfa_code_invalid", "the MFA code is wrong")
                if matched in user.used_steps:
                    self.stats["mfa_failures"] += 1
                    raise ApiError(
                        401,
                        "mfa_code_reused",
                        "this TOTP code was already used; wait for the next code",
                    )
                user.used_steps.add(matched)
                user.used_steps = {s for s in user.used_steps if s >= step_now - 2}
            else:
                sent = challenge.codes.get(method)
                if sent is None or not secrets.compare_digest(sent.encode(), code.encode()):
                    self.stats["mfa_failures"] += 1
                    raise ApiError(401, "mfa_code_invalid", "the MFA code is wrong")
            del self.challenges[challenge_id]
            return self._issue(user)

    # --- tokens -----------------------------------------------------------------------------

    def _issue(self, user: User, session: Session | None = None) -> dict[str, Any]:
        now = time.time()
        if session is None:
            session = Session(secrets.token_hex(8), user, "", 0.0)
            self.stats["logins"] += 1
        refresh = "rt_" + secrets.token_urlsafe(32)
        if session.refresh_token:
            session.dead_refresh_tokens.add(session.refresh_token)
            self.refresh_index[session.refresh_token] = session
        session.refresh_token = refresh
        session.refresh_expires = now + self.refresh_ttl
        self.refresh_index[refresh] = session
        token = "at_" + secrets.token_urlsafe(32)
        expires = now + self.token_ttl
        self.tokens[token] = (session, expires)
        return {
            "token": token,
            "refreshToken": refresh,
            "expiresAt": _iso(expires),
            "expiresIn": self.token_ttl,
            "user": user.public(self.all_bus),
        }

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new token pair for a live refresh token (reusing a spent one revokes the session)."""
        with self.lock:
            session = self.refresh_index.get(refresh_token)
            if session is None or session.revoked:
                raise ApiError(
                    401,
                    "refresh_token_invalid",
                    "the refresh token is unknown or revoked: log in again",
                )
            if refresh_token in session.dead_refresh_tokens:
                # A rotated token used twice means it leaked or two clients share it blindly.
                self._revoke(session)
                raise ApiError(
                    401,
                    "refresh_token_reused",
                    "this refresh token was already used; the session is revoked: log in again",
                )
            if session.refresh_expires < time.time():
                raise ApiError(
                    401, "refresh_token_invalid", "the refresh token expired: log in again"
                )
            self.stats["refreshes"] += 1
            return self._issue(session.user, session)

    def _revoke(self, session: Session) -> None:
        # Its tokens stay known so that a client is told "session_revoked", not "invalid".
        session.revoked = True

    def logout(self, token: str) -> None:
        """Revoke the session of ``token``."""
        with self.lock:
            entry = self.tokens.get(token)
            if entry is not None:
                self._revoke(entry[0])

    def authenticate(self, authorization: str | None) -> Session:
        """The session behind an ``Authorization: Bearer`` header, or a 401."""
        if not authorization:
            raise ApiError(401, "token_missing", "send Authorization: Bearer <token>")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "token_invalid", "send Authorization: Bearer <token>")
        with self.lock:
            entry = self.tokens.get(token.strip())
            if entry is None:
                raise ApiError(401, "token_invalid", "the access token is unknown: log in again")
            session, expires = entry
            if session.revoked:
                raise ApiError(401, "session_revoked", "the session was revoked: log in again")
            if expires < time.time():
                raise ApiError(
                    401, "token_expired", "the access token expired: refresh it or log in again"
                )
            return session


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"
