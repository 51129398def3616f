"""Estimates, invoices and payments of the generated jobs, priced in integer cents with
the sandbox's one rounding rule (``st_sandbox/money.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from st_sandbox import names
from st_sandbox.clock import US_PER_DAY, US_PER_HOUR, US_PER_MINUTE
from st_sandbox.generator.state import GenState, Record
from st_sandbox.money import div_round_half_up, invoice_totals_cents, percent_of_cents

if TYPE_CHECKING:
    from st_sandbox.generator.jobs import JobPlan

# Estimate outcomes as (value, name), in the order the generator draws them.
ESTIMATE_STATUSES: tuple[tuple[int, str], ...] = ((1, "Sold"), (2, "Dismissed"), (0, "Open"))
# A line of an invoice: (sku id, sku name, quantity, unit price in cents, taxable, kind).
SoldItem = tuple[int, str, int, int, bool, str]


class SalesBuilder:
    """The estimates, invoices and payments of every job, with the references they share."""

    def __init__(self, g: GenState, money: Callable[[int], str]) -> None:
        self.g = g
        self.money = money
        self.estimates: list[Record] = []
        self.invoices: list[Record] = []
        self.payments: list[Record] = []
        self.est_item_id = self.item_id = 0
        self.tax_ratio = {zone: rate.as_integer_ratio() for zone, rate in g.tax_rates.items()}
        # Reference objects ({id, name} and the like) are shared by the records that point
        # at them: a third fewer allocations. Nothing mutates a nested object in place
        # (writes and activity replace top-level fields), so sharing is safe.
        self.bu_refs = {
            b["id"]: {"id": b["id"], "name": b["name"]} for b in g.tables["business_units"]
        }
        self.estimate_statuses = {s: {"value": s[0], "name": s[1]} for s in ESTIMATE_STATUSES}
        self.sku_refs: dict[int, Record] = {}
        self.loc_refs: dict[int, Record] = {}
        self.cust_ref: Record | None = None

    def start_customer(self) -> None:
        """The next jobs are another customer's (whose invoices and payments share one
        ``{id, name}``, made by ``customer_ref``)."""
        self.cust_ref = None

    def customer_ref(self, cid: int) -> Record:
        """``{id, name}`` of the current customer, made once."""
        if self.cust_ref is None:
            self.cust_ref = {"id": cid, "name": self.g.cust_name[cid]}
        return self.cust_ref

    def estimate(self, plan: JobPlan, first_appt: Record, sold_items: list[SoldItem]) -> int:
        """An estimate of 1-3 items; a sold one's items go to ``sold_items``. Its id."""
        g = self.g
        rng = g.rng
        ts = g.ts
        money = self.money
        anchor = g.anchor_us
        est_id = len(self.estimates) + 1
        outcome = rng.random()
        e_status = (
            ESTIMATE_STATUSES[0]
            if outcome < 0.55 or (plan.completed_on is not None and outcome < 0.75)
            else (ESTIMATE_STATUSES[1] if outcome < 0.85 else ESTIMATE_STATUSES[2])
        )
        sold = e_status[1] == "Sold"
        e_created = min(plan.created + US_PER_HOUR, anchor)
        items, subtotal, taxable_total = self.estimate_items(
            plan.trade, e_created, sold_items, sold
        )
        tax = percent_of_cents(taxable_total, self.tax_ratio[g.location_zone[plan.loc]])
        sold_on = min(e_created + US_PER_DAY, anchor) if sold else None
        e_modified = sold_on or e_created
        bu = plan.bu
        self.estimates.append(
            {
                "id": est_id,
                "jobId": plan.job_id,
                "locationId": plan.loc,
                "customerId": plan.cid,
                "name": f"{plan.jt_name} options",
                "jobNumber": str(plan.job_id),
                "status": self.estimate_statuses[e_status],
                "reviewStatus": "Approved" if sold else "None",
                "summary": None,
                "soldOn": ts(sold_on) if sold_on else None,
                "soldBy": first_appt["assignments"][0]["technicianId"]
                if sold_on and first_appt["assignments"]
                else None,
                "items": items,
                "subtotal": money(subtotal),
                "tax": money(tax),
                "businessUnitId": bu,
                "businessUnitName": self.bu_refs[bu]["name"],
                "active": True,
                "createdOn": ts(e_created),
                "modifiedOn": ts(e_modified),
            }
        )
        return est_id

    def estimate_items(
        self, trade: str, created: int, sold_items: list[SoldItem], sold: bool
    ) -> tuple[list[Record], int, int]:
        """1-3 items from the trade's skus, with the subtotal and taxable total (cents)."""
        rng = self.g.rng
        money = self.money
        stamp = self.g.ts(created)
        trade_skus = self.g.skus[trade]
        items: list[Record] = []
        subtotal = taxable_total = 0
        for _ in range(rng.randrange(1, 4)):
            sku_id, sku_name, price, taxable = rng.choice(trade_skus)
            qty = rng.randrange(1, 4) if taxable else 1
            line = qty * price
            subtotal += line
            if taxable:
                taxable_total += line
            self.est_item_id += 1
            kind = "Material" if taxable else "Service"
            sku_ref = self.sku_refs.get(sku_id)
            if sku_ref is None:
                sku_ref = self.sku_refs[sku_id] = {
                    "id": sku_id,
                    "name": sku_name,
                    "displayName": sku_name,
                    "type": kind,
                }
            items.append(
                {
                    "id": self.est_item_id,
                    "sku": sku_ref,
                    "description": sku_name,
                    "qty": float(qty),
                    "unitRate": money(price),
                    "total": money(line),
                    "taxable": taxable,
                    "membershipTypeId": None,
                    "chargeable": True,
                    "createdOn": stamp,
                    "modifiedOn": stamp,
                }
            )
            if sold:
                sold_items.append((sku_id, sku_name, qty, price, taxable, kind))
        return items, subtotal, taxable_total

    def invoice(self, plan: JobPlan, job: Record, sold_items: list[SoldItem]) -> None:
        """The invoice of a completed job (the sold estimate's items, else 1-3 drawn ones),
        with its payment; an active one is the job's invoice and adds to the balance."""
        g = self.g
        rng = g.rng
        ts = g.ts
        money = self.money
        cid, loc, bu = plan.cid, plan.loc, plan.bu
        inv_id = len(self.invoices) + 1
        cust_ref = self.customer_ref(cid)
        if not sold_items:
            sold_items = self.drawn_items(plan.trade)
        membership = g.cust_membership.get(cid)
        line_totals = [q * p for _, _, q, p, _, _ in sold_items]
        zone = g.location_zone[loc]
        sub_total, discount_total, sales_tax, total = self.totals(
            cid, membership, sold_items, line_totals, zone
        )
        assert plan.completed_on is not None
        inv_created = min(plan.completed_on + rng.randrange(5, 240) * US_PER_MINUTE, g.anchor_us)
        inv_stamp = ts(inv_created)
        items = self.invoice_items(sold_items, line_totals, inv_stamp)
        balance, paid_on, inv_modified = self.payment(inv_id, total, inv_created, bu)
        inv_active = rng.random() > 0.005
        loc_ref = self.loc_refs.get(loc)
        if loc_ref is None:
            loc_ref = self.loc_refs[loc] = {"id": loc, "name": g.loc_name[loc]}
        self.invoices.append(
            {
                "id": inv_id,
                "referenceNumber": f"INV-{inv_id:07d}",
                "invoiceDate": ts(plan.completed_on),
                "dueDate": ts(plan.completed_on + 30 * US_PER_DAY),
                "subTotal": money(sub_total),
                "discountTotal": money(discount_total),
                "salesTax": money(sales_tax),
                "total": money(total),
                "balance": money(balance),
                "taxZoneId": zone,
                "customer": cust_ref,
                "location": loc_ref,
                "businessUnit": self.bu_refs[bu],
                "job": {"id": plan.job_id, "number": str(plan.job_id), "type": plan.jt_name},
                "membershipId": membership[0] if membership else None,
                "sentStatus": "Sent",
                "reviewStatus": "Reviewed",
                "paidOn": ts(paid_on) if paid_on else None,
                "summary": job["summary"],
                "items": items,
                "active": inv_active,
                "createdOn": inv_stamp,
                "modifiedOn": ts(inv_modified),
            }
        )
        if inv_active:
            job["invoiceId"] = inv_id
            job["total"] = money(total)
            g.cust_balance[cid] = g.cust_balance.get(cid, 0) + balance
            job["modifiedOn"] = ts(max(plan.modified, inv_created))

    def drawn_items(self, trade: str) -> list[SoldItem]:
        """1-3 items of the trade's skus for a job invoiced without a sold estimate."""
        rng = self.g.rng
        trade_skus = self.g.skus[trade]
        items: list[SoldItem] = []
        for _ in range(rng.randrange(1, 4)):
            sku_id, sku_name, price, taxable = rng.choice(trade_skus)
            qty = rng.randrange(1, 3) if taxable else 1
            kind = "Material" if taxable else "Service"
            items.append((sku_id, sku_name, qty, price, taxable, kind))
        return items

    def totals(
        self,
        cid: int,
        membership: tuple[int, int] | None,
        sold_items: list[SoldItem],
        line_totals: list[int],
        zone: int,
    ) -> tuple[int, int, int, int]:
        """(subtotal, discount, tax, total) in cents: a member's plan discount, else now
        and then $25 off; no tax for an exempt customer."""
        g = self.g
        percents: list[tuple[int, int]] = []
        amount_off = 0
        if membership is not None:
            percents.append(g.mtype_discount[membership[1]])
        elif g.rng.random() < 0.05:
            amount_off = 2500
        return invoice_totals_cents(
            line_totals,
            [tx for _, _, _, _, tx, _ in sold_items],
            percents,
            amount_off,
            self.tax_ratio[zone],
            g.tables["customers"][cid - 1]["taxExempt"],
        )

    def invoice_items(
        self, sold_items: list[SoldItem], line_totals: list[int], stamp: str
    ) -> list[Record]:
        """The invoice's item records."""
        money = self.money
        rows: list[Record] = []
        for order, ((sku_id, sku_name, qty, price, taxable, kind), line_total) in enumerate(
            zip(sold_items, line_totals, strict=True)
        ):
            self.item_id += 1
            rows.append(
                {
                    "id": self.item_id,
                    "description": sku_name,
                    "quantity": str(qty),
                    "price": money(price),
                    "total": money(line_total),
                    "type": kind,
                    "skuId": sku_id,
                    "skuName": sku_name,
                    "taxable": taxable,
                    "order": order,
                    "membershipTypeId": None,
                    "createdOn": stamp,
                    "modifiedOn": stamp,
                }
            )
        return rows

    def payment(
        self, inv_id: int, total: int, inv_created: int, bu: int
    ) -> tuple[int, int | None, int]:
        """Most invoices are paid in full, some partly, some not yet: records the payment,
        if any, and answers (balance, paid on, the invoice's modifiedOn) in cents and µs."""
        g = self.g
        rng = g.rng
        roll = rng.random()
        if not (roll < 0.8 and total > 0):
            return total, None, inv_created
        amount = total if roll < 0.7 else div_round_half_up(total, 2)
        pay_us = min(inv_created + int(rng.expovariate(1 / 9) * US_PER_DAY), g.anchor_us)
        pay_id = len(self.payments) + 1
        method = rng.choice(names.PAYMENT_METHODS)
        pay_stamp = g.ts(pay_us)
        paid = self.money(amount)
        self.payments.append(
            {
                "id": pay_id,
                "type": method[0],
                "typeId": method[1],
                "referenceNumber": f"P{pay_id:08d}",
                "authCode": f"A{rng.randrange(100000, 999999)}" if method[1] != 3 else None,
                "checkNumber": str(rng.randrange(1000, 9999)) if method[1] == 3 else None,
                "memo": None,
                "date": pay_stamp,
                "total": paid,
                "unappliedAmount": "0.00",
                "customer": self.cust_ref,
                "businessUnit": self.bu_refs[bu],
                "appliedTo": [
                    {
                        "appliedAmount": paid,
                        "appliedId": pay_id,
                        "appliedTo": inv_id,
                        "appliedOn": pay_stamp,
                        "appliedBy": "system",
                    }
                ],
                "active": True,
                "createdOn": pay_stamp,
                "modifiedOn": pay_stamp,
            }
        )
        balance = total - amount
        return balance, (pay_us if balance == 0 else None), pay_us
