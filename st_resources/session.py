"""The session API backend: a tenant's session API (password + MFA) over the shared
``Transport`` with ``SessionAuth`` as its strategy.

Pages go from response bytes straight to Arrow (``page_decode.decode_page``); writes carry
the request id as ``Idempotency-Key``, so a retry or a re-executed run gets the API's
replay instead of a second write; the change feed is ``/events``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from st_contract.entities import EntitySpec
from st_contract.models import Event
from st_resources.attachments.client import AttachmentsClient
from st_resources.attachments.session_client import SessionAttachments
from st_resources.attachments.write import send_attachment
from st_resources.auth import MfaCodeProvider, SessionAuth
from st_resources.backend import Capabilities, ChangeBatch, ChangeFeed, WriteResult
from st_resources.errors import UnsupportedOperation
from st_resources.page_decode import decode_page
from st_resources.reads import Page, window_params
from st_resources.reports import SESSION_REPORT_PATHS, ReportsClient
from st_resources.settings import SessionSettings
from st_resources.transport import Call, OverTransport, Transport

# The session API sends every write kind but payments' export status (no such operation)
# and bills from estimates; hold and cancellation reasons are the v2 API's.
SESSION_CAPABILITIES = Capabilities(
    writes={
        "create_job": frozenset(),
        "dispatch": frozenset({"reason_id", "memo"}),
        "invoice": frozenset(),
        "attachment": frozenset(),
    },
    refusals={
        "dispatch.fields": "the session API's dispatch takes no {fields} (a hold or "
        "cancellation reason is the official v2 API's): drop them",
        "payment_status": "the session API has no operation for payments' export status: "
        "set it in ServiceTitan, or use the v2 backend (ST_BACKEND=v2)",
    },
    auto_invoice=True,
    invoices="create",
    reports=True,
    attachments=True,
)


class SessionChangeFeed:
    """The session API's ``/events``: what changed, after a cursor."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def changes(self, after: str | None, limit: int = 500) -> ChangeBatch:
        """The events after ``after`` (None: from the start of the retained feed)."""
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        body = self.transport.get_json("/events", params)
        return ChangeBatch(
            events=[Event.model_validate(e) for e in body["data"]],
            cursor=body.get("nextCursor"),
            has_more=bool(body["hasMore"]),
        )


