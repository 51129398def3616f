"""The one request path of every backend: an httpx client, the adaptive rate limiter,
retries with full-jitter backoff (connection errors, 429, 5xx), per-call metrics,
redaction, and an ``AuthStrategy`` that holds the backend's token.

Tokens never fail a read:

- the strategy renews its token before it expires, once for all threads: the first
  thread that finds it stale renews it under the strategy's lock, the others wait and
  use the new one;
- a 401 ``token_expired``/``token_invalid``/``session_revoked`` is answered by retrying
  the request with the current token. ``invalidate(token)`` renews only when the token
  that failed is still the current one, so eight windows that all hit the expiry at
  once cause one renewal, not eight. The first such retry is always made; a request
  slowed past a token's lifetime again (a 1 s token, a slow tenant) gets a newer token
  within its usual attempts. The same token refused twice, or a 401 once the attempts
  are spent, is an ``AuthenticationError`` naming the backend's settings.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from st_resources.errors import (
    RateLimitExceeded,
    ServiceTitanError,
    TransientError,
    error_for_status,
)
from st_resources.metrics import CallMetrics
from st_resources.ratelimit import AdaptiveRateLimiter
from st_resources.redact import install_log_redaction, redact
from st_resources.settings import TransportSettings

log = logging.getLogger("st_resources.transport")
BACKOFF_BASE = 0.2
BACKOFF_CAP = 10.0
REAUTH_CODES = frozenset({"token_expired", "session_revoked", "token_invalid"})


class AuthStrategy(Protocol):
    """How a backend gets the bearer token of its requests.

    ``token()`` is thread-safe and single-flight: it renews a missing or stale token under
    a lock, so concurrent callers wait for one renewal. ``invalidate(token)`` marks
    ``token`` stale only if it is still the current one. ``settings_names`` is what an
    authentication error tells the user to check (never a value).
    """

    @property
    def settings_names(self) -> str:
        """The settings behind this strategy, e.g. ``ST_USERNAME, ST_PASSWORD``."""
        ...

    def token(self) -> str:
        """A valid access token (renewing it first when it is missing or stale)."""
        ...

    def invalidate(self, token: str) -> None:
        """The tenant refused ``token``: renew on the next ``token()`` if still current."""
        ...


def full_jitter(attempt: int) -> float:
    """Exponential backoff with full jitter (AWS architecture blog)."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


@dataclass(frozen=True)
class Call:
    """One API call, sent as many times as its retries need."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    authenticated: bool = True
    # A write is resent after a connection error or a 5xx only when the caller says it
    # is safe (an Idempotency-Key, a token request): the first send may have landed.
    retry_writes: bool = False
    priority: int = 0
    # A 429 of a limit of its own (a report's runs a minute, st_resources/reports.py) is
    # answered to the caller, which waits it out: the shared limiter is not slowed by it.
    own_limit: bool = False

    @property
    def retryable(self) -> bool:
        return self.method == "GET" or self.retry_writes


@dataclass
class _Budget:
    """What is left of a call's retries: attempts, seconds from the first send, tokens."""

    max_attempts: int
    max_seconds: float
    attempt: int = 0
    deadline: float = float("inf")
    refused_tokens: set[str] = field(default_factory=set)

    def start_attempt(self) -> None:
        self.attempt += 1
        if self.attempt == 1:
            # Seconds count from the first send, not from the call: a request of a low
            # priority may wait its turn at the limiter for a while.
            self.deadline = time.monotonic() + self.max_seconds

    def allows(self, wait: float = 0.0) -> bool:
        return self.attempt < self.max_attempts and time.monotonic() + wait <= self.deadline


