"""Where each entity lives on the official ServiceTitan v2 API: module, list path and
export path (None where the official API has no export). The v2 client reads through it
and the sandbox's v2 surface serves it, so the two cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class V2Path:
    """``/{module}/v2/tenant/{tenant}/{path}`` and ``.../export/{export}``."""

    module: str
    path: str
    export: str | None


V2_PATHS: dict[str, V2Path] = {
    "customers": V2Path("crm", "customers", "customers"),
    "locations": V2Path("crm", "locations", "locations"),
    # The sandbox's contacts are the customers' contact methods (phone, e-mail).
    "contacts": V2Path("crm", "customers/contacts", "customers/contacts"),
    "business_units": V2Path("settings", "business-units", "business-units"),
    "technicians": V2Path("settings", "technicians", "technicians"),
    "job_types": V2Path("jpm", "job-types", None),
    "jobs": V2Path("jpm", "jobs", "jobs"),
    "appointments": V2Path("jpm", "appointments", "appointments"),
    "tax_zones": V2Path("accounting", "tax-zones", None),
    "invoices": V2Path("accounting", "invoices", "invoices"),
    "payments": V2Path("accounting", "payments", "payments"),
    "membership_types": V2Path("memberships", "membership-types", "membership-types"),
    "memberships": V2Path("memberships", "memberships", "memberships"),
    "recurring_service_events": V2Path(
        "memberships", "recurring-service-events", "recurring-service-events"
    ),
    "installed_equipment": V2Path(
        "equipment-systems", "installed-equipment", "installed-equipment"
    ),
    "pricebook_categories": V2Path("pricebook", "categories", "categories"),
    "pricebook_services": V2Path("pricebook", "services", "services"),
    "pricebook_materials": V2Path("pricebook", "materials", "materials"),
    "pricebook_equipment": V2Path("pricebook", "equipment", "equipment"),
    "estimates": V2Path("salestech", "estimates", "estimates"),
}
# Dispatch's appointment assignments: nested in each appointment by the session API.
ASSIGNMENTS = V2Path("dispatch", "appointment-assignments", "appointment-assignments")


def tenant_path(tenant_id: int | str, module: str, path: str) -> str:
    """The API path of ``path`` in ``module`` for one tenant."""
    return f"/{module}/v2/tenant/{tenant_id}/{path}"
