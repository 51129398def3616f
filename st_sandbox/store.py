"""The tenant's state in memory: one table per entity, each kept in (modifiedOn, id)
order so pagination is a bisect and a slice, with every record's JSON cached so a page is
a join of byte strings. Writes and the activity engine change records only through
``insert``/``update``, which bump ``modifiedOn``, keep the order and feed the change log.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import orjson

from st_sandbox.catalog.streams import NESTED_VIEWS, table_layout
from st_sandbox.clock import Clock, to_us, to_us_from_ts
from st_sandbox.generate import TenantData, paused_gc
from st_sandbox.generator.spec_fields import fill_spec_fields
from st_sandbox.table import CursorError, PageQuery, Record, Table

ChangeListener = Callable[[str, str, int, int], None]
"""Called as ``(entity, "created" | "updated", id, modifiedOn µs)`` under the lock after
every change; it must return at once (the webhooks only enqueue)."""

BU_ENTITIES_DIRECT = {
    "jobs": "businessUnitId",
    "memberships": "businessUnitId",
    "estimates": "businessUnitId",
    "technicians": "businessUnitId",
    "business_units": "id",
}
BU_NESTED = {"invoices": "businessUnit", "payments": "businessUnit"}
CUSTOMER_SCOPED = {
    "customers": "id",
    "locations": "customerId",
    "contacts": "customerId",
    "installed_equipment": "customerId",
    "appointments": "customerId",
}


class TenantStore:
    """All tables of one tenant plus its change feed; thread-safe under ``lock``."""

    def __init__(self, data: TenantData) -> None:
        with paused_gc():
            self._build(data)

    def _build(self, data: TenantData) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        parsed = data.stamp_us
        self.tables: dict[str, Table] = {
            n: Table.build(rows, parsed, **table_layout(n)) for n, rows in data.tables.items()
        }
        # A view of nested records (the appointments' assignments) holds the very records
        # nested in its entity's; derived here when the data does not carry it.
        for entity, (field, view) in NESTED_VIEWS.items():
            if view not in self.tables and entity in self.tables:
                rows = [c for r in self.tables[entity].records.values() for c in r[field]]
                self.tables[view] = Table.build(rows, parsed, **table_layout(view))
        self.tax_rates = dict(data.tax_rates)
        self.events: list[Record] = []
        self.listeners: list[ChangeListener] = []
        self._last_us = to_us(data.anchor)
        self._secret = secrets.token_bytes(32)
        self.bu_index = {
            bu: i for i, bu in enumerate(sorted(self.tables["business_units"].records))
        }
        self.customer_bus: dict[int, int] = {}
        bits = {bu: 1 << i for bu, i in self.bu_index.items()}
        customer_bus = self.customer_bus
        for name in ("jobs", "memberships"):  # add_customer_bu, inlined for a million records
            for rec in self.tables[name].records.values():
                cid = rec["customerId"]
                customer_bus[cid] = customer_bus.get(cid, 0) | bits.get(rec["businessUnitId"], 1)
        self.membership_customer = {
            mid: m["customerId"] for mid, m in self.tables["memberships"].records.items()
        }
        # Indexes the write rules need: a job's appointments, a technician's appointments.
        self.job_appointments: dict[int, list[int]] = {}
        self.tech_appointments: dict[int, set[int]] = {}
        for appt in self.tables["appointments"].records.values():
            self._index_appointment(appt)
        # Ids of nested records (assignments, invoice items) share one counter each.
        self.sub_ids = {
            "_assignments": 1
            + max(
                (
                    a["id"]
                    for r in self.tables["appointments"].records.values()
                    for a in r["assignments"]
                ),
                default=0,
            ),
            "_invoice_items": 1
            + max(
                (i["id"] for r in self.tables["invoices"].records.values() for i in r["items"]),
                default=0,
            ),
        }

    def _index_appointment(self, appt: Record) -> None:
        ids = self.job_appointments.setdefault(appt["jobId"], [])
        if appt["id"] not in ids:
            ids.append(appt["id"])
        for assignment in appt["assignments"]:
            self.tech_appointments.setdefault(assignment["technicianId"], set()).add(appt["id"])

    # --- the interface the activity engine and writes use ----------------------------------

    def now(self) -> datetime:
        """A strictly increasing UTC timestamp (µs), never behind the wall clock."""
        return datetime.fromtimestamp(self.now_us() / 1_000_000, tz=UTC)

    def now_us(self) -> int:
        """The next strictly increasing instant in epoch µs, never behind the wall clock."""
        with self.lock:
            us = max(int(time.time() * 1_000_000), self._last_us + 1)
            self._last_us = us
            return us

    def stamp(self, us: int) -> str:
        """The API timestamp of epoch µs."""
        return self.clock.fmt(us)

    def get(self, entity: str, record_id: int) -> Record | None:
        """A deep copy of the current record, or None."""
        with self.lock:
            table = self.tables[entity]
            if record_id not in table.records:
                return None
            return orjson.loads(table.json(record_id))  # type: ignore[no-any-return]

    def ids(self, entity: str) -> list[int]:
        """The ids of an entity's records."""
        with self.lock:
            return list(self.tables[entity].records)

    def next_id(self, entity: str) -> int:
        """A fresh id of an entity (or of nested records: ``_assignments``, ``_invoice_items``)."""
        with self.lock:
            if entity in self.sub_ids:
                self.sub_ids[entity] += 1
                return self.sub_ids[entity] - 1
            table = self.tables[entity]
            rid = table.next_id
            table.next_id += 1
            return rid

    def insert(self, entity: str, record: Record) -> Record:
        """Add a record; assigns ``id``, ``createdOn`` and ``modifiedOn`` if absent, and
        every spec property it lacks (``generator/spec_fields.py``)."""
        with self.lock:
            table = self.tables[entity]
            if record.get("id") is None:
                record["id"] = self.next_id(entity)
            rid = record["id"]
            if rid in table.records:
                raise KeyError(f"{entity} {rid} exists")
            us = self.now_us()
            record.setdefault("createdOn", self.stamp(us))
            record["modifiedOn"] = self.stamp(us)
            fill_spec_fields(entity, [record])
            table.records[rid] = record
            table.mod_us[rid] = us
            bisect.insort(table.order, (us, rid))
            table.next_id = max(table.next_id, rid + 1)
            if entity in ("jobs", "memberships"):
                self.add_customer_bu(record["customerId"], record["businessUnitId"])
            if entity == "memberships":
                self.membership_customer[rid] = record["customerId"]
            if entity == "appointments":
                self._index_appointment(record)
            self._sync_views(entity, [], record)
            self._notify(entity, "created", rid, us)
            return record

    def update(self, entity: str, record_id: int, changes: Record) -> Record:
        """Merge top-level ``changes`` into a record and bump its ``modifiedOn``."""
        with self.lock:
            table = self.tables[entity]
            record = table.records[record_id]
            view = NESTED_VIEWS.get(entity)
            before = (record.get(view[0]) or []) if view and view[0] in changes else None
            record.update(changes)
            old = table.mod_us[record_id]
            index = bisect.bisect_left(table.order, (old, record_id))
            del table.order[index]
            us = self.now_us()
            record["modifiedOn"] = self.stamp(us)
            table.mod_us[record_id] = us
            table.order.append((us, record_id))  # newest is always last
            table.json_cache.pop(record_id, None)
            if entity == "jobs":
                self.add_customer_bu(record["customerId"], record["businessUnitId"])
            if entity == "appointments":
                self._index_appointment(record)
            if before is not None:
                self._sync_views(entity, before, record)
            self._notify(entity, "updated", record_id, us)
            return record

    def _notify(self, entity: str, action: str, record_id: int, us: int) -> None:
        for listener in self.listeners:
            listener(entity, action, record_id, us)

    def _sync_views(self, entity: str, before: list[Record], record: Record) -> None:
        """Keep the view of ``entity``'s nested records (``NESTED_VIEWS``) in step with a
        record whose nested records were ``before``: the ones gone leave the view, the
        others are (re)placed at their own ``modifiedOn``."""
        view = NESTED_VIEWS.get(entity)
        if view is None or view[1] not in self.tables:
            return
        field, name = view
        table = self.tables[name]
        now = record.get(field) or []
        kept = {child["id"] for child in now}
        for child in before:
            if child["id"] not in kept:
                table.drop(child["id"])
        for child in now:
            table.put(child["id"], child, to_us_from_ts(child["modifiedOn"]))

    def emit(self, type: str, entity: str, entity_id: int, data: Record | None = None) -> None:
        """Append an event to the change feed."""
        with self.lock:
            self.events.append(
                {
                    "id": len(self.events) + 1,
                    "type": type,
                    "entity": entity,
                    "entityId": entity_id,
                    "occurredOn": self.stamp(self.now_us()),
                    "data": data or {},
                }
            )

    # --- business-unit scoping ------------------------------------------------------------

    def add_customer_bu(self, customer_id: int, bu: int) -> None:
        """Record that the customer has business with unit ``bu`` (for scoping)."""
        bit = 1 << self.bu_index.get(bu, 0)
        self.customer_bus[customer_id] = self.customer_bus.get(customer_id, 0) | bit

    def scope_mask(self, business_unit_ids: list[int] | None) -> int | None:
        """The bitmask of a user's business units (None: every unit)."""
        if business_unit_ids is None:
            return None
        mask = 0
        for bu in business_unit_ids:
            if bu in self.bu_index:
                mask |= 1 << self.bu_index[bu]
        return mask

    def record_bu(self, entity: str, rec: Record) -> int | None:
        """The business unit a record belongs to directly, if it has one."""
        field = BU_ENTITIES_DIRECT.get(entity)
        if field is not None:
            return rec.get(field)  # type: ignore[no-any-return]
        nested = BU_NESTED.get(entity)
        if nested is not None:
            ref = rec.get(nested)
            return ref["id"] if ref else None
        return None

    def visible(self, entity: str, rec: Record, mask: int | None) -> bool:
        """Whether a user whose units are ``mask`` may see ``rec``."""
        if mask is None:
            return True
        bu = self.record_bu(entity, rec)
        if bu is not None:
            return bool(mask >> self.bu_index.get(bu, 63) & 1)
        if entity == "recurring_service_events":
            customer = self.membership_customer.get(rec.get("membershipId") or 0)
            return customer is not None and bool(self.customer_bus.get(customer, 0) & mask)
        field = CUSTOMER_SCOPED.get(entity)
        if field is not None:
            return bool(self.customer_bus.get(rec[field], 0) & mask)
        return True  # reference sets without a business unit

    # --- pagination -----------------------------------------------------------------------

    def encode_cursor(self, query: PageQuery, position: tuple[int, int], as_of: int) -> str:
        """A signed cursor for the page after ``position`` of ``query``, read as of ``as_of``."""
        payload = orjson.dumps({"p": list(position), "a": as_of, "f": query.fingerprint()})
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        sig = hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{body}.{sig}"

    def decode_cursor(self, query: PageQuery, cursor: str) -> tuple[tuple[int, int], int]:
        """(position, asOf) of a cursor; ``CursorError`` if forged or for other filters."""
        try:
            body, sig = cursor.rsplit(".", 1)
        except ValueError:
            raise CursorError("the cursor is malformed: pass nextCursor back unchanged") from None
        expected = hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:24]
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            raise CursorError(
                "the cursor was not issued by this server or was altered: "
                "restart the read without a cursor"
            )
        payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if payload["f"] != query.fingerprint():
            raise CursorError(
                "the cursor belongs to a read with other filters: keep the filters of "
                "the first page, or start again without a cursor"
            )
        p = payload["p"]
        return (int(p[0]), int(p[1])), int(payload["a"])

    def page(
        self, query: PageQuery, page_size: int, cursor: str | None
    ) -> tuple[list[bytes], str | None, int, int]:
        """One page: (record JSON, next cursor, asOf µs, records scanned)."""
        with self.lock:
            table = self.tables[query.entity]
            if cursor:
                position, as_of = self.decode_cursor(query, cursor)
                start = bisect.bisect_right(table.order, position)
            else:
                as_of = self.now_us()
                start = 0
                if query.modified_on_or_after is not None:
                    start = bisect.bisect_left(table.order, (query.modified_on_or_after, -1))
            upper = as_of
            if query.modified_before is not None:
                upper = min(upper, query.modified_before)
            out: list[bytes] = []
            order = table.order
            records = table.records
            ids = set(query.ids) if query.ids else None
            i = start
            n = len(order)
            last: tuple[int, int] | None = None
            while i < n and len(out) < page_size:
                key = order[i]
                if key[0] >= upper:
                    i = n
                    break
                rid = key[1]
                rec = records[rid]
                i += 1
                last = key
                if ids is not None and rid not in ids:
                    continue
                if query.active != "any" and rec.get("active", True) != (query.active == "true"):
                    continue
                if (
                    query.business_unit_id is not None
                    and self.record_bu(query.entity, rec) != query.business_unit_id
                ):
                    continue
                if not self.visible(query.entity, rec, query.scope):
                    continue
                out.append(table.json(rid))
            has_more = i < n and order[i][0] < upper
            next_cursor = (
                self.encode_cursor(query, last, as_of) if has_more and last is not None else None
            )
            return out, next_cursor, as_of, i - start

    def iter_records(self, entity: str) -> Iterator[Record]:
        """Every record of an entity as it stands, by id (a snapshot copy)."""
        with self.lock:
            rows = [
                orjson.loads(self.tables[entity].json(rid))
                for rid in sorted(self.tables[entity].records)
            ]
        yield from rows

    def events_after(self, after: int, limit: int) -> tuple[list[Record], int]:
        """Up to ``limit`` events after position ``after``, and how many events there are."""
        with self.lock:
            chunk = self.events[after : after + limit]
            return chunk, len(self.events)
