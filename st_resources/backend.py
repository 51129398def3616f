"""The one interface between a tenant and what the product does with it.

Assets, sensors and write ops need reads as Arrow tables (whole, or one window of
``modifiedOn``), single records and filtered lists for the write-back's checks, the
change feed where there is one, and the write kinds. ``Backend`` says exactly that;
``SessionBackend`` (the session API) and ``V2Backend`` (ServiceTitan's official v2 API)
implement it over one shared ``Transport`` (auth strategy, rate limiter, retries,
metrics, redaction), and neither inherits from the other.

What a backend cannot do is declared in its ``Capabilities`` and reported before a
request is queued (``Capabilities.refusal``), never discovered by calling a method that
raises.

Two refinements over the first draft of this interface, for the write-back: a
``dispatch`` or ``invoice`` body (the session API's) does not carry its job, so
``send_write`` takes ``job_id``; and ``Capabilities.invoices`` says whether an invoice
write creates the job's invoice or adds items to the one the tenant created, which the
submit-time check needs to tell a doomed invoice request from a good one.

Adding a backend: its settings (``st_resources.settings``), an ``AuthStrategy``
(``st_resources.transport``), a class with the members below over a ``Transport`` (the
``OverTransport`` mixin gives ``login``/``close``/``with``), its ``Capabilities``, and a
resource in ``st_resources.resource`` (plus a value of ``ST_BACKEND``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import pyarrow as pa

from st_contract.entities import EntitySpec
from st_contract.models import Event
from st_resources.attachments.client import AttachmentsClient
from st_resources.metrics import CallMetrics
from st_resources.reports import ReportsClient


@dataclass(frozen=True)
class WriteResult:
    """The answer to a write: status, the record written (session API shape), the API's
    request id, and whether nothing was sent because the write was already in place
    (an idempotent replay, or a v2 look-before-write that found its effect)."""

    status_code: int
    body: dict[str, Any]
    request_id: str | None
    replayed: bool


@dataclass(frozen=True)
class ChangeBatch:
    """One batch of a change feed: the events, the cursor after them, and whether more wait."""

    events: list[Event]
    cursor: str | None
    has_more: bool


class ChangeFeed(Protocol):
    """A tenant's feed of changed records (the session API's ``/events``)."""

    def changes(self, after: str | None, limit: int = 500) -> ChangeBatch:
        """The events after ``after`` (None: from the start of the retained feed)."""
        ...


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared once and checked before anything is queued.

    ``writes`` maps each write kind the backend sends to the payload fields (the
    write-back payload's names, ``st_resources.writeback.payloads``) it cannot send; an
    empty set: every field. ``refusals`` says, for each kind it does not send at all, why
    and what to do instead; ``"<kind>.fields"`` says the same for the fields it cannot
    send, ``{fields}`` standing for them. ``invoices`` is what an invoice write does: a
    new invoice for the job (``create``), or items added to the invoice the tenant
    created with the job (``add_items``). ``auto_invoice``: whether the backend can bill
    from sold estimates (discounts and tax zones). ``reports``: whether it runs custom
    reports (``Backend.reports``, ``st_resources/reports.py``). ``attachments``: whether
    it lists, downloads and uploads job attachments (``Backend.attachments``).
    """

    writes: Mapping[str, frozenset[str]]
    refusals: Mapping[str, str] = field(default_factory=dict)
    invoices: Literal["create", "add_items"] = "create"
    auto_invoice: bool = False
    reports: bool = False
    attachments: bool = False

    def refusal(self, kind: str, fields: set[str]) -> str | None:
        """Why a request of ``kind`` that sets ``fields`` cannot be sent, or None."""
        if kind not in self.writes:
            return self.refusals.get(kind, f"this backend has no operation for {kind}")
        unsupported = sorted(fields & self.writes[kind])
        if not unsupported:
            return None
        template = self.refusals.get(
            f"{kind}.fields", "this backend cannot send a " + kind + "'s {fields}: drop them"
        )
        return template.format(fields=", ".join(unsupported))


@runtime_checkable
class Backend(Protocol):
    """A tenant, as the assets and the write ops use it.

    Records come in the session API's shape (``st_contract.models``) from either backend.
    Every method is thread-safe; reads are streamed, one page in memory per call.
    """

    name: str
    capabilities: Capabilities
    metrics: CallMetrics
    page_size: int
    change_feed: ChangeFeed | None
    # Custom reports (the Reporting API); present when ``capabilities.reports``.
    reports: ReportsClient | None
    # Job attachments (st_resources/attachments); present when ``capabilities.attachments``.
    attachments: AttachmentsClient | None

    def login(self) -> None:
        """Authenticate now (otherwise the first request does)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def iter_tables(
        self, spec: EntitySpec, loaded_at: datetime, *, priority: int = 0
    ) -> Iterator[pa.Table]:
        """Every record of ``spec`` as Arrow tables (one per page) with the schema of its
        model; ``priority`` is the reads' claim on the rate limit (lower first)."""
        ...

    def iter_window_tables(
        self,
        spec: EntitySpec,
        start: datetime,
        end: datetime,
        loaded_at: datetime,
        *,
        priority: int = 0,
    ) -> Generator[pa.Table]:
        """The records with ``start <= modifiedOn < end``, in (``modifiedOn``, ``id``)
        order, as Arrow tables (one per page). Closing the generator stops the reads.
        Concurrency is the caller's: it runs several windows in threads."""
        ...

    def iter_records(
        self, spec: EntitySpec, filters: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The records of ``spec`` matching the session API's list ``filters`` (``ids``,
        ``businessUnitId``, ``active``, ``modifiedOnOrAfter``...), streamed."""
        ...

    def get_record(self, spec: EntitySpec, record_id: int) -> dict[str, Any]:
        """One record; ``NotFoundError`` when the tenant has none with that id."""
        ...

    def sample(self, spec: EntitySpec, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` records of ``spec`` exactly as the API sends them (its own
        shape, not reshaped), for the schema-drift check."""
        ...

    def send_write(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        job_id: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        """Send one write of a kind in ``capabilities.writes`` exactly once: ``body`` is
        the session API's (``Payload.api_body``), ``job_id`` the job a ``dispatch`` or
        ``invoice`` is for. Retried on transient errors with the same
        ``idempotency_key``, and a retry after a crash finds the first write's effect
        instead of writing twice. A kind or field the capabilities refuse raises
        ``UnsupportedOperation`` before any call."""
        ...
