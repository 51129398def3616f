"""Which v2 endpoint serves which sandbox entity, and how a sandbox record becomes the
official response item.

The sandbox's records already use the official v2 field names (``st_resources/models.py``);
the official response schemas forbid unknown properties and require a few fields the
sandbox does not model (custom fields, tags, pricebook commission settings...). A record
is shaped by dropping what the schema does not have and filling what it requires with the
value a tenant that does not use the feature answers. ``tests/sandbox/test_v2_schemas.py``
validates every endpoint against the official schemas, so these tables cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass(frozen=True)
class V2Endpoint:
    """One entity on the v2 surface: ``/{module}/v2/tenant/{tenant}/{path}`` and its export."""

    entity: str
    module: str
    path: str
    export: str | None
    drop_list: frozenset[str] = frozenset()
    drop_export: frozenset[str] = frozenset()
    defaults: dict[str, Any] = field(default_factory=dict)


_CRM: dict[str, Any] = {"customFields": [], "externalData": [], "tagTypeIds": []}
_SKU: dict[str, Any] = {
    "addOnMemberPrice": 0,
    "addOnPrice": 0,
    "assets": [],
    "bonus": 0,
    "commissionBonus": 0,
    "paysCommission": False,
    "hours": 0,
    "displayInAmount": False,
    "isInventory": False,
    "upgrades": [],
}

V2_ENDPOINTS: tuple[V2Endpoint, ...] = (
    V2Endpoint(
        "customers",
        "crm",
        "customers",
        "customers",
        defaults={**_CRM, "nationalAccount": False},
    ),
    V2Endpoint("locations", "crm", "locations", "locations", defaults=_CRM),
    # The sandbox's contacts are the customers' contact methods (phone, e-mail).
    V2Endpoint(
        "contacts",
        "crm",
        "customers/contacts",
        "customers/contacts",
        drop_list=frozenset({"active", "locationId"}),
        drop_export=frozenset({"locationId"}),
    ),
    V2Endpoint(
        "business_units",
        "settings",
        "business-units",
        "business-units",
        drop_list=frozenset({"branch"}),
        drop_export=frozenset({"branch"}),
    ),
    V2Endpoint(
        "technicians",
        "settings",
        "technicians",
        "technicians",
        defaults={
            "burdenRate": 0,
            "commissionRate": 0,
            "dailyGoal": 0,
            "isManagedTech": False,
            "soldByRate": 0,
            "status": "Idle",
        },
    ),
    V2Endpoint(
        "jobs",
        "jpm",
        "jobs",
        "jobs",
        drop_list=frozenset({"active"}),
        defaults={
            "customFields": [],
            "customerPo": "",
            "equipmentIds": [],
            "externalData": [],
            "noCharge": False,
            "notificationsEnabled": True,
            "tagTypeIds": [],
        },
    ),
    # Assignments are served by dispatch's appointment-assignments, as in the official API.
    V2Endpoint(
        "appointments",
        "jpm",
        "appointments",
        "appointments",
        drop_list=frozenset({"arrivedOn", "assignments"}),
        drop_export=frozenset({"arrivedOn", "assignments"}),
    ),
    V2Endpoint(
        "invoices",
        "accounting",
        "invoices",
        "invoices",
        defaults={"invoiceConfiguration": "JobInvoice"},
    ),
    V2Endpoint("payments", "accounting", "payments", "payments"),
    V2Endpoint(
        "memberships", "memberships", "memberships", "memberships", defaults={"customFields": []}
    ),
    V2Endpoint(
        "recurring_service_events",
        "memberships",
        "recurring-service-events",
        "recurring-service-events",
        drop_list=frozenset({"active", "locationId"}),
        drop_export=frozenset({"locationId"}),
    ),
    V2Endpoint(
        "installed_equipment",
        "equipment-systems",
        "installed-equipment",
        "installed-equipment",
    ),
    V2Endpoint(
        "pricebook_services",
        "pricebook",
        "services",
        "services",
        defaults={
            **_SKU,
            "recommendations": [],
            "serviceEquipment": [],
            "serviceMaterials": [],
            "soldByCommission": 0,
        },
    ),
    V2Endpoint(
        "pricebook_materials",
        "pricebook",
        "materials",
        "materials",
        defaults={
            **_SKU,
            "chargeableByDefault": True,
            "createdById": 1,
            "deductAsJobCost": False,
            "isConfigurableMaterial": False,
            "isOtherDirectCost": False,
        },
    ),
    V2Endpoint(
        "pricebook_equipment",
        "pricebook",
        "equipment",
        "equipment",
        defaults={
            **_SKU,
            "equipmentMaterials": [],
            "isConfigurableEquipment": False,
            "recommendations": [],
            "serviceProviderWarranty": {"duration": 0, "description": None},
        },
    ),
    V2Endpoint(
        "estimates",
        "salestech",
        "estimates",
        "estimates",
        defaults={"isChangeOrder": False, "isRecommended": False},
    ),
)

V2_BY_ENTITY = {e.entity: e for e in V2_ENDPOINTS}

# Dispatch's appointment-assignments are not a table of their own: they are the
# ``assignments`` nested in each appointment, served flat.
ASSIGNMENT_MODULE = "dispatch"


def shape(endpoint: V2Endpoint, record: Record, export: bool) -> Record:
    """The official v2 response item for a sandbox record."""
    drop = endpoint.drop_export if export else endpoint.drop_list
    out = {k: v for k, v in record.items() if k not in drop}
    for key, value in endpoint.defaults.items():
        out.setdefault(key, value)
    if endpoint.entity == "contacts":
        # Phone-type contacts carry their number in phoneSettings; nobody opted out here.
        out["phoneSettings"] = {"phoneNumber": record["value"], "doNotText": False}
    return out
