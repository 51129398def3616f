"""Which v2 endpoint serves which sandbox entity, and how a sandbox record becomes the
official response item.

The sandbox's records already use the official v2 field names and carry every property
of their spec (``st_sandbox/generator/spec_fields.py``: null, or the value a tenant that
does not use the feature answers where the spec requires one); the official response
schemas forbid unknown properties. A record is shaped by dropping what the schema does
not have and adapting the few values whose type differs (money as numbers, nested
required fields). ``tests/sandbox/test_v2_schemas.py``
validates every endpoint against the official schemas, so these tables cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from st_contract.v2_paths import V2_PATHS, V2Path

Record = dict[str, Any]


@dataclass(frozen=True)
class V2Endpoint:
    """How one entity's records become official response items (its paths: ``V2_PATHS``)."""

    entity: str
    drop_list: frozenset[str] = frozenset()
    drop_export: frozenset[str] = frozenset()
    # Properties of the list's schema that the export's (and so the records) lack.
    list_only: dict[str, Any] = field(default_factory=dict)
    # Top-level fields the sandbox keeps as decimal strings where the official schema
    # has a JSON number.
    numbers: frozenset[str] = frozenset()
    adapt: Callable[[Record], None] | None = None


_SKU_NUMBERS = frozenset({"price", "memberPrice", "addOnPrice", "cost"})
TRADE_IDS = {"HVAC": 1, "Plumbing": 2, "Electrical": 3}


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, str) else value


def _business_unit(record: Record) -> None:
    if record.get("address") is not None:
        record["address"] = {**record["address"], "isManualCoordinates": False, "isMilitary": False}
    trade = record.get("trade")
    if isinstance(trade, str):
        record["trade"] = {"id": TRADE_IDS.get(trade, 0), "name": trade}


def _invoice(record: Record) -> None:
    for item in record["items"]:
        item.setdefault("addOn", False)
        item.setdefault("inventory", False)
        item.setdefault("isChargeable", True)
        if item.get("membershipTypeId") is None:
            item["membershipTypeId"] = 0  # the official API answers 0 for "none" here


def _estimate(record: Record) -> None:
    for key in ("subtotal", "tax"):
        record[key] = _number(record.get(key))
    for item in record["items"]:
        item.pop("taxable", None)
        item["unitRate"] = _number(item["unitRate"])
        item["total"] = _number(item["total"])
        item.setdefault("skuAccount", "")
        item.setdefault("unitCost", 0)
        item.setdefault("totalCost", 0)
        item.setdefault("itemGroupName", "")
        sku = item["sku"]
        sku.setdefault("soldHours", 0)
        sku.setdefault("generalLedgerAccountId", 0)
        sku.setdefault("generalLedgerAccountName", "")
        sku.setdefault("modifiedOn", item["modifiedOn"])


def _sku(record: Record) -> None:
    for category in record.get("categories") or []:
        if isinstance(category, dict):  # services nest categories; goods list their ids
            category.setdefault("active", True)


def _tax_zone(record: Record) -> None:
    for rate in record.get("rates") or []:
        rate.setdefault("taxBaseType", ["Subtotal"])


def _payment(record: Record) -> None:
    if record.get("typeId") is not None:
        record["typeId"] = str(record["typeId"])  # a string in the official schema


# Records carry every property of their spec already (generator/spec_fields.py); what is
# left here is what the official answer has and the stored record cannot: sandbox-only
# fields dropped, money as numbers, nested required fields, list-only properties.
V2_ENDPOINTS: tuple[V2Endpoint, ...] = (
    V2Endpoint("customers", numbers=frozenset({"balance"})),
    V2Endpoint("locations"),
    # The sandbox's contacts are the customers' contact methods (phone, e-mail).
    V2Endpoint(
        "contacts",
        drop_list=frozenset({"active", "locationId"}),
        drop_export=frozenset({"locationId"}),
    ),
    V2Endpoint(
        "business_units",
        drop_list=frozenset({"branch"}),
        drop_export=frozenset({"branch"}),
        adapt=_business_unit,
    ),
    V2Endpoint("technicians", numbers=frozenset({"hourlyRate"})),
    V2Endpoint("jobs", drop_list=frozenset({"active"}), numbers=frozenset({"total"})),
    # Assignments are served by dispatch's appointment-assignments, as in the official API.
    V2Endpoint(
        "appointments",
        drop_list=frozenset({"arrivedOn", "assignments"}),
        drop_export=frozenset({"arrivedOn", "assignments"}),
    ),
    V2Endpoint("invoices", adapt=_invoice),
    V2Endpoint("payments", adapt=_payment),
    V2Endpoint("job_types"),
    V2Endpoint("tax_zones", adapt=_tax_zone),
    # Price and billing frequency live on the membership type's billing options officially.
    V2Endpoint(
        "membership_types",
        drop_list=frozenset({"billingFrequency", "price"}),
        drop_export=frozenset({"billingFrequency", "price"}),
    ),
    V2Endpoint("pricebook_categories"),
    V2Endpoint("memberships", numbers=frozenset({"initialDeferredRevenue"})),
    V2Endpoint(
        "recurring_service_events",
        drop_list=frozenset({"active", "locationId"}),
        drop_export=frozenset({"locationId"}),
    ),
    V2Endpoint("installed_equipment", numbers=frozenset({"cost"})),
    # Dynamic pricing's answers, on the list only (no rule here: null).
    V2Endpoint(
        "pricebook_services",
        list_only={"calculatedPrice": None, "useStaticPrices": None},
        numbers=_SKU_NUMBERS,
        adapt=_sku,
    ),
    V2Endpoint("pricebook_materials", numbers=_SKU_NUMBERS, adapt=_sku),
    V2Endpoint("pricebook_equipment", numbers=_SKU_NUMBERS, adapt=_sku),
    V2Endpoint("estimates", adapt=_estimate),
)

V2_BY_ENTITY = {e.entity: e for e in V2_ENDPOINTS}


def where(endpoint: V2Endpoint) -> V2Path:
    """The official module and paths of an endpoint's entity."""
    return V2_PATHS[endpoint.entity]


def shape(endpoint: V2Endpoint, record: Record, export: bool) -> Record:
    """The official v2 response item for a sandbox record."""
    drop = endpoint.drop_export if export else endpoint.drop_list
    out = {k: v for k, v in record.items() if k not in drop}
    if not export:
        for key, value in endpoint.list_only.items():
            out.setdefault(key, value)
    for key in endpoint.numbers:
        if key in out:
            out[key] = _number(out[key])
    if endpoint.adapt is not None:
        endpoint.adapt(out)
    return out