class Transport:
    """Sends a backend's requests; thread-safe, one per backend instance.

    ``auth`` builds the backend's strategy from the transport itself, so that logging in
    goes through the same limiter, retries and metrics (``send_unauthenticated``).
    """

    def __init__(
        self,
        base_url: str,
        settings: TransportSettings,
        auth: Callable[[Transport], AuthStrategy],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        install_log_redaction()
        self.settings = settings
        self.metrics = CallMetrics()
        self.limiter = AdaptiveRateLimiter(settings.limiter_rate)
        self.http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            headers={"User-Agent": "servicetitan-dagster/0.1", **(headers or {})},
        )
        self.auth = auth(self)

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self.http.base_url)!r})"

    def close(self) -> None:
        """Release the connections."""
        self.http.close()

    # --- conveniences ------------------------------------------------------------------------

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, priority: int = 0
    ) -> Any:
        """GET a path and return its JSON."""
        return self.request(Call("GET", path, params=params, priority=priority)).json()

    def send_unauthenticated(
        self,
        path: str,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST without a bearer (logging in, getting a token): its status and JSON body,
        4xx answers included; transient errors are retried (a login is safe to resend)."""
        call = Call(
            "POST", path, json_body=json_body, form=form, authenticated=False, retry_writes=True
        )
        response = self.request(call, raise_4xx=False)
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        return response.status_code, payload if isinstance(payload, dict) else {}

    @contextmanager
    def stream(
        self, call: Call, *, content: Any = None, files: Mapping[str, Any] | None = None
    ) -> Iterator[httpx.Response]:
        """Send ``call`` once and give its answer unread, for bodies too big for memory
        (attachments, ``st_resources/attachments``): the limiter, the bearer (when
        ``call.authenticated``; never to a signed URL) and the metrics as ``request``, but
        no retries, which the caller makes (resuming a download with ``Range``). An error
        answer raises its typed ``ServiceTitanError``; a connection error, or a token the
        tenant refused (invalidated first), a ``TransientError``."""
        self.limiter.acquire(call.priority)
        token = self.auth.token() if call.authenticated else None
        headers = {
            **(call.headers or {}),
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }
        request = self.http.build_request(
            call.method,
            call.path,
            params=call.params,
            headers=headers,
            content=content,
            files=files,
        )
        started, where = time.perf_counter(), request.url.path
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            self.metrics.add(calls=1, errors=1, seconds=time.perf_counter() - started)
            raise TransientError(
                f"{call.method} {where} failed: {type(exc).__name__}", code="connection_error"
            ) from None
        try:
            if response.status_code >= 400:
                response.read()
                error = error_body(response)
                if token and response.status_code == 401 and error.get("code") in REAUTH_CODES:
                    self.auth.invalidate(token)
                    raise TransientError(f"token refused on {where}", code="token_expired")
                raise self._error(response, error)
            yield response
        finally:
            response.close()
            elapsed = time.perf_counter() - started
            self.metrics.add(calls=1, bytes=response.num_bytes_downloaded, seconds=elapsed)

    # --- the request path --------------------------------------------------------------------

    def request(self, call: Call, *, raise_4xx: bool = True) -> httpx.Response:
        """Send ``call`` until it succeeds or its retries are spent; a typed
        ``ServiceTitanError`` otherwise (4xx answers returned as they are when
        ``raise_4xx`` is false)."""
        budget = _Budget(self.settings.max_attempts, self.settings.max_retry_seconds)
        while True:
            self.limiter.acquire(call.priority)
            budget.start_attempt()
            token = self.auth.token() if call.authenticated else None
            response = self._send(call, token, budget)
            if response is None:
                continue  # a connection error, retried after its pause
            if response.status_code < 400:
                return response
            if response.status_code == 429 and call.own_limit:
                self.metrics.add(throttled=1)
                return response
            error = error_body(response)
            if self._retry_after_error(call, response, error, token, budget):
                continue
            if raise_4xx or response.status_code == 429 or response.status_code >= 500:
                raise self._error(response, error)
            return response

    def _send(self, call: Call, token: str | None, budget: _Budget) -> httpx.Response | None:
        """One send; None after a connection error that will be retried."""
        headers = dict(call.headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            response = self.http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json_body,
                data=call.form,
                headers=headers,
            )
            content = response.content
        except httpx.TransportError as exc:
            self.metrics.add(calls=1, errors=1, seconds=time.perf_counter() - started)
            if not (call.retryable and budget.allows()):
                raise TransientError(
                    f"{call.method} {call.path} failed after {budget.attempt} attempt(s): "
                    f"{type(exc).__name__}",
                    code="connection_error",
                ) from None
            self._pause(full_jitter(budget.attempt), f"{type(exc).__name__} on {call.path}")
            return None
        self.metrics.add(calls=1, bytes=len(content), seconds=time.perf_counter() - started)
        return response

    def _retry_after_error(
        self,
        call: Call,
        response: httpx.Response,
        error: dict[str, Any],
        token: str | None,
        budget: _Budget,
    ) -> bool:
        """Whether to send ``call`` again after an error answer (pausing first if needed)."""
        status = response.status_code
        if status == 401:
            return self._retry_with_new_token(error, token, budget)
        if status == 429:
            retry_after = _retry_after(response)
            self.metrics.add(throttled=1)
            self.limiter.throttled(retry_after)
            if not budget.allows(retry_after or 0.0):
                return False
            self._pause(max(retry_after or 0.0, full_jitter(budget.attempt)), f"429 on {call.path}")
            return True
        if status >= 500:
            self.metrics.add(errors=1)
            if not (call.retryable and budget.allows()):
                return False
            self._pause(full_jitter(budget.attempt), f"{status} on {call.path}")
            return True
        return False

    def _retry_with_new_token(
        self, error: dict[str, Any], token: str | None, budget: _Budget
    ) -> bool:
        """A 401 for an expired, invalid or revoked token: retry with the current token
        (``invalidate`` renews it only if ``token`` is still current, so threads that
        failed together share one renewal)."""
        if token is None or str(error.get("code", "")) not in REAUTH_CODES:
            return False
        if token in budget.refused_tokens:
            return False
        if budget.refused_tokens and not budget.allows():
            return False  # the first retry is always made; later ones spend attempts
        budget.refused_tokens.add(token)
        self.metrics.add(token_retries=1)
        log.debug("token refused (%s); retrying with the current one", error.get("code"))
        self.auth.invalidate(token)
        return True

    def _pause(self, seconds: float, why: str) -> None:
        self.metrics.add(retries=1)
        log.debug("retrying in %.2fs after %s", seconds, why)
        time.sleep(seconds)

    def _error(self, response: httpx.Response, error: dict[str, Any]) -> ServiceTitanError:
        status = response.status_code
        message = redact(
            str(error.get("message") or f"HTTP {status} from {response.request.url.path}")
        )
        exc = error_for_status(
            status,
            str(error.get("code") or f"http_{status}"),
            message,
            error.get("requestId") or response.headers.get("x-request-id"),
            dict(error.get("details") or {}),
            auth_settings=self.auth.settings_names,
        )
        if isinstance(exc, RateLimitExceeded):
            exc.message = (
                f"still rate limited after {self.settings.max_attempts} attempts: {message}"
            )
        return exc


class OverTransport:
    """What every backend built on a ``Transport`` does the same way: log in, close, and
    be used in a ``with`` block (a mixin of the backends, which do not inherit from each
    other)."""

    transport: Transport

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def login(self) -> None:
        """Authenticate now (otherwise the first request does)."""
        self.transport.auth.token()

    def close(self) -> None:
        """Release connections."""
        self.transport.close()


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The error of an answer as ``{code, message, details, requestId}``, from the session
    API's ``{"error": {...}}`` or the official v2 shape (``ApiErrorResponse``)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    error = body.get("error")
    if error is None and "title" in body and "status" in body:
        # The official v2 error shape: {type, title, status, traceId, data}.
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        error = {
            "code": data.get("code") or f"http_{body['status']}",
            "message": body["title"],
            "details": {**data, "errors": body.get("errors") or {}},
            "requestId": body.get("traceId"),
        }
    return error if isinstance(error, dict) else {}


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a 429's ``Retry-After`` asks to wait, if it says."""
    return _retry_after(response)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