class SessionBackend(OverTransport):
    """A tenant through its session API (``st_resources.backend.Backend``)."""

    name = "session"
    capabilities = SESSION_CAPABILITIES

    def __init__(
        self, settings: SessionSettings, *, code_provider: MfaCodeProvider | None = None
    ) -> None:
        self.settings = settings
        self.transport = Transport(
            settings.base_url,
            settings,
            lambda transport: SessionAuth(settings, transport, code_provider),
        )
        self.metrics = self.transport.metrics
        self.page_size = settings.page_size
        self.change_feed: ChangeFeed | None = SessionChangeFeed(self.transport)
        self.reports: ReportsClient | None = ReportsClient(self.transport, SESSION_REPORT_PATHS)
        self.attachments: AttachmentsClient | None = SessionAttachments(self.transport)

    def __repr__(self) -> str:
        return (
            f"SessionBackend(base_url={self.settings.base_url!r}, user={self.settings.username!r})"
        )

    # --- reads ------------------------------------------------------------------------------

    def iter_pages(
        self, path: str, *, params: Mapping[str, Any] | None = None, page_size: int | None = None
    ) -> Iterator[Page]:
        """Every page of a list endpoint as JSON records, streamed (one page in memory)."""
        query = {**(params or {}), "pageSize": page_size or self.page_size}
        while True:
            body = self.transport.get_json(path, query)
            page = Page(body["data"], body.get("nextCursor"), bool(body.get("hasMore")))
            self.metrics.add(pages=1, records=len(page.records))
            yield page
            if not page.has_more or not page.next_cursor:
                return
            query["cursor"] = page.next_cursor

    def _page_tables(
        self,
        path: str,
        model: type[BaseModel],
        loaded_at: datetime,
        params: dict[str, Any],
        priority: int,
    ) -> Generator[pa.Table]:
        """Pages as Arrow tables, each body decoded from bytes (``decode_page``: in C++
        and without the GIL where it can, so window threads decode in parallel)."""
        query = {**params, "pageSize": self.page_size}
        while True:
            response = self.transport.request(Call("GET", path, params=query, priority=priority))
            page = decode_page(model, response.content, loaded_at)
            self.metrics.add(pages=1, records=page.table.num_rows)
            yield page.table
            if not page.has_more or not page.next_cursor:
                return
            query["cursor"] = page.next_cursor

    def iter_tables(
        self, spec: EntitySpec, loaded_at: datetime, *, priority: int = 0
    ) -> Iterator[pa.Table]:
        """Every record of ``spec`` as Arrow tables (one per page); ``priority`` is the
        requests' claim on the rate limit (lower first)."""
        return self._page_tables(spec.path, spec.model, loaded_at, {}, priority)

    def iter_window_tables(
        self,
        spec: EntitySpec,
        start: datetime,
        end: datetime,
        loaded_at: datetime,
        *,
        priority: int = 0,
    ) -> Generator[pa.Table]:
        """The records with ``start <= modifiedOn < end`` in (``modifiedOn``, ``id``) order,
        as Arrow tables (one per page); closing the generator stops the reads."""
        params = window_params(None, start, end)
        return self._page_tables(spec.path, spec.model, loaded_at, params, priority)

    def iter_records(
        self, spec: EntitySpec, filters: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The records of ``spec`` matching the list ``filters``, streamed."""
        for page in self.iter_pages(spec.path, params=filters):
            yield from page.records

    def get_record(self, spec: EntitySpec, record_id: int) -> dict[str, Any]:
        """``GET {path}/{id}``; ``NotFoundError`` when there is none."""
        record: dict[str, Any] = self.transport.get_json(f"{spec.path}/{record_id}")
        return record

    def sample(self, spec: EntitySpec, limit: int) -> list[dict[str, Any]]:
        """The first page of ``spec`` (``limit`` records at most), as sent."""
        body = self.transport.get_json(spec.path, {"pageSize": limit})
        return list(body["data"])[:limit]

    # --- writes -----------------------------------------------------------------------------

    def send_write(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        job_id: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        """``POST /jobs``, ``PATCH /jobs/{id}/dispatch`` or ``POST /jobs/{id}/invoices``
        with ``idempotency_key`` as the ``Idempotency-Key``; retried on transient errors
        with the same key, and a replay says so (``replayed``)."""
        if not idempotency_key:
            raise ValueError("every write needs an idempotency_key (e.g. the request's uuid)")
        if kind == "attachment":  # the upload-URL flow, checked by its SHA-256
            return send_attachment(self.attachments, body)
        method, path = _route(kind, job_id)
        call = Call(
            method,
            path,
            json_body=body,
            headers={"Idempotency-Key": idempotency_key},
            retry_writes=True,
        )
        response = self.transport.request(call)
        return WriteResult(
            status_code=response.status_code,
            body=response.json(),
            request_id=response.headers.get("x-request-id"),
            replayed=response.headers.get("idempotent-replayed") == "true",
        )


def _route(kind: str, job_id: int | None) -> tuple[str, str]:
    """The session API's method and path of a write kind."""
    if kind == "create_job":
        return "POST", "/jobs"
    if kind not in ("dispatch", "invoice"):
        raise UnsupportedOperation(f"no write kind {kind!r}", code="unsupported")
    if job_id is None:
        raise ValueError(f"a {kind} needs the job's id")
    if kind == "dispatch":
        return "PATCH", f"/jobs/{job_id}/dispatch"
    return "POST", f"/jobs/{job_id}/invoices"
