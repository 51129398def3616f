"""The official ServiceTitan v2 API as a backend: OAuth2 client credentials and the
``ST-App-Key`` header over the shared ``Transport``.

- Reads walk the export endpoints with continuation tokens (the list endpoints where the
  official API has no export) and give records the session API's shape back
  (``v2_reads``). Pages go from bytes to Arrow with the session backend's decoder, the
  few v2-only shapes reshaped column-wise (``v2_pages``); appointments get their
  assignments nested column-wise too (``v2_assignments``).
- Writes map to the official operations and look before they write (``v2_writes``).
- What v2 cannot do is declared in ``V2_CAPABILITIES``: booking a job, moving an
  appointment's status, an invoice's payment, discounts, tax zone and summary, billing
  from estimates; and there is no change feed.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from st_contract.entities import EntitySpec
from st_resources.attachments.client import AttachmentsClient
from st_resources.attachments.v2_client import V2Attachments
from st_resources.attachments.write import send_attachment
from st_resources.backend import Capabilities, ChangeFeed, WriteResult
from st_resources.errors import UnsupportedOperation
from st_resources.reports import ReportsClient, v2_report_paths
from st_resources.settings import V2Settings
from st_resources.transport import OverTransport, Transport
from st_resources.v2_auth import ClientCredentialsAuth
from st_resources.v2_reads import ExportState, V2Reader
from st_resources.v2_writes import V2Writer, Written

log = logging.getLogger("st_resources.v2")
NO_OPERATION = "the official v2 API has no operation"
V2_CAPABILITIES = Capabilities(
    writes={
        "dispatch": frozenset({"status"}),
        "invoice": frozenset({"payment", "discounts", "tax_zone_id", "summary"}),
        "attachment": frozenset(),
    },
    refusals={
        "create_job": NO_OPERATION
        + " for booking a job with its appointment: book it in ServiceTitan, or use the "
        "session API backend (unset ST_BACKEND)",
        "dispatch.fields": NO_OPERATION
        + " for an appointment's status, so the v2 backend cannot move an appointment's "
        "status: drop the {fields} (the dispatch then sets the technicians and the window), "
        "move it in ServiceTitan, or use the session API backend",
        "invoice.fields": NO_OPERATION
        + " for an invoice's {fields}: the v2 backend only adds items to a job's invoice; "
        "drop the {fields} (take payments and discounts in ServiceTitan) or use the session "
        "API backend",
    },
    invoices="add_items",
    auto_invoice=False,
    reports=True,
    attachments=True,
)


class V2Backend(OverTransport):
    """A tenant through ServiceTitan's official v2 API (``st_resources.backend.Backend``)."""

    name = "v2"
    capabilities = V2_CAPABILITIES

    def __init__(self, settings: V2Settings) -> None:
        self.settings = settings
        self.transport = Transport(
            settings.api_base,
            settings,
            lambda transport: ClientCredentialsAuth(settings, transport),
            headers={"ST-App-Key": settings.app_key.get_secret_value()},
        )
        self.metrics = self.transport.metrics
        self.page_size = settings.page_size
        # v2 has no change feed: incremental syncs run on the schedules (exports).
        self.change_feed: ChangeFeed | None = None
        # The official Reporting API (/reporting/v2), 5 runs of a report a minute.
        self.reports: ReportsClient | None = ReportsClient(
            self.transport, v2_report_paths(settings.tenant_id)
        )
        self.attachments: AttachmentsClient | None = V2Attachments(
            self.transport, settings.tenant_id
        )
        state = ExportState(settings.state_dir, settings.tenant_id)
        self.reader = V2Reader(self.transport, settings.tenant_id, settings.page_size, state)
        self.writer = V2Writer(self.transport, self.reader)

    def __repr__(self) -> str:
        s = self.settings
        return f"V2Backend(api={s.api_base!r}, tenant={s.tenant_id}, client_id={s.client_id!r})"

    # --- reads ------------------------------------------------------------------------------

    def iter_tables(
        self, spec: EntitySpec, loaded_at: datetime, *, priority: int = 0
    ) -> Iterator[pa.Table]:
        """Every record of ``spec`` as Arrow tables (one per page); ``priority`` is the
        requests' claim on the rate limit (lower first)."""
        return self.reader.all_tables(spec, loaded_at, priority)

    def iter_window_tables(
        self,
        spec: EntitySpec,
        start: datetime,
        end: datetime,
        loaded_at: datetime,
        *,
        priority: int = 0,
    ) -> Generator[pa.Table]:
        """The records with ``start <= modifiedOn < end`` as Arrow tables (one per page),
        read from the entity's export; closing the generator stops the reads. Windows of
        appointments share one assignment index while any of them reads."""
        nested = spec.name == "appointments"
        if nested:
            self.reader.assignments.use()
        tables = self.reader.window_tables(spec, start, end, loaded_at, priority)
        try:
            yield from tables
        finally:
            tables.close()
            if nested:
                self.reader.assignments.release()

    def iter_records(
        self, spec: EntitySpec, filters: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The records of ``spec`` matching the list ``filters`` (the list endpoint; v2
        lists include inactive records whatever ``active`` says), streamed."""
        if not filters:
            pages = self.reader.all_pages(spec.name)
        else:
            pages = self.reader.list_pages(spec.name, filters)
        for page in pages:
            yield from page.records

    def get_record(self, spec: EntitySpec, record_id: int) -> dict[str, Any]:
        """One record in the session API's shape; ``NotFoundError`` when there is none."""
        return self.reader.one(spec.name, record_id)

    def sample(self, spec: EntitySpec, limit: int) -> list[dict[str, Any]]:
        """The first records of ``spec``'s read (export, list or unpaged), as sent."""
        return self.reader.sample(spec, limit)

    # --- writes -----------------------------------------------------------------------------

    def send_write(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        job_id: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        """A write done with the official operations, looking first: v2 has no
        idempotency keys, so the key is not sent; it is logged with the calls, to match
        them to the write request. ``replayed`` is true when looking found the change
        already in place."""
        if kind not in self.capabilities.writes:
            refusal = self.capabilities.refusal(kind, set()) or kind
            raise UnsupportedOperation(refusal, code="unsupported")
        if kind == "attachment":  # multipart POST, confirmed by downloading it back
            return send_attachment(self.attachments, body)
        if job_id is None:
            raise ValueError(f"a {kind} needs the job's id")
        log.info("v2 %s of job %s for write request %s", kind, job_id, idempotency_key)
        written: Written = (
            self.writer.dispatch(job_id, body)
            if kind == "dispatch"
            else self.writer.invoice(job_id, body)
        )
        return WriteResult(
            status_code=200, body=written.record, request_id=None, replayed=written.sent == 0
        )
