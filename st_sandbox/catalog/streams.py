"""What the sandbox needs to know about each non-core catalog stream, derived once from
``st_contract.catalog``: which streams it serves, how their tables are keyed and ordered,
and which date a required range (``fromUtc``/``toUtc``) filters on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from st_contract.catalog import STREAMS, STREAMS_BY_NAME, Node, Stream, fields

SERVED: tuple[Stream, ...] = tuple(s for s in STREAMS if not s.core)
"""The catalog streams the sandbox serves besides the 20 core entities."""

CORE_ROUTED: frozenset[str] = frozenset(
    {"dispatch_appointment_assignments", "reporting_report_categories"}
)
"""Catalog streams whose official paths the core routers already serve: dispatch's
appointment assignments (``v2/dispatch.py``, the assignments of the core appointments the
writes change) and the report categories (``v2/reporting.py``, ``st_sandbox/reports.py``).
They get no generic v2 route, which would shadow the core one (the catalog routers come
first); their tables, behind the session route and the dump, hold the core's records
(``generator/business/served.py``, kept in step by the store: ``NESTED_VIEWS``)."""

NESTED_VIEWS: dict[str, tuple[str, str]] = {
    "appointments": ("assignments", "dispatch_appointment_assignments"),
}
"""Catalog streams whose records are the nested records of a core entity: entity →
(the field holding them, the stream). The store keeps the stream's table in step with
every insert and update of the entity."""

# Fields a stream's export items carry that its numbered list's items do not (exports
# flag deleted records with ``active``), read off the specs' item schemas; the list
# route leaves them out. tests/sandbox/test_catalog_v2.py checks the table against them.
LIST_OMITS: dict[str, tuple[str, ...]] = {
    name: ("active",)
    for name in (
        "accounting_inventory_bills",
        "crm_bookings",
        "crm_leads",
        "crm_locations_contacts",
        "jpm_projects",
        "payroll_gross_pay_items",
        "payroll_jobs_splits",
        "service_agreements_service_agreements",
    )
}


@dataclass(frozen=True)
class Layout:
    """How a stream's table is keyed and ordered.

    ``int_id``: records carry a unique int ``id`` the table is keyed by; otherwise (no key,
    or a string id) the table keys records by an internal sequence number that is never
    sent. ``stamps``: the record fields whose first present value orders the table (the
    modification time where the spec has one, else the creation time); with none, records
    are in key order.
    """

    int_id: bool
    stamps: tuple[str, ...]
    range_field: str | None


@cache
def layout(name: str) -> Layout:
    """The table layout of a catalog stream."""
    stream = STREAMS_BY_NAME[name]
    nodes = {f["name"]: f for f in fields(name)}
    int_id = stream.key == "id" and nodes.get("id", {}).get("type") == "int64"
    stamps = tuple(f for f in ("modifiedOn", "createdOn") if f in nodes)
    times = [n for n, f in nodes.items() if f["type"] in ("timestamp", "date")]
    # A required date range filters on the record's own date: its "date"-like field first.
    preferred = [n for n in ("date", "dateTime", "createdOn") if n in times]
    range_field = (preferred or times or [None])[0]
    return Layout(int_id, stamps, range_field)


def top_nodes(name: str) -> dict[str, Node]:
    """A stream's top-level fields by name."""
    return {f["name"]: f for f in fields(name)}


def module_of(stream: Stream) -> str:
    """The scope module of a stream: its URL prefix's first segment (``/sales/v2`` →
    ``sales``, ``/telecom`` → ``telecom``), as the v2 ``caller`` dependency names it."""
    return stream.prefix.strip("/").split("/")[0]


def table_layout(name: str) -> dict[str, Any]:
    """``Table.build``'s keyword arguments for a table: the defaults for the core
    entities, a catalog stream's key and order otherwise."""
    if name not in STREAMS_BY_NAME or STREAMS_BY_NAME[name].core:
        return {}
    found = layout(name)
    return {"int_id": found.int_id, "stamps": found.stamps}
