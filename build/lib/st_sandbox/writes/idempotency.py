"""Idempotency keys: the first answer to a key is remembered for 24 h and replayed."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from st_sandbox.errors import ApiError

IDEMPOTENCY_TTL = 24 * 3600.0


class IdempotencyStore:
    """Answers remembered per key for 24 h: a replay returns the first answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, str], tuple[str, int, dict[str, Any], float]] = {}
        # Serializes concurrent requests with the same key so only one does the work.
        self.key_locks: dict[tuple[str, str], threading.Lock] = {}

    def key_lock(self, scope: str, key: str) -> threading.Lock:
        """The lock that serializes requests with ``key`` of ``scope`` (a user)."""
        with self.lock:
            return self.key_locks.setdefault((scope, key), threading.Lock())

    def lookup(self, scope: str, key: str, fingerprint: str) -> tuple[int, dict[str, Any]] | None:
        """The remembered (status, body) of ``key``, None if new or expired; a 422 if the
        key was used with another request."""
        with self.lock:
            entry = self.entries.get((scope, key))
            if entry is None or entry[3] < time.time():
                return None
            if entry[0] != fingerprint:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another request body; use a new key "
                    "for a different request",
                )
            return entry[1], entry[2]

    def remember(
        self, scope: str, key: str, fingerprint: str, status: int, body: dict[str, Any]
    ) -> None:
        """Keep the answer to ``key`` for 24 h."""
        with self.lock:
            self.entries[(scope, key)] = (fingerprint, status, body, time.time() + IDEMPOTENCY_TTL)


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    """What makes two requests "the same" for an idempotency key."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + raw_body).hexdigest()
