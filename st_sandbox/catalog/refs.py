"""Foreign keys and sizes of the generated catalog streams.

A field refers to another table when ``DECLARED`` names it (``jobId`` → ``jobs``), or by a
rule over its name: ``*ById`` is a user (a technician), ``typeId`` is the stream's own type
stream (``inventory_purchase_orders`` → ``inventory_purchase_order_types``), ``fooTypeId``
a ``*_foo_types`` stream, and any other ``fooId``/``fooIds`` the table named ``foos``
(same module first). Only int fields refer; a resolved table must exist and be keyed by an
int ``id``, so every generated reference points at a record that exists.
"""

from __future__ import annotations

import re
from functools import cache

from st_contract.catalog import STREAMS, STREAMS_BY_NAME, Node
from st_sandbox.catalog.streams import SERVED, layout, top_nodes

CORE_TABLES = frozenset(s.name for s in STREAMS if s.core)

# Field name → table, where the name alone does not say it (or says it ambiguously).
DECLARED: dict[str, str] = {
    "jobId": "jobs",
    "sourceJobId": "jobs",
    "customerId": "customers",
    "locationId": "locations",
    "technicianId": "technicians",
    "employeeId": "technicians",
    "managerId": "technicians",
    "assignedToId": "technicians",
    "agentId": "technicians",
    "accountManagerId": "technicians",
    "soldById": "technicians",
    "projectManagerId": "technicians",
    "preferredTechnicianId": "technicians",
    "businessUnitId": "business_units",
    "payrollBusinessUnitId": "business_units",
    "appointmentId": "appointments",
    "invoiceId": "invoices",
    "campaignId": "marketing_campaigns",
    "stCampaignId": "marketing_campaigns",
    "vendorId": "inventory_vendors",
    "warehouseId": "inventory_warehouses",
    "inventoryLocationId": "inventory_warehouses",
    "fromLocationId": "inventory_warehouses",
    "toLocationId": "inventory_warehouses",
    "projectId": "jpm_projects",
    "membershipId": "memberships",
    "estimateId": "estimates",
    "installedEquipmentId": "installed_equipment",
    "skuId": "pricebook_materials",
    "tagTypeId": "settings_tag_types",
    "defaultTagTypeId": "settings_tag_types",
    "budgetCodeId": "jpm_work_breakdown_structure_budget_codes",
    "subStatusId": "jpm_project_substatuses",
    "statusId": "jpm_project_statuses",
    "paymentTermId": "accounting_payment_terms",
    "paymentMethodId": "accounting_payment_types",
    "purchaseOrderId": "inventory_purchase_orders",
    "creditMemoId": "accounting_credit_memos",
    "formId": "forms_forms",
    "callId": "telecom_calls",
    "bookingId": "crm_bookings",
    "payrollId": "payroll_payrolls",
    "timesheetCodeId": "payroll_timesheet_codes",
    "activityCodeId": "payroll_activity_codes",
    "invoiceTemplateId": "memberships_invoice_templates",
    "renewalAgreementId": "service_agreements_service_agreements",
    "categoryId": "timesheets_activity_categories",
}
# Ids that are not references (the record's own, or another system's).
NOT_REFS = {"id", "externalId", "importId", "exportId", "versionId", "lastSyncVersionId"}

# Reference-like streams hold a few to a few dozen records; transactional ones scale with
# the tenant: per record of the table they hang off (the first of these fields they
# have), at a modest ratio, or per customer when they name none.
ANCHORS: tuple[tuple[str, str, float], ...] = (
    ("jobId", "jobs", 0.12),
    ("appointmentId", "appointments", 0.08),
    ("invoiceId", "invoices", 0.08),
    ("estimateId", "estimates", 0.15),
    ("membershipId", "memberships", 0.2),
    ("customerId", "customers", 0.05),
    ("locationId", "locations", 0.04),
)
TRANSACTIONAL = re.compile(
    r"calls|leads|bookings|timesheets|pay_items|adjustments|payrolls$|purchase_orders|"
    r"receipts|returns|transfers|bills$|ap_credits$|ap_payments$|tasks|reviews|notes|history|"
    r"logs|ratings|submissions|journal_entries|deposits|credit_memos|splits|status_changes|"
    r"recurring_services$|service_agreements$|projects$|attributed_leads|performance|"
    r"invoice_items|items$|contact_methods|crm_contacts$|location_findings|non_job|"
    r"assignments|locations_contacts|locations_rates"
)
PER_CUSTOMER = 0.04


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _int_keyed(table: str) -> bool:
    if table in CORE_TABLES:
        return True
    return table in STREAMS_BY_NAME and layout(table).int_id


def _by_plural(stream: str, stem: str) -> str | None:
    """The table named after ``stem`` (``purchase_order`` → ``..._purchase_orders``)."""
    plural = stem + "s"
    module = STREAMS_BY_NAME[stream].module
    for candidate in (plural, f"{module}_{plural}"):
        if _int_keyed(candidate):
            return candidate
    ending = [s.name for s in SERVED if s.name.endswith("_" + plural) and layout(s.name).int_id]
    return ending[0] if len(ending) == 1 else None


def resolve(stream: str, field: str) -> str | None:
    """The table the int field ``field`` of ``stream`` refers to, if any."""
    single = field[:-1] if field.endswith("Ids") else field
    if single in NOT_REFS or not single.endswith("Id"):
        return None
    target: str | None = DECLARED.get(single)
    if target is None and single.endswith("ById"):
        target = "technicians"
    elif target is None and single == "typeId":
        base = stream[:-1] if stream.endswith("s") else stream
        target = base + "_types"
    elif target is None:
        stem = _snake(single[:-2])
        target = _by_plural(stream, stem)
    if target is None or target == stream or not _int_keyed(target):
        return None
    return target


def _is_int_ref_node(node: Node) -> bool:
    if node["type"] == "int64":
        return True
    return node["type"] == "list" and node.get("items", {}).get("type") == "int64"


@cache
def references(stream: str) -> dict[str, str]:
    """The top-level fields of ``stream`` that refer to a table, and the table."""
    found = {}
    for name, node in top_nodes(stream).items():
        if _is_int_ref_node(node) and "enum" not in node:
            target = resolve(stream, name)
            if target is not None:
                found[name] = target
    return found


def anchor(stream: str) -> tuple[str, str, float] | None:
    """(field, table, ratio) a transactional stream hangs off, or None."""
    refs = references(stream)
    for field, table, ratio in ANCHORS:
        if refs.get(field) == table:
            return field, table, ratio
    return None


REFERENCE = re.compile(
    r"(types|categories|codes|reasons|statuses|substatuses|custom_fields|tags|templates|"
    r"settings|configuration|hours|windows|markups|costtypes)$"
)


def is_transactional(stream: str) -> bool:
    """Whether a stream scales with the tenant (else it is a small reference set)."""
    if REFERENCE.search(stream):
        return False
    return anchor(stream) is not None or bool(TRANSACTIONAL.search(stream))


def generation_order(names: list[str]) -> list[str]:
    """``names`` so that each stream comes after the streams it refers to (cycles are
    broken in name order; a reference into a stream not built yet is left null)."""
    pending = set(names)
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name not in pending or name in visiting:
            return
        visiting.add(name)
        for target in sorted(set(references(name).values())):
            visit(target)
        visiting.discard(name)
        pending.discard(name)
        done.append(name)

    for name in sorted(names):
        visit(name)
    return done
