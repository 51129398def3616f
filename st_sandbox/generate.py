"""Seeded, realistic tenant data: business units, technicians, customers with locations and
contacts, a pricebook, about three years of jobs with appointments and assignments,
estimates, invoices, payments, memberships with recurring service events and installed
equipment.

Records are produced exactly as the API serves them (camelCase, JSON-ready strings for
timestamps and money), deterministic from ``(seed, customers, anchor)``. The builders live
in ``st_sandbox/generator/``, one per kind of record, drawing from one random stream in a
fixed order. 100k customers (about a million records) must be ready in well under 30
seconds on a shared machine, so the hot path builds plain dicts with the cyclic GC
paused, prices in integer cents, formats each instant and amount once (records share the
strings), and lets records share their ``{id, name}`` references instead of copying them.
Nothing mutates a nested object of a record in place; writes replace top-level fields.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from st_sandbox.catalog.generate import build_catalog
from st_sandbox.generator.customers import build_customers
from st_sandbox.generator.equipment import build_equipment
from st_sandbox.generator.jobs import JobsBuilder
from st_sandbox.generator.memberships import build_memberships
from st_sandbox.generator.reference import build_reference
from st_sandbox.generator.spec_fields import fill_spec_fields
from st_sandbox.generator.state import GenState, Record


@dataclass
class TenantData:
    """Every entity's records as the API serves them, keyed by entity name, sorted by id."""

    tables: dict[str, list[Record]]
    anchor: datetime
    tax_rates: dict[int, Decimal] = field(default_factory=dict)
    # Epoch µs of the timestamp strings in the records, as far as known: the store indexes
    # a million records by modifiedOn and parsing each distinct stamp back cost about a
    # second at 100k customers. A cache: the store adds the stamps it has to parse.
    stamp_us: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Records per entity."""
        return {name: len(rows) for name, rows in self.tables.items()}


def generate(seed: int, customers: int, anchor: datetime, history_days: int = 1095) -> TenantData:
    """Generate a whole tenant, deterministic from ``(seed, customers, anchor)``.

    ``anchor`` is the end of the history (the sandbox's "now" at start-up): no record is
    created or modified after it, though some appointments are booked in the two weeks
    after it.
    """
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware (UTC)")
    with paused_gc():
        g = GenState(seed, customers, anchor, history_days)
        # The order is part of the data: each step draws from the same random stream.
        build_reference(g)
        build_customers(g)
        build_memberships(g)
        JobsBuilder(g).build()
        build_equipment(g)
        # Every property of the official specs, on every core record (spec_fields.py).
        for name, rows in g.tables.items():
            fill_spec_fields(name, rows)
        # Every other catalog stream, over the core records (st_sandbox/catalog/).
        build_catalog(g)
    return TenantData(g.tables, g.anchor, dict(g.tax_rates), g.clock.seen or {})


@contextmanager
def paused_gc() -> Iterator[None]:
    """Build millions of acyclic dicts without the cyclic GC rescanning them (about 40 %
    faster), then freeze them so later collections skip the tenant's records too."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
