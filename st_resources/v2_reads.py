"""Reads on the official v2 API, in the session API's record shape.

Entities are read from their export endpoints with continuation tokens (their list
endpoints where the official API has no export); appointments carry their technician
assignments, as the session API nests them. ``ExportState`` keeps where the last
completed export stopped, so the next incremental read resumes there.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Generator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from st_contract.catalog import Stream
from st_contract.entities import EntitySpec
from st_contract.v2_paths import ASSIGNMENTS, V2_PATHS, V2Path
from st_resources.arrow import TIMESTAMP, records_to_table
from st_resources.errors import NotFoundError, UnsupportedOperation
from st_resources.reads import Page, api_timestamp, window_params
from st_resources.transport import Transport
from st_resources.v2_assignments import Assignments
from st_resources.v2_pages import table_pages, to_session_shape

log = logging.getLogger("st_resources.v2")
MAX_IDS = 50
# Streams whose official export takes ``active`` (and answers active records only without it).
TAKE_ACTIVE = frozenset({"appointments", "dispatch_appointment_assignments"})
# Where a required date range starts: before any tenant's history.
HISTORY_START = "2000-01-01T00:00:00Z"


class ExportState:
    """Continuation tokens per entity, on disk: where the last completed export read
    stopped, so the next incremental read starts there instead of from a date."""

    def __init__(self, directory: Path | None, tenant_id: int) -> None:
        self.path = directory / f"v2-export-{tenant_id}.json" if directory else None
        self.lock = threading.Lock()
        self.memory: dict[str, dict[str, str]] = {}

    def get(self, entity: str) -> dict[str, str] | None:
        """The saved ``{continueFrom, through}`` of ``entity``, if any."""
        with self.lock:
            return self._load().get(entity)

    def put(self, entity: str, token: str, through: datetime) -> None:
        """Remember that ``entity``'s export read everything before ``through`` and
        continues at ``token``."""
        with self.lock:
            state = self._load()
            state[entity] = {"continueFrom": token, "through": api_timestamp(through)}
            self.memory = state
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
                tmp.replace(self.path)

    def _load(self) -> dict[str, dict[str, str]]:
        if self.path is not None and self.path.exists():
            try:
                loaded: dict[str, dict[str, str]] = json.loads(self.path.read_text())
                return loaded
            except ValueError:
                log.warning("ignoring an unreadable export state file %s", self.path)
        return dict(self.memory)


def v2_path(entity: str) -> V2Path:
    """Where ``entity`` lives on the official API; ``UnsupportedOperation`` if nowhere."""
    where = V2_PATHS.get(entity)
    if where is None:
        raise UnsupportedOperation(
            f"{entity!r} has no official v2 endpoint here; known: {', '.join(sorted(V2_PATHS))}",
            code="unsupported",
        )
    return where


class V2Reader:
    """Pages of records from the official API, in the session API's shape."""

    def __init__(
        self, transport: Transport, tenant_id: int, page_size: int, state: ExportState
    ) -> None:
        self.transport = transport
        self.tenant_id = tenant_id
        self.page_size = page_size
        self.state = state
        self.assignments = Assignments(transport, tenant_id, page_size)

    def _pages(
        self, entity: str, url: str, params: Mapping[str, Any], size: int, priority: int
    ) -> Iterator[Page]:
        """List pages (``page``/``pageSize``) of a URL, inactive records included."""
        number = 1
        while True:
            query = {**params, "page": number, "pageSize": size, "active": "Any"}
            body = self.transport.get_json(url, query, priority=priority)
            records = [to_session_shape(entity, r) for r in body["data"]]
            self.transport.metrics.add(pages=1, records=len(records))
            yield Page(records, str(number + 1) if body["hasMore"] else None, body["hasMore"])
            if not body["hasMore"]:
                return
            number += 1

    def _export(self, entity: str, start: str, priority: int) -> Iterator[Page]:
        """Export pages from ``start`` (a token or a date); ``next_cursor`` is
        ``continueFrom``. Assignments are not added yet (a window drops records first)."""
        url = v2_path(entity).export_url(self.tenant_id)
        token = start
        while True:
            body = self.transport.get_json(
                url, self._export_query(entity, token), priority=priority
            )
            token = body["continueFrom"]
            records = [to_session_shape(entity, r) for r in body["data"]]
            self.transport.metrics.add(pages=1, records=len(records))
            yield Page(records, token, body["hasMore"])
            if not body["hasMore"]:
                return

    def list_pages(
        self, entity: str, params: Mapping[str, Any], priority: int = 0
    ) -> Iterator[Page]:
        """List pages of an entity filtered by ``params``, inactive records included."""
        url = v2_path(entity).url(self.tenant_id)
        for page in self._pages(entity, url, params, self.page_size, priority):
            yield self.with_assignments(entity, page, priority)

    def with_assignments(self, entity: str, page: Page, priority: int = 0) -> Page:
        """Appointments carry their assignments, as the session API nests them."""
        if entity != "appointments" or not page.records:
            return page
        ids = [r["id"] for r in page.records]
        found: dict[int, list[dict[str, Any]]] = {}
        url = ASSIGNMENTS.url(self.tenant_id)
        for i in range(0, len(ids), MAX_IDS):
            query = {"appointmentIds": ",".join(str(x) for x in ids[i : i + MAX_IDS])}
            for assigned in self._pages("assignments", url, query, MAX_IDS * 10, priority):
                for row in assigned.records:
                    found.setdefault(row["appointmentId"], []).append(row)
        for record in page.records:
            record["assignments"] = sorted(found.get(record["id"], []), key=lambda r: r["id"])
        return page

    def all_pages(self, entity: str, priority: int = 0) -> Iterator[Page]:
        """Every record of an entity: its export from the start, else its list pages."""
        if v2_path(entity).export is None:
            yield from self.list_pages(entity, {}, priority)
            return
        for page in self._export(entity, "", priority):
            yield self.with_assignments(entity, page, priority)

    # --- Arrow tables (landing) ---------------------------------------------------------------

    def _export_query(self, entity: str, start: str) -> dict[str, Any]:
        # The exports that take ``active`` answer active records only unless asked.
        return {"from": start, "active": "Any"} if entity in TAKE_ACTIVE else {"from": start}

    def _nested(self, entity: str, table: pa.Table, priority: int) -> pa.Table:
        return self.assignments.nest(table, priority) if entity == "appointments" else table

    def _list_query(self, stream: Stream) -> dict[str, Any]:
        """The first page's query of a stream's list: paging, every record (``active``),
        its fixed required values and its required date range (the whole history)."""
        query: dict[str, Any] = {"page": 1, "pageSize": self.page_size, **dict(stream.fixed_params)}
        if "active" in stream.list_params:
            query["active"] = "Any"
        if stream.range_params:
            low, high = stream.range_params
            query[low] = HISTORY_START
            query[high] = api_timestamp(datetime.now(UTC))
        return query

    def _tables(
        self, spec: EntitySpec, url: str, query: dict[str, Any], loaded_at: datetime, priority: int
    ) -> Iterator[pa.Table]:
        for page in table_pages(
            self.transport, spec.name, spec.model, url, query, loaded_at, priority
        ):
            yield self._nested(spec.name, page.table, priority)

    def all_tables(
        self, spec: EntitySpec, loaded_at: datetime, priority: int = 0
    ) -> Iterator[pa.Table]:
        """Every record of a stream as tables: its export from the start, its list, or its
        one unpaged answer."""
        stream = spec.stream
        if stream.read == "unpaged":
            yield self._unpaged(spec, loaded_at, priority)
            return
        if stream.read == "export":
            url = stream.url(self.tenant_id, stream.read_path)
            yield from self._tables(
                spec, url, self._export_query(spec.name, ""), loaded_at, priority
            )
            return
        url = stream.url(self.tenant_id, stream.read_path)
        yield from self._tables(spec, url, self._list_query(stream), loaded_at, priority)

    def _unpaged(self, spec: EntitySpec, loaded_at: datetime, priority: int) -> pa.Table:
        """A stream answered in one piece, as a table."""
        records = self._unpaged_records(spec.stream, priority)
        self.transport.metrics.add(pages=1, records=len(records))
        return records_to_table(spec.model, records, loaded_at)

    def _unpaged_records(self, stream: Stream, priority: int = 0) -> list[dict[str, Any]]:
        """An unpaged answer's records: under ``items_key``, the answer itself when it is
        a list, or the one record it is."""
        url = stream.url(self.tenant_id, stream.read_path)
        query: dict[str, Any] = dict(stream.fixed_params)
        if "active" in stream.list_params:
            query["active"] = "Any"
        body = self.transport.get_json(url, query, priority=priority)
        if stream.items_key == "":
            return [body]
        if stream.items_key is None:
            return list(body)
        return list(body.get(stream.items_key) or [])

    def sample(self, spec: EntitySpec, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` records of a stream's read, as the API sends them."""
        stream = spec.stream
        if stream.read == "unpaged":
            return self._unpaged_records(stream)[:limit]
        url = stream.url(self.tenant_id, stream.read_path)
        if stream.read == "export":
            query = self._export_query(spec.name, "")
        else:
            query = {**self._list_query(stream), "pageSize": limit}
        body = self.transport.get_json(url, query)
        return list(body["data"])[:limit]

    def window_tables(
        self,
        spec: EntitySpec,
        start: datetime,
        end: datetime,
        loaded_at: datetime,
        priority: int = 0,
    ) -> Generator[pa.Table]:
        """Records with ``start <= modifiedOn < end`` as tables, from the export in change
        order: it starts at ``start`` (or at the token saved where the previous window of an
        incremental sync completed, when that is ``start`` exactly) and stops at the first
        page that passes ``end``. Rows are kept and dropped column-wise. Streams without
        an export read their list filtered to the window."""
        stream = spec.stream
        if stream.read != "export":
            query = {**self._list_query(stream), **window_params(None, start, end)}
            url = stream.url(self.tenant_id, stream.read_path)
            yield from self._tables(spec, url, query, loaded_at, priority)
            return
        started = datetime.now(UTC)
        begin = api_timestamp(start)
        saved = self.state.get(spec.name)
        if saved is not None and saved["through"] == begin:
            begin = saved["continueFrom"]
        token = begin
        lo, hi = pa.scalar(start, TIMESTAMP), pa.scalar(end, TIMESTAMP)
        url = stream.url(self.tenant_id, stream.read_path)
        query = self._export_query(spec.name, begin)
        for page in table_pages(
            self.transport, spec.name, spec.model, url, query, loaded_at, priority
        ):
            token = page.next_cursor or token
            modified = page.table.column("modifiedOn")
            beyond = pc.greater_equal(modified, hi)
            inside = pc.and_(pc.greater_equal(modified, lo), pc.invert(beyond))
            yield self._nested(spec.name, page.table.filter(inside), priority)
            if pc.any(beyond).as_py():
                return
        if end <= started:
            # The export reached its end without passing ``end``, and anything changed
            # from now on gets a modifiedOn past ``end``: the next window starting at
            # ``end`` may resume from this token.
            self.state.put(spec.name, token, end)

    def one(self, entity: str, record_id: int) -> dict[str, Any]:
        """One record (appointments with their assignments); ``NotFoundError`` if none."""
        url = v2_path(entity).url(self.tenant_id)
        body = self.transport.get_json(url, {"ids": str(record_id), "active": "Any"})
        if not body["data"]:
            raise NotFoundError(
                f"{entity} {record_id} does not exist", code="not_found", status=404
            )
        page = Page([to_session_shape(entity, body["data"][0])], None, False)
        return self.with_assignments(entity, page).records[0]
