"""``PATCH /accounting/v2/tenant/{tenant}/invoices/{id}/items``: add or change one item of
an existing invoice and recompute its totals with the sandbox's one rounding rule
(``st_sandbox/money.py``). In the official API a job's invoice exists from the job's
creation; invoicing a job through v2 is adding items to it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from st_sandbox.errors import ApiError
from st_sandbox.money import DiscountInput, LineInput, compute_invoice_totals
from st_sandbox.store import TenantStore

SKU_TABLES = {
    "pricebook_services": "Service",
    "pricebook_materials": "Material",
    "pricebook_equipment": "Equipment",
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
    unitPrice: Decimal | None = Field(
        default=None, ge=0, le=Decimal(1_000_000_000), max_digits=18, decimal_places=4
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


def _sku(store: TenantStore, sku_id: int) -> tuple[dict[str, Any], str]:
    for table, kind in SKU_TABLES.items():
        record = store.tables[table].records.get(sku_id)
        if record is not None:
            return record, kind
    raise ApiError(
        400,
        "validation_error",
        f"unknown skuId {sku_id}",
        {"errors": [{"loc": ["skuId"], "msg": f"unknown sku {sku_id}"}]},
    )


def patch_invoice_items(store: TenantStore, invoice_id: int, body: InvoiceItemUpdate) -> None:
    """Add (no ``id``) or replace (``id``) one item, then recompute the invoice's totals."""
    with store.lock:
        invoice = store.get("invoices", invoice_id)
        if invoice is None or not invoice["active"]:
            raise ApiError(404, "not_found", f"invoice {invoice_id} does not exist")
        # Stored records are never changed in place (records share nested objects and
        # cached pages): work on copies and store them through store.update.
        items: list[dict[str, Any]] = [dict(item) for item in invoice["items"]]
        now = store.stamp(store.now_us())
        sku, kind = _sku(store, body.skuId) if body.skuId else ({}, "Unspecified")
        unit_price = body.unitPrice
        if unit_price is None:
            unit_price = Decimal(str(sku.get("price") or 0))
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
            "taxable": prior["taxable"] if prior else True,
            "order": prior["order"] if prior else len(items),
            "membershipTypeId": prior["membershipTypeId"] if prior else None,
            "createdOn": prior["createdOn"] if prior else now,
            "modifiedOn": now,
        }
        if position is None:
            items.append(item)
        else:
            items[position] = item
        customer = store.get("customers", invoice["customer"]["id"]) or {}
        location = store.get("locations", invoice["location"]["id"]) or {}
        rate = store.tax_rates.get(invoice.get("taxZoneId") or 0, Decimal(0))
        exempt = bool(customer.get("taxExempt") or location.get("taxExempt"))
        lines = [
            LineInput(Decimal(i["quantity"]), Decimal(i["price"]), i["taxable"]) for i in items
        ]
        discount = [DiscountInput(amount=Decimal(invoice["discountTotal"]))]
        totals = compute_invoice_totals(lines, discount, rate, exempt)
        for line, line_total in zip(items, totals.line_totals, strict=True):
            line["total"] = format(line_total, "f")
        paid = Decimal(invoice["total"]) - Decimal(invoice["balance"])
        balance = totals.balance(paid)
        store.update(
            "invoices",
            invoice_id,
            {
                "items": items,
                "subTotal": format(totals.sub_total, "f"),
                "discountTotal": format(totals.discount_total, "f"),
                "salesTax": format(totals.sales_tax, "f"),
                "total": format(totals.total, "f"),
                "balance": format(balance, "f"),
            },
        )
        job_id = (invoice.get("job") or {}).get("id")
        if job_id and store.get("jobs", job_id) is not None:
            store.update("jobs", job_id, {"total": format(totals.total, "f")})
        if customer:
            delta = balance - Decimal(invoice["balance"])
            new_balance = Decimal(customer["balance"]) + delta
            store.update("customers", customer["id"], {"balance": format(new_balance, "f")})
