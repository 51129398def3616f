"""``PATCH /accounting/v2/tenant/{tenant}/invoices/{id}/items``: add or change one item of
an existing invoice, and ``PATCH .../invoices/{id}``: its summary and tax zone; both
recompute its totals with the sandbox's one rounding rule (``st_sandbox/money.py``). In
the official API a job's invoice exists from the job's creation; invoicing a job through
v2 is adding items to it. A discount is an item of a pricebook discount or fee
(``discounts-and-fees``) with a negative unit price.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from st_sandbox.errors import ApiError
from st_sandbox.money import DiscountInput, LineInput, compute_invoice_totals
from st_sandbox.store import TenantStore

# An item of a pricebook discount or fee (official item type PriceModifier) is a
# discount line: a negative unit price.
DISCOUNT_KIND = "PriceModifier"
SKU_TABLES = {
    "pricebook_services": "Service",
    "pricebook_materials": "Material",
    "pricebook_equipment": "Equipment",
    "pricebook_discounts_and_fees": DISCOUNT_KIND,
}


class InvoiceItemUpdate(BaseModel):
    """``Accounting.V2.InvoiceItemUpdateRequest``; fields the sandbox does not model are
    accepted (the official schema has them) and ignored."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, ge=1, le=2**62)
    skuId: int | None = Field(default=None, ge=1, le=2**62)
    skuName: str | None = Field(default=None, max_length=500)
    technicianId: int | None = None
    description: str = Field(max_length=10_000)
    quantity: Decimal = Field(gt=0, le=Decimal(1_000_000), max_digits=18, decimal_places=4)
    # Negative only for a discount (checked against the sku).
    unitPrice: Decimal | None = Field(
        default=None,
        ge=-Decimal(1_000_000_000),
        le=Decimal(1_000_000_000),
        max_digits=18,
        decimal_places=4,
    )
    cost: Decimal | None = None
    isAddOn: bool | None = None
    signature: str | None = None
    technicianAcknowledgementSignature: str | None = None
    installedOn: datetime | None = None
    inventoryWarehouseName: str | None = None
    skipUpdatingMembershipPrices: bool | None = None
    itemGroupName: str | None = None
    itemGroupRootId: int | None = None
    inventoryLocationId: int | None = None
    durationBillingId: int | None = None
    budgetCodeId: int | None = None


class InvoiceUpdate(BaseModel):
    """``Accounting.V2.InvoiceUpdateRequest``: the sandbox applies ``summary`` and
    ``taxZoneId`` (the tax is recomputed); the other official fields are accepted and
    ignored, ``items`` go through ``PATCH invoices/{id}/items``."""

    model_config = ConfigDict(extra="forbid")

    number: str | None = None
    typeId: int | None = None
    invoicedOn: datetime | None = None
    subtotal: Decimal | None = None
    tax: Decimal | None = None
    taxZoneId: int | None = Field(default=None, ge=1, le=2**62)
    summary: str | None = Field(default=None, max_length=10_000)
    royaltyStatus: str | None = None
    royaltyDate: datetime | None = None
    royaltySentOn: datetime | None = None
    royaltyMemo: str | None = None
    exportId: str | None = None
    reviewStatus: Literal["NeedsReview", "OnHold", "Reviewed"] | None = None
    assignedToId: int | None = None
    budgetCodeId: int | None = None
    items: list[InvoiceItemUpdate] | None = None
    dueDate: date | None = None
    payments: list[dict[str, Any]] | None = None


def _sku(store: TenantStore, sku_id: int, discount: bool) -> tuple[dict[str, Any], str]:
    """The sku and its item type. The sandbox's pricebook tables number their ids
    separately (the official pricebook's are unique): a negative price (``discount``)
    looks in the discounts and fees first."""
    tables = list(SKU_TABLES.items())
    for table, kind in reversed(tables) if discount else tables:
        record = store.tables[table].records.get(sku_id)
        if record is not None:
            return record, kind
    raise ApiError(
        400,
        "validation_error",
        f"unknown skuId {sku_id}",
        {"errors": [{"loc": ["skuId"], "msg": f"unknown sku {sku_id}"}]},
    )


def _active_invoice(store: TenantStore, invoice_id: int) -> dict[str, Any]:
    invoice = store.get("invoices", invoice_id)
    if invoice is None or not invoice["active"]:
        raise ApiError(404, "not_found", f"invoice {invoice_id} does not exist")
    return invoice


def _unit_price(body: InvoiceItemUpdate, sku: dict[str, Any], kind: str) -> Decimal:
    """The item's price: the body's, else the sku's; only a discount goes below zero."""
    unit_price = body.unitPrice
    if unit_price is None:
        unit_price = Decimal(str(sku.get("price") or 0))
    if unit_price < 0 and kind != DISCOUNT_KIND:
        raise ApiError(
            400,
            "validation_error",
            "unitPrice: only a discount (a pricebook discounts-and-fees sku) may be negative",
            {"errors": [{"loc": ["unitPrice"], "msg": "must be >= 0"}]},
        )
    return unit_price


