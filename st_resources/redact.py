"""Keeps secrets out of logs, exceptions and reprs.

Every secret the client learns (password, TOTP secret, MFA codes, tokens, refresh
tokens) is registered here; ``redact`` replaces any of them in a text, and
``RedactingFilter`` applies it to every log record of the client and of httpx.
"""

from __future__ import annotations

import logging
import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "[REDACTED]"
# Shapes that are secrets even when we did not see them: bearer tokens, our token prefixes.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\b(?:at|rt)_[A-Za-z0-9_-]{16,}"),
    # A signed URL's signature (attachments' download and upload URLs) is a credential
    # until it expires.
    re.compile(r"(?i)((?:signature|x-amz-signature|sig)=)[^&\s\"']+"),
    re.compile(
        r'(?i)("?(?:password|refreshToken|refresh_token|totp_secret|token)"?\s*[:=]\s*"?)[^",\s}]+'
    ),
]


def register_secret(value: str | None) -> None:
    """Remember a secret so that ``redact`` masks it from now on (min. 4 characters)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret and secret-shaped value masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the log line
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


_installed = False


def install_log_redaction() -> None:
    """Attach the filter to the loggers that may see requests (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    for name in ("st_resources", "httpx", "httpcore"):
        logging.getLogger(name).addFilter(RedactingFilter())
