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
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from st_contract.v2_paths import ASSIGNMENTS, V2_PATHS, V2Path
from st_resources.errors import NotFoundError, UnsupportedOperation
from st_resources.reads import Page, api_timestamp, parse_timestamp, window_params
from st_resources.transport import Transport

log = logging.getLogger("st_resources.v2")
MAX_IDS = 50


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


def to_session_shape(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """A v2 record in the shape of the session API's (``st_contract.models``)."""
    if entity == "business_units" and isinstance(record.get("trade"), dict):
        record["trade"] = record["trade"].get("name")
    if entity == "payments" and isinstance(record.get("typeId"), str):
        record["typeId"] = int(record["typeId"]) if record["typeId"].isdigit() else None
    return record


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
            body = self.transport.get_json(url, {"from": token}, priority=priority)
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

    def window_pages(
        self, entity: str, start: datetime, end: datetime, priority: int = 0
    ) -> Iterator[Page]:
        """Records with ``start <= modifiedOn < end``, from the export in change order.

        An export is one ordered feed: the read starts at ``start`` (or at the token
        saved where the previous window of an incremental sync completed, when that is
        ``start`` exactly) and stops at the first page that passes ``end``.
        """
        if v2_path(entity).export is None:
            yield from self.list_pages(entity, window_params(None, start, end), priority)
            return
        started = datetime.now(UTC)
        begin = api_timestamp(start)
        saved = self.state.get(entity)
        if saved is not None and saved["through"] == begin:
            begin = saved["continueFrom"]
        token = begin
        for page in self._export(entity, begin, priority):
            token = page.next_cursor or token
            times = [parse_timestamp(r["modifiedOn"]) for r in page.records]
            inside = [r for r, t in zip(page.records, times, strict=True) if start <= t < end]
            beyond = any(t >= end for t in times)
            kept = Page(inside, page.next_cursor, page.has_more and not beyond)
            yield self.with_assignments(entity, kept, priority)
            if beyond:
                return
        if end <= started:
            # The export reached its end without passing ``end``, and anything changed
            # from now on gets a modifiedOn past ``end``: the next window starting at
            # ``end`` may resume from this token.
            self.state.put(entity, token, end)

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
