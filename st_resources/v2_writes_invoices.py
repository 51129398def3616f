"""Invoices and payments' export status on the official v2 API, looking before writing.

An invoice write fills the invoice ServiceTitan created with the job:

- items: ``PATCH invoices/{id}/items``, one call per item not already there (same
  sku, description, quantity and price);
- summary and tax zone: ``PATCH invoices/{id}`` (``InvoiceUpdateRequest``) with the
  ones that differ from the invoice's;
- discounts: items of the pricebook's discounts and fees (``discounts-and-fees``), one
  per discount: the active ``Discount`` whose ``amountType`` matches (``Percentage`` for
  a percent, ``Fixed`` for an amount; else any active discount), lowest id first,
  quantity 1 and a negative unit price: the amount, or the percent of the invoice's
  subtotal once its items are in (rounded half up to the cent);
- a payment (card or ACH token) has no v2 operation: refused before queueing.

Payments' status: ``POST payments/status`` with the payments not already in it.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from st_contract.models import Invoice
from st_contract.v2_paths import (
    DISCOUNTS_AND_FEES,
    INVOICE_ITEMS,
    PAYMENT_STATUS,
    UPDATE_INVOICE,
)
from st_resources.errors import ConflictError, UnsupportedOperation
from st_resources.transport import Transport
from st_resources.v2_reads import MAX_IDS, V2Reader
from st_resources.v2_writes import Written, _Change, send

CENT = Decimal("0.01")

AMOUNT_TYPES = {"percent": "Percentage", "amount": "Fixed"}


class V2Invoicer:
    """Fills a job's invoice and sets payments' status through the official operations."""

    def __init__(self, transport: Transport, reader: V2Reader) -> None:
        self.transport = transport
        self.reader = reader

    def invoice(self, body: dict[str, Any], job_id: int | None, request_id: str) -> Written:
        """Add the items and discounts to the job's invoice, then set its summary and tax
        zone; what is there already is not sent again."""
        if body.get("payment"):
            raise UnsupportedOperation(
                "the official v2 API has no operation to take a payment with an invoice: "
                "take it in ServiceTitan, or use the session API backend",
                code="unsupported",
            )
        if job_id is None:
            raise ValueError("an invoice needs the job's id")
        invoice_id = self._invoice_of(job_id)
        invoice = self.reader.one("invoices", invoice_id)
        existing = Counter(_item_key(i) for i in invoice["items"])
        url = INVOICE_ITEMS.url(self.reader.tenant_id, id=invoice_id)
        sent = self._add_items(url, body.get("items", []), existing)
        if body.get("discounts"):
            invoice = self.reader.one("invoices", invoice_id)
            items = self._discount_items(body["discounts"], _subtotal(invoice))
            sent += self._add_items(url, items, existing)
        update = {
            field: body[field]
            for field in ("summary", "taxZoneId")
            if body.get(field) is not None and body[field] != invoice.get(field)
        }
        if update:
            tenant = self.reader.tenant_id
            send(
                self.transport,
                _Change(UPDATE_INVOICE, UPDATE_INVOICE.url(tenant, id=invoice_id), update),
            )
            sent += 1
        after = Invoice.model_validate(self.reader.one("invoices", invoice_id))
        return Written(after.model_dump(mode="json", by_alias=True), sent)

    def _add_items(
        self, url: str, items: list[dict[str, Any]], existing: Counter[tuple[Any, ...]]
    ) -> int:
        """Add the items not on the invoice yet; an identical one there counts as done."""
        sent = 0
        for item in items:
            key = _item_key({**item, "price": item["unitPrice"]})
            if existing[key] > 0:  # already there: a retry of this write
                existing[key] -= 1
                continue
            send(self.transport, _Change(INVOICE_ITEMS, url, _item_request(item)))
            sent += 1
        return sent

    def _discount_items(
        self, discounts: list[dict[str, Any]], subtotal: Decimal
    ) -> list[dict[str, Any]]:
        """One item per discount, of the pricebook's matching discount sku."""
        skus = self._discount_skus()
        items = []
        for discount in discounts:
            kind = "percent" if discount.get("percent") is not None else "amount"
            sku = next((s for s in skus if s["amountType"] == AMOUNT_TYPES[kind]), skus[0])
            if kind == "percent":
                percent = Decimal(str(discount["percent"]))
                amount = (subtotal * percent / 100).quantize(CENT, ROUND_HALF_UP)
                label = f"{sku.get('displayName') or sku['code']} ({percent.normalize():f}%)"
            else:
                amount = Decimal(str(discount["amount"])).quantize(CENT, ROUND_HALF_UP)
                label = str(sku.get("displayName") or sku["code"])
            items.append(
                {"skuId": sku["id"], "description": label, "quantity": "1", "unitPrice": -amount}
            )
        return items

    def _discount_skus(self) -> list[dict[str, Any]]:
        """The pricebook's active discounts, lowest id first; a clear error when none."""
        url = DISCOUNTS_AND_FEES.url(self.reader.tenant_id)
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            query = {"active": "True", "page": page, "pageSize": 500}
            body = self.transport.get_json(url, query)
            found += [r for r in body["data"] if r.get("type") == "Discount" and r["active"]]
            if not body["hasMore"]:
                break
            page += 1
        if not found:
            raise ConflictError(
                "the pricebook has no active discount to put the invoice's discounts on: "
                "add one to the pricebook's discounts and fees, or drop the discounts",
                code="no_discount_sku",
                status=409,
            )
        return sorted(found, key=lambda r: int(r["id"]))

    def _invoice_of(self, job_id: int) -> int:
        job = self.reader.one("jobs", job_id)
        if not job.get("invoiceId"):
            # Officially a job's invoice exists from the job's creation; a job without one
            # (the sandbox's never-invoiced jobs) has nothing v2 can add items to, and
            # retrying will not create one.
            raise ConflictError(
                f"job {job_id} has no invoice to add items to (the official v2 API cannot "
                "create one): create the job's invoice in ServiceTitan, then submit again",
                code="no_invoice",
                status=409,
            )
        return int(job["invoiceId"])

    def payment_status(self, body: dict[str, Any], job_id: int | None, request_id: str) -> Written:
        """Set the export status of the payments not already in it."""
        ids = [int(p) for p in body["paymentIds"]]
        status = body["status"]
        found: dict[int, dict[str, Any]] = {}
        for i in range(0, len(ids), MAX_IDS):
            chunk = {"ids": ",".join(map(str, ids[i : i + MAX_IDS]))}
            for page in self.reader.list_pages("payments", chunk):
                found.update({int(r["id"]): r for r in page.records})
        missing = sorted(set(ids) - set(found))
        if missing:
            raise UnsupportedOperation(
                f"payments {missing[:10]} do not exist in the tenant: check the payment ids",
                code="not_found",
            )
        todo = [p for p in ids if found[p].get("syncStatus") != status]
        if todo:
            url = PAYMENT_STATUS.url(self.reader.tenant_id)
            send(
                self.transport, _Change(PAYMENT_STATUS, url, {"paymentIds": todo, "status": status})
            )
        return Written({"paymentIds": ids, "status": status, "changed": todo}, len(todo) and 1)


def _subtotal(invoice: dict[str, Any]) -> Decimal:
    """The invoice's subtotal before discounts: its priced items, discounts left out."""
    return sum(
        (
            Decimal(str(i["quantity"])) * Decimal(str(i["price"]))
            for i in invoice["items"]
            if Decimal(str(i["price"])) >= 0
        ),
        Decimal(0),
    ).quantize(CENT, ROUND_HALF_UP)


def _item_request(item: dict[str, Any]) -> dict[str, Any]:
    """The official body of one invoice item (numbers, not the session API's strings)."""
    return {
        "skuId": item.get("skuId"),
        "description": item.get("description") or "",
        "quantity": float(Decimal(str(item["quantity"]))),
        "unitPrice": float(Decimal(str(item["unitPrice"]))),
    }


def _item_key(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item.get("skuId"),
        item.get("description") or "",
        Decimal(str(item["quantity"])).normalize(),
        Decimal(str(item["price"])).quantize(CENT),
    )
