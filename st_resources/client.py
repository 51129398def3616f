"""The ServiceTitan session client: one place for authentication, rate limiting,
retries with backoff, streaming pagination, concurrent windows, idempotent writes and
per-call metrics.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
import pyarrow as pa
from pydantic import BaseModel

from st_contract.models import Appointment, Event, Invoice, Job
from st_resources.auth import MfaCodeProvider, SessionAuth
from st_resources.errors import (
    RateLimitExceeded,
    ServiceTitanError,
    TransientError,
    error_for_status,
)
from st_resources.metrics import CallMetrics
from st_resources.page_decode import decode_page
from st_resources.ratelimit import AdaptiveRateLimiter
from st_resources.redact import install_log_redaction, redact
from st_resources.settings import ClientSettings

log = logging.getLogger("st_resources.client")
BACKOFF_BASE = 0.2
BACKOFF_CAP = 10.0
REAUTH_CODES = {"token_expired", "session_revoked", "token_invalid"}
T = TypeVar("T")


def api_timestamp(value: datetime) -> str:
    """An aware datetime as the API's UTC timestamp string."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def split_windows(start: datetime, end: datetime, windows: int) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into ``windows`` disjoint, contiguous ranges of equal length."""
    if end <= start:
        return []
    windows = max(1, windows)
    step = (end - start) / windows
    edges = [start + step * i for i in range(windows)] + [end]
    return [(edges[i], edges[i + 1]) for i in range(windows) if edges[i] < edges[i + 1]]


