"""Asset checks over the landing: unique ids per partition, referential integrity and
invoice arithmetic. They read the Parquet files through an in-memory DuckDB connection and
never lock the warehouse.

The ingest jobs leave the checks out (``jobs.py`` says why); each check runs after the
assets it reads have landed, in a run of checks only (``AFTER_LANDING``, evaluated by
``ingest_checks_automation``), and nightly with the others (``nightly_checks``).
Freshness is not a check: the assets carry a ``FreshnessPolicy`` (``assets.py``).
"""

import dagster as dg

from st_assets.defs.automation import AFTER_LANDING
from st_assets.defs.ingest.drift import schema_drift_check
from st_assets.defs.ingest.selection import selected_streams
from st_assets.defs.names import asset_key
from st_contract.entities import SPECS_BY_NAME
from st_resources.warehouse import WarehouseResource

# (child, its reference, parent, parent's id): checked on the newest version of each record.
REFERENCES = (
    ("jobs", "customerId", "customers", "id"),
    ("jobs", "locationId", "locations", "id"),
    ("appointments", "jobId", "jobs", "id"),
    ("invoices", "job.id", "jobs", "id"),
    ("payments", "applied.appliedTo", "invoices", "id"),
    ("payroll_jobs_timesheets", "jobId", "jobs", "id"),
    ("inventory_purchase_orders", "jobId", "jobs", "id"),
)


def _latest(entity: str) -> str:
    return f"(SELECT * FROM {entity} QUALIFY row_number() OVER (PARTITION BY id ORDER BY modifiedOn DESC) = 1)"


def duplicate_ids(warehouse: WarehouseResource, entity: str) -> list[tuple[object, ...]]:
    """(partition, id, copies) for every id landed twice in one partition."""
    with warehouse.landing_connection(entity) as con:
        partition = "modified_date" if _partitioned(entity) else "'all'"
        return con.execute(
            f"SELECT {partition}, id, count(*) FROM {entity} GROUP BY ALL HAVING count(*) > 1 LIMIT 20"
        ).fetchall()


def orphans(
    warehouse: WarehouseResource, child: str, ref: str, parent: str
) -> list[tuple[object, ...]]:
    """Ids of ``child`` rows whose reference has no ``parent`` row (newest versions)."""
    with warehouse.landing_connection(child, parent) as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if child not in tables or parent not in tables:
            return []
        if ref == "applied.appliedTo":
            source = f"(SELECT id, unnest(appliedTo) AS applied FROM {_latest(child)})"
        else:
            source = _latest(child)
        return con.execute(
            f"SELECT c.id, {ref} FROM {source} c WHERE {ref} IS NOT NULL "
            f"AND {ref} NOT IN (SELECT id FROM {parent}) LIMIT 20"
        ).fetchall()


def bad_invoice_arithmetic(warehouse: WarehouseResource) -> list[tuple[object, ...]]:
    """Invoices where subTotal − discountTotal + salesTax ≠ total or balance ≠ total − payments."""
    with warehouse.landing_connection("invoices", "payments") as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "invoices" not in tables:
            return []
        applied = "SELECT NULL::BIGINT AS invoice_id, 0::DECIMAL(18,2) AS amount WHERE false"
        if "payments" in tables:
            applied = (
                f"SELECT a.appliedTo AS invoice_id, sum(a.appliedAmount) AS amount FROM "
                f"(SELECT unnest(appliedTo) AS a FROM {_latest('payments')} WHERE active) GROUP BY 1"
            )
        return con.execute(
            f"""
            WITH applied AS ({applied})
            SELECT i.id, i.subTotal, i.discountTotal, i.salesTax, i.total, i.balance, coalesce(p.amount, 0)
            FROM {_latest("invoices")} i LEFT JOIN applied p ON p.invoice_id = i.id
            WHERE i.subTotal - i.discountTotal + i.salesTax <> i.total
               OR i.balance <> i.total - coalesce(p.amount, 0)
            LIMIT 20
            """
        ).fetchall()


def _partitioned(entity: str) -> bool:
    return SPECS_BY_NAME[entity].partitioned


def _result(failures: list[tuple[object, ...]], what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not failures,
        metadata={
            "failures": len(failures),
            "examples": dg.MetadataValue.json([list(map(str, f)) for f in failures[:10]]),
            "rule": what,
        },
    )


def unique_ids_check(entity: str) -> dg.AssetChecksDefinition:
    """No id landed twice in one partition of ``entity``."""

    @dg.asset_check(
        asset=asset_key(entity),
        name="unique_ids_per_partition",
        automation_condition=AFTER_LANDING,
        description="No id is landed twice in one partition.",
    )
    def unique_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return _result(duplicate_ids(warehouse, entity), "id unique within each partition")

    return unique_ids


def reference_check(child: str, ref: str, parent: str) -> dg.AssetChecksDefinition:
    """Every ``child.ref`` points at an existing ``parent``."""

    @dg.asset_check(
        asset=asset_key(child),
        name=f"{parent}_exist_for_{ref.replace('.', '_')}",
        additional_deps=[asset_key(parent)],
        automation_condition=AFTER_LANDING,
        description=f"Every {child}.{ref} points at an existing {parent[:-1]}.",
    )
    def references(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return _result(orphans(warehouse, child, ref, parent), f"{child}.{ref} -> {parent}.id")

    return references


def invoice_arithmetic_check() -> dg.AssetChecksDefinition:
    """Invoice totals and balances add up."""

    @dg.asset_check(
        asset=asset_key("invoices"),
        name="invoice_arithmetic",
        additional_deps=[asset_key("payments")],
        automation_condition=AFTER_LANDING,
        description="subTotal − discountTotal + salesTax = total, and balance = total − applied payments.",
    )
    def invoice_arithmetic(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return _result(bad_invoice_arithmetic(warehouse), "invoice totals and balances add up")

    return invoice_arithmetic


@dg.definitions
def servicetitan_checks() -> dg.Definitions:
    """The checks of the streams ``ST_STREAMS`` selects (read when the location loads):
    unique ids and schema drift per stream, references between selected streams, and the
    invoices' arithmetic."""
    streams = selected_streams()
    names = {spec.name for spec in streams}
    checks = [unique_ids_check(spec.name) for spec in streams if spec.stream.key == "id"]
    checks += [schema_drift_check(spec) for spec in streams]
    checks += [
        reference_check(child, ref, parent)
        for child, ref, parent, _ in REFERENCES
        if {child, parent} <= names
    ]
    if {"invoices", "payments"} <= names:
        checks.append(invoice_arithmetic_check())
    return dg.Definitions(asset_checks=checks)
