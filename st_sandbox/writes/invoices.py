"""``POST /jobs/{id}/invoices``: invoice a completed job once, with the sandbox's one
rounding rule (``st_sandbox/money.py``) and, optionally, a payment by test token."""

from __future__ import annotations

from decimal import Decimal

from st_sandbox.errors import ApiError
from st_sandbox.money import DiscountInput, InvoiceTotals, LineInput, compute_invoice_totals
from st_sandbox.store import Record, TenantStore
from st_sandbox.writes.bodies import InvoiceBody
from st_sandbox.writes.rules import job_or_404

APPROVED_TOKENS = {"tok_visa": "Credit Card", "tok_mastercard": "Credit Card", "ach_ok": "ACH"}
DECLINED_TOKENS = {"tok_declined", "ach_declined"}
SKU_KINDS = {
    "pricebook_services": "Service",
    "pricebook_materials": "Material",
    "pricebook_equipment": "Equipment",
}


def create_invoice(store: TenantStore, job_id: int, body: InvoiceBody) -> Record:
    """Invoice the job (and take the payment); the invoice as stored."""
    with store.lock:
        job = _invoiceable_job(store, job_id)
        customer = store.get("customers", job["customerId"]) or {}
        location = store.get("locations", job["locationId"]) or {}
        zone_id = body.taxZoneId or location.get("taxZoneId")
        if zone_id is not None and zone_id not in store.tax_rates:
            raise ApiError(422, "validation_error", f"unknown tax zone {zone_id}")
        rate = store.tax_rates.get(zone_id or 0, Decimal(0))
        exempt = bool(customer.get("taxExempt") or location.get("taxExempt"))
        lines = [LineInput(i.quantity, i.unitPrice, i.taxable) for i in body.items]
        discounts = [DiscountInput(d.percent, d.amount) for d in body.discounts]
        totals = compute_invoice_totals(lines, discounts, rate, exempt)
        paid, pay_method = _payment_terms(body, totals.total)
        now_us = store.now_us()
        now = store.stamp(now_us)
        inv_id = store.next_id("invoices")
        items = _items(store, body, totals, now)
        balance = totals.balance(paid)
        invoice = _invoice(
            store, job, (customer, location), totals, paid, now_us, inv_id, zone_id, body, items
        )
        store.insert("invoices", invoice)
        store.update("jobs", job_id, {"invoiceId": inv_id, "total": invoice["total"]})
        store.emit(
            "invoice.created", "invoices", inv_id, {"jobId": job_id, "total": invoice["total"]}
        )
        if paid > 0:
            _record_payment(store, job, customer, inv_id, paid, pay_method, now, balance)
        if customer:
            new_balance = Decimal(customer["balance"]) + balance
            store.update("customers", customer["id"], {"balance": format(new_balance, "f")})
        result = store.get("invoices", inv_id)
        assert result is not None
        return result


def _invoiceable_job(store: TenantStore, job_id: int) -> Record:
    """The job, unless it has an active invoice already (409) or is not completed (422)."""
    job = job_or_404(store, job_id)
    if job["invoiceId"] is not None:
        first = store.get("invoices", job["invoiceId"])
        if first is not None and first["active"]:
            raise ApiError(
                409,
                "duplicate_invoice",
                f"job {job_id} already has invoice {first['id']}; adjust that invoice "
                "instead of creating another",
                {"invoiceId": first["id"], "jobId": job_id},
            )
    if job["jobStatus"] != "Completed":
        raise ApiError(
            422,
            "job_not_completed",
            f"job {job_id} is {job['jobStatus']}; only Completed jobs can be invoiced",
            {"jobId": job_id, "jobStatus": job["jobStatus"]},
        )
    return job


def _payment_terms(body: InvoiceBody, total: Decimal) -> tuple[Decimal, str | None]:
    """(amount paid, payment type) of the body's payment: a declined or unknown test token
    refuses the whole invoice (422)."""
    if body.payment is None:
        return Decimal(0), None
    if body.payment.token in DECLINED_TOKENS:
        raise ApiError(
            422,
            "payment_declined",
            "the payment was declined; no invoice was created: try another card "
            "or create the invoice without a payment",
            {"token": body.payment.token},
        )
    pay_method = APPROVED_TOKENS.get(body.payment.token)
    if pay_method is None:
        raise ApiError(
            422,
            "validation_error",
            "unknown payment token; sandbox tokens: tok_visa, tok_mastercard, ach_ok "
            "(approve), tok_declined, ach_declined (decline)",
        )
    return min(body.payment.amount or total, total), pay_method


