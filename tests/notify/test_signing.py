"""The signature scheme: a good request verifies; a tampered body, a wrong secret, an old
timestamp or a malformed header do not, each with a reason."""

from __future__ import annotations

import random

import pytest

from st_resources.notify.signing import SignatureError, sign, verify
from st_resources.notify.worker import backoff_seconds

SECRET = "whsec_0123456789abcdef"
BODY = b'{"id":"evt_1","type":"job.done","data":{"jobId":7}}'
T = 1_780_000_000


def test_a_signed_request_verifies() -> None:
    header = sign(SECRET, BODY, T)
    assert header.startswith(f"t={T},v1=") and len(header.split("v1=")[1]) == 64
    assert verify(SECRET, BODY, header, now=T + 10) == T


@pytest.mark.parametrize(
    ("secret", "body", "now", "reason"),
    [
        (SECRET, BODY.replace(b"7", b"8"), T, "mismatch"),
        ("whsec_another_secret_99", BODY, T, "mismatch"),
        (SECRET, BODY, T + 301, "stale"),
        (SECRET, BODY, T - 301, "stale"),
    ],
    ids=["tampered-body", "wrong-secret", "old-timestamp", "future-timestamp"],
)
def test_a_bad_request_is_refused(secret: str, body: bytes, now: int, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(secret, body, sign(SECRET, BODY, T), now=now)


def test_a_malformed_or_retimed_header_is_refused() -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(SECRET, BODY, "v1=abc", now=T)
    # Moving the timestamp forward to pass the age check breaks the signature.
    forged = sign(SECRET, BODY, T).replace(f"t={T}", f"t={T + 1000}")
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY, forged, now=T + 1000)


def test_backoff_doubles_from_30_seconds_to_an_hour_with_jitter() -> None:
    rng = random.Random(1)
    waits = [backoff_seconds(n, rng) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        nominal = min(3600.0, 30.0 * 2 ** (n - 1))
        assert 0.9 * nominal <= wait <= 1.1 * nominal
    assert len({round(w) for w in waits[8:]}) > 1  # jittered: subscribers do not align
