"""The signature of a webhook: ``X-ST-Dagster-Signature: t=<unix ts>,v1=<hex>`` where the hex
is HMAC-SHA256 keyed by the subscriber's secret over ``f"{t}.{raw body}"``. The timestamp
inside the signed text lets a receiver refuse an old (replayed-by-an-attacker) request."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-ST-Dagster-Signature"
EVENT_ID_HEADER = "X-ST-Dagster-Event-Id"
EVENT_TYPE_HEADER = "X-ST-Dagster-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A request whose signature does not verify (the message says why)."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-ST-Dagster-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` against ``body``; return its timestamp or raise ``SignatureError``.

    The signature must match (constant-time compare) and its timestamp be within
    ``tolerance`` seconds of ``now`` (default: the current time).
    """
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        raise SignatureError(f"malformed {SIGNATURE_HEADER}: expected t=<unix ts>,v1=<hex>")
    timestamp = int(parts["t"])
    expected = _digest(secret, timestamp, body)
    if not hmac.compare_digest(expected, parts["v1"]):
        raise SignatureError("signature mismatch: wrong secret or a modified body")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(
            f"timestamp {timestamp} is {abs(current - timestamp):.0f} s from now "
            f"(more than {tolerance:.0f} s): a stale or replayed request"
        )
    return timestamp
