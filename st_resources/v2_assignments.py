"""Appointments' technician assignments on the v2 API, nested into appointment tables
as the session API nests them (``Appointment.assignments``), without a Python loop per
record.

v2 serves assignments apart from appointments (dispatch's ``appointment-assignments``).
Two ways to get those of a page of appointments:

- look them up by ``appointmentIds``, 50 appointments a call (the limit the sandbox
  holds us to, as for ``ids``): exact and fresh, but a call per 50 appointments;
- scan dispatch's assignment export once (``ASSIGNMENTS.export``, every assignment of the
  tenant, a few thousand a call) into an index, and serve from it every appointment last
  modified before the scan began. An assignment change bumps its appointment's
  ``modifiedOn`` (what landing appointments by modification day relies on anyway), so an
  appointment modified before the scan began has the assignments the scan saw; the
  others (modified during or after the scan) are looked up.

Which is cheaper depends on the tenant's assignments against the appointments to nest:
the index is built when a page would need more lookup calls than the whole scan, and
dropped when no appointment read uses it any more.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from st_contract.models import Appointment, AppointmentAssignment
from st_contract.v2_paths import ASSIGNMENTS
from st_resources.arrow import META_COLUMNS, TIMESTAMP, arrow_schema
from st_resources.transport import Transport
from st_resources.v2_pages import table_pages

MAX_IDS = 50  # appointments per lookup call
# Our clock against the tenant's: an appointment modified this close before the scan
# began is looked up rather than trusted to the index.
CLOCK_MARGIN = timedelta(minutes=5)


@cache
def nested_type() -> pa.DataType:
    """The type of ``Appointment.assignments`` in the landing schema."""
    return arrow_schema(Appointment).field("assignments").type


class _Index:
    """Every assignment the export scan saw, for appointments modified before ``since``."""

    def __init__(self, table: pa.Table, since: datetime) -> None:
        self.table = table
        self.since = since


class Assignments:
    """Nests assignments into appointment tables (thread-safe; windows share the index)."""

    def __init__(self, transport: Transport, tenant_id: int, page_size: int) -> None:
        self.transport = transport
        self.tenant_id = tenant_id
        self.page_size = page_size
        self.lock = threading.Lock()  # one scan (or count) at a time; others wait for it
        self.index: _Index | None = None
        self.total: int | None = None  # the tenant's assignments, while reads use them
        self.users = 0

    def use(self) -> None:
        """An appointment read starts (the index lives while any does)."""
        with self.lock:
            self.users += 1

    def release(self) -> None:
        """An appointment read is done; the last one drops the index and the count."""
        with self.lock:
            self.users -= 1
            if self.users <= 0:
                self.users, self.index, self.total = 0, None, None

    def nest(self, appointments: pa.Table, priority: int = 0) -> pa.Table:
        """``appointments`` with their ``assignments`` column filled in (sorted by id)."""
        if appointments.num_rows == 0:
            return appointments
        ids = appointments.column("id").combine_chunks()
        index = self._index_for(len(ids), priority)
        if index is None:
            found = self._lookup(ids, priority)
        else:
            old = pc.less(appointments.column("modifiedOn"), pa.scalar(index.since, TIMESTAMP))
            known = pc.is_in(index.table.column("appointmentId"), value_set=ids.filter(old))
            found = pa.concat_tables(
                [index.table.filter(known), self._lookup(ids.filter(pc.invert(old)), priority)]
            )
        if pc.count_distinct(ids).as_py() != len(ids):
            # An appointment twice in a page (an odd source): one row at a time.
            nested = pa.concat_arrays([_nested(ids.slice(i, 1), found) for i in range(len(ids))])
        else:
            nested = _nested(ids, found)
        column = appointments.schema.get_field_index("assignments")
        return appointments.set_column(column, appointments.schema.field(column), nested)

    # --- the index --------------------------------------------------------------------------

    def _index_for(self, appointments: int, priority: int) -> _Index | None:
        """The index, built now if ``appointments`` lookups would cost more calls than the
        scan; None: look them up."""
        if self.index is not None:
            return self.index
        with self.lock:
            if self.index is None:
                if self.total is None:
                    self.total = self._count(priority)
                if math.ceil(appointments / MAX_IDS) <= math.ceil(self.total / self.page_size):
                    return None
                self.index = self._scan(priority)
            return self.index

    def _count(self, priority: int) -> int:
        query = {"pageSize": 1, "includeTotal": "true", "active": "Any"}
        body = self.transport.get_json(ASSIGNMENTS.url(self.tenant_id), query, priority=priority)
        self.transport.metrics.add(pages=1, records=len(body["data"]))
        return int(body.get("totalCount") or 0)

    def _scan(self, priority: int) -> _Index:
        since = datetime.now(UTC) - CLOCK_MARGIN
        url = ASSIGNMENTS.export_url(self.tenant_id)
        query: dict[str, Any] = {"from": "", "active": "Any"}
        tables = self._pages(url, query, priority)
        return _Index(_latest(tables), since)

    # --- lookups ----------------------------------------------------------------------------

    def _lookup(self, ids: pa.Array, priority: int) -> pa.Table:
        """The assignments of ``ids`` from the list endpoint, 50 appointments a call."""
        url = ASSIGNMENTS.url(self.tenant_id)
        values = ids.to_pylist()
        tables = [_empty()]
        for i in range(0, len(values), MAX_IDS):
            chunk = ",".join(str(v) for v in values[i : i + MAX_IDS])
            query: dict[str, Any] = {
                "appointmentIds": chunk,
                "active": "Any",
                "pageSize": self.page_size,
                "page": 1,
            }
            tables += self._pages(url, query, priority)
        return _latest(tables)

    def _pages(self, url: str, query: dict[str, Any], priority: int) -> list[pa.Table]:
        loaded_at = datetime.now(UTC)
        pages = table_pages(
            self.transport, "assignments", AppointmentAssignment, url, query, loaded_at, priority
        )
        return [page.table.drop_columns(list(META_COLUMNS)) for page in pages]


def _empty() -> pa.Table:
    return arrow_schema(AppointmentAssignment).empty_table().drop_columns(list(META_COLUMNS))


def _row_numbers(count: int) -> pa.Array:
    """0, 1, ... ``count - 1`` (computed by Arrow, not by a Python loop)."""
    return pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), count)), 1)


def _latest(tables: list[pa.Table]) -> pa.Table:
    """The assignments of ``tables`` with each id once, as last seen (a record changed
    while an export is read comes again later in it)."""
    table = pa.concat_tables(tables) if tables else _empty()
    if table.num_rows == 0:
        return table
    numbered = table.append_column("_row", _row_numbers(table.num_rows))
    last = numbered.group_by("id", use_threads=False).aggregate([("_row", "max")])
    return table.take(last.column("_row_max"))


def _nested(ids: pa.Array, assignments: pa.Table) -> pa.Array:
    """A list of assignments per appointment of ``ids`` (in that order, each id once),
    each list sorted by assignment id, empty for an appointment with none."""
    list_type = nested_type()
    owner = pc.index_in(assignments.column("appointmentId"), value_set=ids)
    mine = pc.is_valid(owner)
    ordered = (
        assignments.filter(mine)
        .append_column("_at", owner.filter(mine))
        .sort_by([("_at", "ascending"), ("id", "ascending")])
    )
    counted = pc.value_counts(ordered.column("_at"))
    at = pc.index_in(_row_numbers(len(ids)).cast(pa.int32()), value_set=counted.field("values"))
    lengths = pc.fill_null(pc.take(counted.field("counts"), at), 0)
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(lengths)])
    offsets = offsets.cast(pa.int32())
    item = list_type.value_type
    columns = [ordered.column(f.name).combine_chunks() for f in item]
    values = pa.StructArray.from_arrays(columns, fields=list(item))
    return pa.ListArray.from_arrays(offsets, values, type=list_type)