def full_jitter(attempt: int) -> float:
    """Exponential backoff with full jitter (AWS architecture blog)."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


@dataclass
class Page:
    """One page of a list endpoint."""

    records: list[dict[str, Any]]
    as_of: datetime
    next_cursor: str | None
    has_more: bool
    nbytes: int


@dataclass
class WriteResult:
    """The answer to a write, with whether it was replayed from its idempotency key."""

    status_code: int
    body: dict[str, Any]
    request_id: str | None
    replayed: bool


class ServiceTitanClient:
    """A thread-safe client for one tenant and user."""

    def __init__(
        self, settings: ClientSettings, *, code_provider: MfaCodeProvider | None = None
    ) -> None:
        install_log_redaction()
        self.settings = settings
        self.metrics = CallMetrics()
        self.http = httpx.Client(
            base_url=settings.base_url,
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            headers={"User-Agent": "servicetitan-dagster/0.1"},
        )
        self.limiter = AdaptiveRateLimiter(settings.rate_limit / settings.rate_limit_share)
        self.auth = SessionAuth(
            settings,
            self._send_auth,
            code_provider,
            on_login=lambda: self.metrics.add(logins=1),
            on_refresh=lambda: self.metrics.add(refreshes=1),
        )

    def __repr__(self) -> str:
        return f"ServiceTitanClient(base_url={self.settings.base_url!r}, user={self.settings.username!r})"

    def __enter__(self) -> ServiceTitanClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def login(self) -> None:
        """Log in now (otherwise the first request does)."""
        self.auth.token()

    # --- the one request path --------------------------------------------------------------

    def _send_auth(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A session call (no bearer); errors other than transient ones are returned."""
        response = self._request(
            "POST", path, json_body=body, authenticated=False, retry_writes=True, raise_4xx=False
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        return response.status_code, payload

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
        retry_writes: bool = False,
        raise_4xx: bool = True,
        priority: int = 0,
    ) -> httpx.Response:
        s = self.settings
        retryable = method == "GET" or retry_writes
        deadline = 0.0
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            self.limiter.acquire(priority)
            if attempt == 1:
                # Retries have max_retry_seconds from the first send, not from the call: a
                # request of a low priority may wait its turn at the limiter for a while.
                deadline = time.monotonic() + s.max_retry_seconds
            request_headers = dict(headers or {})
            token = None
            if authenticated:
                token = self.auth.token()
                request_headers["Authorization"] = f"Bearer {token}"
            started = time.perf_counter()
            try:
                response = self.http.request(
                    method, path, params=params, json=json_body, data=form, headers=request_headers
                )
                content = response.content
            except httpx.TransportError as exc:
                self.metrics.add(calls=1, errors=1, seconds=time.perf_counter() - started)
                if not retryable or attempt >= s.max_attempts or time.monotonic() > deadline:
                    raise TransientError(
                        f"{method} {path} failed after {attempt} attempt(s): {type(exc).__name__}",
                        code="connection_error",
                    ) from None
                self._pause(full_jitter(attempt), f"{type(exc).__name__} on {method} {path}")
                continue
            self.metrics.add(calls=1, bytes=len(content), seconds=time.perf_counter() - started)
            status = response.status_code
            if status < 400:
                return response
            error = _error_body(response)
            code = str(error.get("code", ""))
            if status == 401 and authenticated and code in REAUTH_CODES and not reauthenticated:
                # Retry once after a 401: the token expired or another process revoked it.
                reauthenticated = True
                if token is not None:
                    self.auth.invalidate(token)
                continue
            if status == 429:
                retry_after = _retry_after(response)
                self.metrics.add(throttled=1)
                self.limiter.throttled(retry_after)
                if attempt >= s.max_attempts or time.monotonic() + (retry_after or 0) > deadline:
                    raise self._error(response, error)
                self._pause(
                    max(retry_after or 0.0, full_jitter(attempt)), f"429 on {method} {path}"
                )
                continue
            if status >= 500:
                self.metrics.add(errors=1)
                if retryable and attempt < s.max_attempts and time.monotonic() < deadline:
                    self._pause(full_jitter(attempt), f"{status} on {method} {path}")
                    continue
                raise self._error(response, error)
            if not raise_4xx:
                return response
            raise self._error(response, error)

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
        )
        if isinstance(exc, RateLimitExceeded):
            exc.message = (
                f"still rate limited after {self.settings.max_attempts} attempts: {message}"
            )
        return exc

    # --- reads ------------------------------------------------------------------------------

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a path and return its JSON."""
        return self._request("GET", path, params=params).json()

    def get_bytes(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """GET a path and return its body as sent (e.g. to decode a page elsewhere)."""
        return self._request("GET", path, params=params).content

    def iter_pages(
        self, path: str, *, params: dict[str, Any] | None = None, page_size: int | None = None
    ) -> Iterator[Page]:
        """Every page of a list endpoint, streamed: one page in memory at a time."""
        query = dict(params or {})
        query["pageSize"] = page_size or self.settings.page_size
        cursor: str | None = None
        while True:
            if cursor:
                query["cursor"] = cursor
            response = self._request("GET", path, params=query)
            body = response.json()
            page = Page(
                records=body["data"],
                as_of=datetime.fromisoformat(body["asOf"].replace("Z", "+00:00")),
                next_cursor=body.get("nextCursor"),
                has_more=bool(body.get("hasMore")),
                nbytes=len(response.content),
            )
            self.metrics.add(pages=1, records=len(page.records))
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    def iter_records(
        self, path: str, *, params: dict[str, Any] | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list endpoint, streamed."""
        for page in self.iter_pages(path, params=params, page_size=page_size):
            yield from page.records

    def iter_window_pages(
        self,
        path: str,
        start: datetime,
        end: datetime,
        *,
        windows: int = 4,
        params: dict[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[Page]:
        """Pages of ``[start, end)`` by ``modifiedOn``, fetched as disjoint windows concurrently.

        Pages arrive in no particular order; at most about two pages per window are held
        in memory (a bounded queue), so memory does not grow with the range.
        """
        return _concurrently(
            split_windows(start, end, windows),
            lambda lo, hi: self.iter_pages(
                path, params=window_params(params, lo, hi), page_size=page_size
            ),
        )

    def _iter_page_tables(
        self,
        path: str,
        model: type[BaseModel],
        loaded_at: datetime,
        params: dict[str, Any] | None = None,
        priority: int = 0,
    ) -> Iterator[pa.Table]:
        """``iter_pages``, but each body goes straight from bytes to Arrow (``decode_page``):
        in C++ and without the GIL where it can, so window threads decode in parallel."""
        query = dict(params or {})
        query["pageSize"] = self.settings.page_size
        cursor: str | None = None
        while True:
            if cursor:
                query["cursor"] = cursor
            response = self._request("GET", path, params=query, priority=priority)
            page = decode_page(model, response.content, loaded_at)
            self.metrics.add(pages=1, records=page.table.num_rows)
            yield page.table
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    def iter_tables(
        self, path: str, model: type[BaseModel], loaded_at: datetime, *, priority: int = 0
    ) -> Iterator[pa.Table]:
        """Every record of a list endpoint as Arrow tables (one per page) with the schema
        of ``model`` (``st_resources.arrow.arrow_schema``); ``priority`` is the requests'
        claim on the rate limit (lower first, ``AdaptiveRateLimiter``)."""
        return self._iter_page_tables(path, model, loaded_at, priority=priority)

    def iter_window_tables(
        self,
        path: str,
        start: datetime,
        end: datetime,
        model: type[BaseModel],
        loaded_at: datetime,
        *,
        windows: int = 4,
        priority: int = 0,
    ) -> Generator[pa.Table]:
        """``iter_window_pages`` as Arrow tables (one per page, in no particular order),
        each decoded in its window's thread; ``priority`` as in ``iter_tables``. Closing
        it stops the reads (no further page is requested)."""
        return _concurrently(
            split_windows(start, end, windows),
            lambda lo, hi: self._iter_page_tables(
                path, model, loaded_at, window_params(None, lo, hi), priority
            ),
        )

    def events(
        self, after: str | None = None, limit: int = 500
    ) -> tuple[list[Event], str | None, bool]:
        """One batch of the change feed: (events, next cursor, has more)."""
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        body = self.get_json("/events", params)
        return (
            [Event.model_validate(e) for e in body["data"]],
            body.get("nextCursor"),
            bool(body["hasMore"]),
        )

    # --- writes -----------------------------------------------------------------------------

    def write(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        if_match: str | None = None,
    ) -> WriteResult:
        """Send a write with its Idempotency-Key; retried on transient errors with the same key."""
        if not idempotency_key:
            raise ValueError("every write needs an idempotency_key (e.g. the request's uuid)")
        headers = {"Idempotency-Key": idempotency_key}
        if if_match is not None:
            headers["If-Match"] = if_match
        response = self._request(method, path, json_body=body, headers=headers, retry_writes=True)
        return WriteResult(
            status_code=response.status_code,
            body=response.json(),
            request_id=response.headers.get("x-request-id"),
            replayed=response.headers.get("idempotent-replayed") == "true",
        )

    def create_job(self, body: dict[str, Any], *, idempotency_key: str) -> Job:
        """``POST /jobs``."""
        return Job.model_validate(
            self.write("POST", "/jobs", body, idempotency_key=idempotency_key).body
        )

    def dispatch(
        self,
        job_id: int,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        if_match: str | None = None,
    ) -> Appointment:
        """``PATCH /jobs/{id}/dispatch``."""
        result = self.write(
            "PATCH",
            f"/jobs/{job_id}/dispatch",
            body,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )
        return Appointment.model_validate(result.body)

    def create_invoice(self, job_id: int, body: dict[str, Any], *, idempotency_key: str) -> Invoice:
        """``POST /jobs/{id}/invoices``."""
        result = self.write(
            "POST", f"/jobs/{job_id}/invoices", body, idempotency_key=idempotency_key
        )
        return Invoice.model_validate(result.body)


def _concurrently(
    ranges: list[tuple[datetime, datetime]],
    produce: Callable[[datetime, datetime], Iterator[T]],
) -> Generator[T]:
    """The items of ``produce(lo, hi)`` for every range, one thread per range when there
    are several, in no particular order.

    A bounded queue (about two items per range) keeps memory flat; the first error of a
    worker is re-raised here, and closing the iterator stops the workers.
    """
    if len(ranges) <= 1:
        for lo, hi in ranges:
            yield from produce(lo, hi)
        return
    out: queue.Queue[T | _Failed | None] = queue.Queue(maxsize=2 * len(ranges))
    stop = threading.Event()

    def put(item: T | _Failed | None) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work(lo: datetime, hi: datetime) -> None:
        try:
            for item in produce(lo, hi):
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failed(exc))
        finally:
            put(None)

    with ThreadPoolExecutor(max_workers=len(ranges), thread_name_prefix="st-window") as pool:
        for lo, hi in ranges:
            pool.submit(work, lo, hi)
        remaining = len(ranges)
        try:
            while remaining:
                got = out.get()
                if got is None:
                    remaining -= 1
                elif isinstance(got, _Failed):
                    raise got.error
                else:
                    yield got
        finally:
            stop.set()


@dataclass(frozen=True)
class _Failed:
    """A worker's error on its way to the consumer (an item could be any type)."""

    error: BaseException


def window_params(params: dict[str, Any] | None, lo: datetime, hi: datetime) -> dict[str, Any]:
    """``params`` narrowed to records with ``lo <= modifiedOn < hi``."""
    query = dict(params or {})
    query["modifiedOnOrAfter"] = api_timestamp(lo)
    query["modifiedBefore"] = api_timestamp(hi)
    return query


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and error is None and "title" in body and "status" in body:
        # The official v2 error shape (ApiErrorResponse): {type, title, status, traceId, data}.
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        error = {
            "code": data.get("code") or f"http_{body['status']}",
            "message": body["title"],
            "details": {**data, "errors": body.get("errors") or {}},
            "requestId": body.get("traceId"),
        }
    return error if isinstance(error, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
