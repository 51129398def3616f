"""The official ServiceTitan v2 API as a backend: OAuth2 client credentials and the
``ST-App-Key`` header over the shared ``Transport``.

- Reads walk the export endpoints with continuation tokens (the list endpoints where the
  official API has no export) and give records the session API's shape back
  (``v2_reads``). Pages go from bytes to Arrow with the session backend's decoder, the
  few v2-only shapes reshaped column-wise (``v2_pages``); appointments get their
  assignments nested column-wise too (``v2_assignments``).
- Writes map to the official operations and look before they write: dispatches in
  ``v2_writes``, bookings (found again by their ``externalData``) in ``v2_writes_jobs``,
  invoices and payments' status in ``v2_writes_invoices``; ``send_write`` picks the
  writer of a kind from one table.
- What v2 cannot do is declared in ``V2_CAPABILITIES``: moving an appointment to
  Dispatched, Working or Done, taking a payment with an invoice, booking without a
  campaign, holding or canceling without a reason; billing from estimates; and there
  is no change feed.
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
from st_resources.v2_writes import V2Dispatcher, WriteFunction, Written
from st_resources.v2_writes_invoices import V2Invoicer
from st_resources.v2_writes_jobs import V2JobBooker
from st_resources.writeback.payloads import NO_CAMPAIGN, NO_REASON

log = logging.getLogger("st_resources.v2")
NO_OPERATION = "the official v2 API has no operation"
V2_CAPABILITIES = Capabilities(
    writes={
        "create_job": frozenset({NO_CAMPAIGN}),
        "dispatch": frozenset({"status=Dispatched", "status=Working", "status=Done", NO_REASON}),
        "invoice": frozenset({"payment"}),
        "payment_status": frozenset(),
        "attachment": frozenset(),
    },
    refusals={
        "create_job.fields": "the official v2 API books a job only with its marketing "
        "campaign (JobCreateRequest.campaignId is required): give campaign_id "
        "(--campaign; the tenant's campaigns are raw.marketing_campaigns)",
        "dispatch.fields": NO_OPERATION
        + " for this dispatch as asked ({fields}): none moves an appointment to "
        "Dispatched, Working or Done "
        "(technicians move them in the mobile app: drop the status, or use the session "
        "API backend), and a move to Hold or Canceled needs reason_id and memo (a job "
        "hold or cancel reason: raw.jpm_job_hold_reasons, raw.jpm_job_cancel_reasons)",
        "invoice.fields": NO_OPERATION
        + " for an invoice's {fields} (a card or ACH token): drop the {fields} and take "
        "it in ServiceTitan, or use the session API backend",
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
        dispatcher = V2Dispatcher(self.transport, self.reader)
        invoicer = V2Invoicer(self.transport, self.reader)
        booker = V2JobBooker(self.transport, self.reader, str(settings.application_guid))
        # Each write kind's writer: a new kind is one more entry here (and its
        # capabilities above).
        self.writers: dict[str, WriteFunction] = {
            "create_job": booker.create_job,
            "dispatch": dispatcher.dispatch,
            "invoice": invoicer.invoice,
            "payment_status": invoicer.payment_status,
        }

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
        writer = self.writers.get(kind)
        if kind not in self.capabilities.writes or (writer is None and kind != "attachment"):
            refusal = self.capabilities.refusal(kind, set()) or kind
            raise UnsupportedOperation(refusal, code="unsupported")
        if writer is None:  # an attachment: multipart POST, confirmed by downloading it back
            return send_attachment(self.attachments, body)
        log.info("v2 %s of job %s for write request %s", kind, job_id, idempotency_key)
        written: Written = writer(body, job_id, idempotency_key)
        return WriteResult(
            status_code=200, body=written.record, request_id=None, replayed=written.sent == 0
        )
