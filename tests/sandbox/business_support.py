"""A small tenant with every business stream, built from the core builders and
``BUILDERS`` directly (not through ``generate``), so these tests do not depend on how the
generator calls the registry."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from st_sandbox.generate import TenantData
from st_sandbox.generator.business import BUILDERS
from st_sandbox.generator.customers import build_customers
from st_sandbox.generator.equipment import build_equipment
from st_sandbox.generator.jobs import JobsBuilder
from st_sandbox.generator.memberships import build_memberships
from st_sandbox.generator.reference import build_reference
from st_sandbox.generator.state import GenState, Record

ANCHOR = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def build(seed: int, customers: int = 300) -> tuple[GenState, dict[str, list[Record]]]:
    """The core tables, then every business stream stored next to them."""
    g = GenState(seed, customers, ANCHOR, 1095)
    build_reference(g)
    build_customers(g)
    build_memberships(g)
    JobsBuilder(g).build()
    build_equipment(g)
    for name, builder in BUILDERS.items():
        g.tables[name] = builder(g)
    return g, g.tables


@cache
def tenant(seed: int = 5) -> dict[str, list[Record]]:
    """The tables of one shared tenant (read only)."""
    return build(seed)[1]


def tenant_data(seed: int = 5) -> TenantData:
    """A fresh tenant, as this branch's store takes it: every table has ``modifiedOn``
    (marketing costs have none; how they are served is the generic generator's choice)."""
    g, tables = build(seed)
    tables = {n: rows for n, rows in tables.items() if not rows or "modifiedOn" in rows[0]}
    return TenantData(tables, ANCHOR, dict(g.tax_rates), dict(g.clock.seen or {}))


def by_id(rows: list[Record]) -> dict[int, Record]:
    return {r["id"]: r for r in rows}