def patch_invoice_items(store: TenantStore, invoice_id: int, body: InvoiceItemUpdate) -> None:
    """Add (no ``id``) or replace (``id``) one item, then recompute the invoice's totals."""
    with store.lock:
        invoice = _active_invoice(store, invoice_id)
        # Stored records are never changed in place (records share nested objects and
        # cached pages): work on copies and store them through store.update.
        items: list[dict[str, Any]] = [dict(item) for item in invoice["items"]]
        now = store.stamp(store.now_us())
        negative = body.unitPrice is not None and body.unitPrice < 0
        sku, kind = _sku(store, body.skuId, negative) if body.skuId else ({}, "Unspecified")
        unit_price = _unit_price(body, sku, kind)
        position = next((i for i, item in enumerate(items) if item["id"] == body.id), None)
        if body.id is not None and position is None:
            raise ApiError(404, "not_found", f"invoice {invoice_id} has no item {body.id}")
        prior = items[position] if position is not None else None
        item = {
            "id": prior["id"] if prior else store.next_id("_invoice_items"),
            "description": body.description,
            "quantity": format(body.quantity, "f"),
            "price": format(unit_price.quantize(Decimal("0.01")), "f"),
            "total": "0.00",
            "type": kind,
            "skuId": body.skuId,
            "skuName": body.skuName or sku.get("displayName") or sku.get("code"),
            "taxable": prior["taxable"] if prior else kind != DISCOUNT_KIND,
            "order": prior["order"] if prior else len(items),
            "membershipTypeId": prior["membershipTypeId"] if prior else None,
            "createdOn": prior["createdOn"] if prior else now,
            "modifiedOn": now,
        }
        if position is None:
            items.append(item)
        else:
            items[position] = item
        _store_totals(store, invoice, items, invoice.get("taxZoneId"), {})


def update_invoice(store: TenantStore, invoice_id: int, body: InvoiceUpdate) -> None:
    """Apply the summary and the tax zone (recomputing the tax) of an invoice."""
    with store.lock:
        invoice = _active_invoice(store, invoice_id)
        zone_id = invoice.get("taxZoneId")
        if body.taxZoneId is not None:
            if body.taxZoneId not in store.tax_rates:
                raise ApiError(
                    400,
                    "validation_error",
                    f"taxZoneId {body.taxZoneId} is not a tax zone of the tenant",
                    {"errors": [{"loc": ["taxZoneId"], "msg": "unknown tax zone"}]},
                )
            zone_id = body.taxZoneId
        extra: dict[str, Any] = {"taxZoneId": zone_id}
        if body.summary is not None:
            extra["summary"] = body.summary
        items = [dict(item) for item in invoice["items"]]
        _store_totals(store, invoice, items, zone_id, extra)


def _store_totals(
    store: TenantStore,
    invoice: dict[str, Any],
    items: list[dict[str, Any]],
    zone_id: int | None,
    extra: dict[str, Any],
) -> None:
    """Recompute the invoice's totals over ``items`` (discount items count as discounts,
    on top of the discount the invoice was created with) and store them, with ``extra``;
    the job's total and the customer's balance follow."""
    customer = store.get("customers", invoice["customer"]["id"]) or {}
    location = store.get("locations", invoice["location"]["id"]) or {}
    rate = store.tax_rates.get(zone_id or 0, Decimal(0))
    exempt = bool(customer.get("taxExempt") or location.get("taxExempt"))
    base_discount = Decimal(invoice["discountTotal"]) - sum(
        (-Decimal(i["total"]) for i in invoice["items"] if i["type"] == DISCOUNT_KIND),
        Decimal(0),
    )
    goods = [i for i in items if i["type"] != DISCOUNT_KIND]
    off = [i for i in items if i["type"] == DISCOUNT_KIND]
    lines = [LineInput(Decimal(i["quantity"]), Decimal(i["price"]), i["taxable"]) for i in goods]
    discounts = [DiscountInput(amount=base_discount)] if base_discount > 0 else []
    discounts += [DiscountInput(amount=-Decimal(i["quantity"]) * Decimal(i["price"])) for i in off]
    totals = compute_invoice_totals(lines, discounts, rate, exempt)
    for line, line_total in zip(goods, totals.line_totals, strict=True):
        line["total"] = format(line_total, "f")
    for line in off:
        line["total"] = format((Decimal(line["quantity"]) * Decimal(line["price"])), ".2f")
    paid = Decimal(invoice["total"]) - Decimal(invoice["balance"])
    balance = totals.balance(paid)
    store.update(
        "invoices",
        invoice["id"],
        {
            "items": items,
            "subTotal": format(totals.sub_total, "f"),
            "discountTotal": format(totals.discount_total, "f"),
            "salesTax": format(totals.sales_tax, "f"),
            "total": format(totals.total, "f"),
            "balance": format(balance, "f"),
            **extra,
        },
    )
    job_id = (invoice.get("job") or {}).get("id")
    if job_id and store.get("jobs", job_id) is not None:
        store.update("jobs", job_id, {"total": format(totals.total, "f")})
    if customer:
        delta = balance - Decimal(invoice["balance"])
        new_balance = Decimal(customer["balance"]) + delta
        store.update("customers", customer["id"], {"balance": format(new_balance, "f")})
