"""Where each entity lives on the official ServiceTitan v2 API.

A module's URL prefix is its spec's ``servers`` path (``/equipmentsystems/v2``,
``/sales/v2``, ``/telecom``), never the spec's file name; the paths after it are the
spec's, with ``{tenant}`` filled in; the core entities' paths come from the catalog. The v2 backend reads through this table and the
sandbox's v2 surface serves it, so the two cannot disagree, and a test checks every
path against the official specs.
"""

from __future__ import annotations

from dataclasses import dataclass

from st_contract.catalog import STREAMS


@dataclass(frozen=True)
class V2Path:
    """``{prefix}/tenant/{tenant}/{path}``, and ``.../export/{export}`` where the official
    API has an export (None where it has none)."""

    prefix: str
    path: str
    export: str | None

    @property
    def module(self) -> str:
        """The module's name in the URL and in its OAuth scopes (``tn.{module}:r``)."""
        return self.prefix.strip("/").split("/")[0]

    def url(self, tenant_id: int | str, path: str | None = None) -> str:
        """The tenant's URL of ``path`` in this module (default: the list path)."""
        return tenant_path(tenant_id, self.prefix, self.path if path is None else path)

    def export_url(self, tenant_id: int | str) -> str:
        """The tenant's export URL; a clear error where the official API has none."""
        if self.export is None:
            raise ValueError(f"{self.prefix}/{self.path} has no export endpoint")
        return tenant_path(tenant_id, self.prefix, f"export/{self.export}")


CRM = "/crm/v2"
SETTINGS = "/settings/v2"
JPM = "/jpm/v2"
DISPATCH = "/dispatch/v2"
ACCOUNTING = "/accounting/v2"
PRICEBOOK = "/pricebook/v2"

V2_PATHS: dict[str, V2Path] = {
    stream.name: V2Path(
        stream.prefix,
        stream.list_path or "",
        stream.export_path.removeprefix("export/") if stream.export_path else None,
    )
    for stream in STREAMS
    if stream.core
}
"""The core entities' official paths, from the catalog (``st_contract/catalog``)."""
# Dispatch's appointment assignments: nested in each appointment by the session API.
ASSIGNMENTS = V2Path(DISPATCH, "appointment-assignments", "appointment-assignments")


@dataclass(frozen=True)
class V2Operation:
    """One official operation: ``method {prefix}/tenant/{tenant}/{path}``, where ``path``
    is the spec's template (``appointments/{id}/reschedule``)."""

    method: str
    prefix: str
    path: str

    def url(self, tenant_id: int | str, **values: object) -> str:
        """The tenant's URL with the template's ``{placeholders}`` filled in."""
        return tenant_path(tenant_id, self.prefix, self.path.format(**values))


# The official write operations the v2 backend sends.
RESCHEDULE = V2Operation("PATCH", JPM, "appointments/{id}/reschedule")
ASSIGN_TECHNICIANS = V2Operation("POST", DISPATCH, "appointment-assignments/assign-technicians")
UNASSIGN_TECHNICIANS = V2Operation("POST", DISPATCH, "appointment-assignments/unassign-technicians")
INVOICE_ITEMS = V2Operation("PATCH", ACCOUNTING, "invoices/{id}/items")
CREATE_JOB = V2Operation("POST", JPM, "jobs")
HOLD_APPOINTMENT = V2Operation("PUT", JPM, "appointments/{id}/hold")
REMOVE_HOLD = V2Operation("DELETE", JPM, "appointments/{id}/hold")
CANCEL_JOB = V2Operation("PUT", JPM, "jobs/{id}/cancel")
REMOVE_CANCELLATION = V2Operation("PUT", JPM, "jobs/{id}/remove-cancellation")
UPDATE_INVOICE = V2Operation("PATCH", ACCOUNTING, "invoices/{id}")
PAYMENT_STATUS = V2Operation("POST", ACCOUNTING, "payments/status")
WRITES: tuple[V2Operation, ...] = (
    RESCHEDULE,
    ASSIGN_TECHNICIANS,
    UNASSIGN_TECHNICIANS,
    INVOICE_ITEMS,
    CREATE_JOB,
    HOLD_APPOINTMENT,
    REMOVE_HOLD,
    CANCEL_JOB,
    REMOVE_CANCELLATION,
    UPDATE_INVOICE,
    PAYMENT_STATUS,
)
# Reads the writes need beyond the entities' lists: the pricebook's discounts and fees
# (an invoice's discounts are items of these).
DISCOUNTS_AND_FEES = V2Operation("GET", PRICEBOOK, "discounts-and-fees")
WRITE_READS: tuple[V2Operation, ...] = (DISCOUNTS_AND_FEES,)


def reads() -> tuple[V2Operation, ...]:
    """Every official read the v2 backend can send: each entity's list and export."""
    found: list[V2Operation] = []
    for where in (*V2_PATHS.values(), ASSIGNMENTS):
        found.append(V2Operation("GET", where.prefix, where.path))
        if where.export is not None:
            found.append(V2Operation("GET", where.prefix, f"export/{where.export}"))
    return tuple(found)


def operations() -> tuple[V2Operation, ...]:
    """Every official operation the product calls (a test checks each against the specs)."""
    return (*reads(), *WRITE_READS, *WRITES)


# Every module prefix the product calls, for the sandbox's scopes.
MODULE_PREFIXES: tuple[str, ...] = tuple(dict.fromkeys(op.prefix for op in operations()))


def tenant_path(tenant_id: int | str, prefix: str, path: str) -> str:
    """The API path of ``path`` under a module's ``prefix`` (``/crm/v2``) for one tenant."""
    return f"{prefix}/tenant/{tenant_id}/{path}"