def _items(store: TenantStore, body: InvoiceBody, totals: InvoiceTotals, now: str) -> list[Record]:
    """The invoice's item records; a 422 for an unknown sku."""
    skus = {}
    for name in SKU_KINDS:
        for sid in {i.skuId for i in body.items if i.skuId}:
            rec = store.tables[name].records.get(sid)
            if rec is not None:
                skus[sid] = (rec.get("displayName") or rec["code"], name)
    missing = [i.skuId for i in body.items if i.skuId and i.skuId not in skus]
    if missing:
        raise ApiError(422, "validation_error", f"unknown skuId {missing[0]}")
    items = []
    for order, (item, line_total) in enumerate(zip(body.items, totals.line_totals, strict=True)):
        sku = skus.get(item.skuId or 0)
        items.append(
            {
                "id": store.next_id("_invoice_items"),
                "description": item.description or (sku[0] if sku else None),
                "quantity": format(item.quantity, "f"),
                "price": format(item.unitPrice.quantize(Decimal("0.01")), "f"),
                "total": format(line_total, "f"),
                "type": SKU_KINDS[sku[1]] if sku else "Unspecified",
                "skuId": item.skuId,
                "skuName": sku[0] if sku else None,
                "taxable": item.taxable,
                "order": order,
                "membershipTypeId": None,
                "createdOn": now,
                "modifiedOn": now,
            }
        )
    return items


def _invoice(
    store: TenantStore,
    job: Record,
    refs: tuple[Record, Record],
    totals: InvoiceTotals,
    paid: Decimal,
    now_us: int,
    inv_id: int,
    zone_id: int | None,
    body: InvoiceBody,
    items: list[Record],
) -> Record:
    """The invoice record ``inv_id`` of ``job`` for its (customer, location) ``refs``."""
    customer, location = refs
    now = store.stamp(now_us)
    balance = totals.balance(paid)
    bu = store.get("business_units", job["businessUnitId"]) or {"name": None}
    job_type = store.get("job_types", job["jobTypeId"]) or {"name": None}
    return {
        "id": inv_id,
        "referenceNumber": f"INV-{inv_id:07d}",
        "invoiceDate": now,
        "dueDate": store.stamp(now_us + 30 * 86400 * 1_000_000),
        "subTotal": format(totals.sub_total, "f"),
        "discountTotal": format(totals.discount_total, "f"),
        "salesTax": format(totals.sales_tax, "f"),
        "total": format(totals.total, "f"),
        "balance": format(balance, "f"),
        "taxZoneId": zone_id,
        "customer": {"id": job["customerId"], "name": customer.get("name")},
        "location": {"id": job["locationId"], "name": location.get("name")},
        "businessUnit": {"id": job["businessUnitId"], "name": bu["name"]},
        "job": {"id": job["id"], "number": job["jobNumber"], "type": job_type["name"]},
        "membershipId": job.get("membershipId"),
        "sentStatus": "NotSent",
        "reviewStatus": "NeedsReview",
        "paidOn": now if balance == 0 and paid > 0 else None,
        "summary": body.summary,
        "items": items,
        "active": True,
        "createdOn": now,
    }


def _record_payment(
    store: TenantStore,
    job: Record,
    customer: Record,
    inv_id: int,
    paid: Decimal,
    pay_method: str | None,
    now: str,
    balance: Decimal,
) -> None:
    """Store the payment taken with the invoice, with its events."""
    pay_id = store.next_id("payments")
    bu = store.get("business_units", job["businessUnitId"]) or {"name": None}
    store.insert(
        "payments",
        {
            "id": pay_id,
            "type": pay_method,
            "typeId": 1 if pay_method == "Credit Card" else 2,
            "referenceNumber": f"P{pay_id:08d}",
            "authCode": f"A{pay_id % 1_000_000:06d}",
            "checkNumber": None,
            "memo": None,
            "date": now,
            "total": format(paid, "f"),
            "unappliedAmount": "0.00",
            "customer": {"id": job["customerId"], "name": customer.get("name")},
            "businessUnit": {"id": job["businessUnitId"], "name": bu["name"]},
            "appliedTo": [
                {
                    "appliedAmount": format(paid, "f"),
                    "appliedId": pay_id,
                    "appliedTo": inv_id,
                    "appliedOn": now,
                    "appliedBy": "api",
                }
            ],
            "active": True,
            "createdOn": now,
        },
    )
    store.emit("payment.created", "payments", pay_id, {"invoiceId": inv_id})
    if balance == 0:
        store.emit("invoice.paid", "invoices", inv_id, {"paymentId": pay_id})


def open_invoice(store: TenantStore, job_id: int) -> Record:
    """The empty invoice the official API creates with every job it books (items are
    added later with ``PATCH invoices/{id}/items``); stored and linked to the job."""
    with store.lock:
        job = job_or_404(store, job_id)
        customer = store.get("customers", job["customerId"]) or {}
        location = store.get("locations", job["locationId"]) or {}
        totals = compute_invoice_totals([], [], Decimal(0), False)
        now_us = store.now_us()
        inv_id = store.next_id("invoices")
        body = InvoiceBody.model_construct(items=[], discounts=[], summary=None)
        invoice = _invoice(
            store,
            job,
            (customer, location),
            totals,
            Decimal(0),
            now_us,
            inv_id,
            location.get("taxZoneId"),
            body,
            [],
        )
        store.insert("invoices", invoice)
        store.update("jobs", job_id, {"invoiceId": inv_id, "total": invoice["total"]})
        store.emit("invoice.created", "invoices", inv_id, {"jobId": job_id, "total": "0.00"})
        return invoice
