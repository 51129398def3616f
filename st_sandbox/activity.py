"""The business moving on: appointments progress, jobs complete and get invoiced, invoices
get paid, customers are edited or leave, memberships change; where the tenant has the
business streams (payroll, telecom, bookings, inventory), technicians' timesheets follow
their appointments, calls come in, online bookings are handled and purchase orders are
placed and received. Every change goes through the store (bumping ``modifiedOn``) and the
write rules, and writes an event. An action whose table the store does not hold is never
drawn, so a tenant without the business streams changes exactly as before.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from st_sandbox.business_activity import BusinessActivity, TimesheetClock
from st_sandbox.errors import ApiError
from st_sandbox.store import TenantStore
from st_sandbox.writes.bodies import DispatchBody, InvoiceBody, InvoiceItemBody
from st_sandbox.writes.service import WriteService

NEXT_STATUS: dict[str, Literal["Dispatched", "Working", "Done"]] = {
    "Scheduled": "Dispatched",
    "Dispatched": "Working",
    "Working": "Done",
}


class ActivityEngine(BusinessActivity):
    """Makes realistic changes to a tenant, deterministic per seed for a given state."""

    def __init__(self, store: TenantStore, seed: int) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.writes = WriteService(store)
        self.changed = 0
        self.timesheets = TimesheetClock(store)

    def _business_actions(self) -> list[tuple[str, float, Callable[[], None]]]:
        """The actions on the business streams: (the table they need, weight, action)."""
        return [
            ("telecom_calls", 0.10, self._incoming_call),
            ("crm_bookings", 0.04, self._handle_booking),
            ("inventory_purchase_orders", 0.05, self._purchase_order),
        ]

    def step(self, n: int = 1) -> int:
        """Make ``n`` business changes now; returns how many records changed."""
        before = self.changed
        actions = [
            (0.40, self._progress_appointment),
            (0.15, self._invoice_completed_job),
            (0.20, self._pay_invoice),
            (0.15, self._edit_customer),
            (0.05, self._change_membership),
            (0.05, self._deactivate_customer),
        ]
        tables = self.store.tables
        actions += [(w, a) for table, w, a in self._business_actions() if table in tables]
        total = sum(w for w, _ in actions)
        for _ in range(n):
            roll = self.rng.random() * total
            for weight, action in actions:
                if roll < weight:
                    action()
                    break
                roll -= weight
        return self.changed - before

    def _pick(self, entity: str) -> int | None:
        ids = self.store.ids(entity)
        return self.rng.choice(ids) if ids else None

    def _progress_appointment(self) -> None:
        store = self.store
        with store.lock:
            # Most open work is recent: look at the newest appointments first.
            order = store.tables["appointments"].order
            tail = order[-400:]
            candidates = [
                rid
                for _, rid in tail
                if store.tables["appointments"].records[rid]["status"] in NEXT_STATUS
                and store.tables["appointments"].records[rid]["assignments"]
            ]
            if not candidates:
                return
            appt = store.tables["appointments"].records[self.rng.choice(candidates)]
            target = NEXT_STATUS[appt["status"]]
            try:
                self.writes.dispatch(
                    appt["jobId"], DispatchBody(appointmentId=appt["id"], status=target), None
                )
                self.changed += 1
            except ApiError:
                return
            if "payroll_jobs_timesheets" in store.tables:
                self.changed += self.timesheets.follow(
                    store.tables["appointments"].records[appt["id"]]
                )

    def _invoice_completed_job(self) -> None:
        store = self.store
        with store.lock:
            tail = store.tables["jobs"].order[-300:]
            jobs = store.tables["jobs"].records
            candidates = [
                rid
                for _, rid in tail
                if jobs[rid]["jobStatus"] == "Completed" and jobs[rid]["invoiceId"] is None
            ]
            if not candidates:
                return self._progress_appointment()
            job = jobs[self.rng.choice(candidates)]
            services = list(store.tables["pricebook_services"].records.values())
            sku = self.rng.choice(services)
            body = InvoiceBody(
                items=[
                    InvoiceItemBody(
                        skuId=sku["id"],
                        quantity=Decimal(1),
                        unitPrice=Decimal(sku["price"]),
                        taxable=False,
                    )
                ]
            )
            try:
                self.writes.create_invoice(job["id"], body)
                self.changed += 1
            except ApiError:
                pass
        return None

    def _pay_invoice(self) -> None:
        store = self.store
        with store.lock:
            invoices = store.tables["invoices"].records
            tail = store.tables["invoices"].order[-2000:]
            open_ids = [
                rid
                for _, rid in tail
                if invoices[rid]["active"] and Decimal(invoices[rid]["balance"]) > 0
            ]
            if not open_ids:
                return
            invoice = invoices[self.rng.choice(open_ids)]
            balance = Decimal(invoice["balance"])
            amount = balance if self.rng.random() < 0.8 else (balance / 2).quantize(Decimal("0.01"))
            now_us = store.now_us()
            now = store.stamp(now_us)
            pay_id = store.next_id("payments")
            method = self.rng.choice((("Credit Card", 1), ("ACH", 2), ("Check", 3)))
            store.insert(
                "payments",
                {
                    "id": pay_id,
                    "type": method[0],
                    "typeId": method[1],
                    "referenceNumber": f"P{pay_id:08d}",
                    "authCode": None,
                    "checkNumber": None,
                    "memo": None,
                    "date": now,
                    "total": format(amount, "f"),
                    "unappliedAmount": "0.00",
                    "customer": invoice["customer"],
                    "businessUnit": invoice["businessUnit"],
                    "appliedTo": [
                        {
                            "appliedAmount": format(amount, "f"),
                            "appliedId": pay_id,
                            "appliedTo": invoice["id"],
                            "appliedOn": now,
                            "appliedBy": "customer portal",
                        }
                    ],
                    "active": True,
                    "createdOn": now,
                },
            )
            new_balance = balance - amount
            changes: dict[str, object] = {"balance": format(new_balance, "f")}
            if new_balance == 0:
                changes["paidOn"] = now
            store.update("invoices", invoice["id"], changes)
            customer = store.tables["customers"].records.get(invoice["customer"]["id"])
            if customer is not None:
                store.update(
                    "customers",
                    customer["id"],
                    {"balance": format(Decimal(customer["balance"]) - amount, "f")},
                )
            store.emit("payment.created", "payments", pay_id, {"invoiceId": invoice["id"]})
            if new_balance == 0:
                store.emit("invoice.paid", "invoices", invoice["id"], {"paymentId": pay_id})
            self.changed += 3

    def _edit_customer(self) -> None:
        store = self.store
        with store.lock:
            cid = self._pick("customers")
            if cid is None:
                return
            customer = store.tables["customers"].records[cid]
            address = dict(customer["address"])
            address["street"] = (
                f"{self.rng.randrange(10, 9999)} {address['street'].split(' ', 1)[-1]}"
            )
            store.update(
                "customers", cid, {"address": address, "doNotMail": self.rng.random() < 0.1}
            )
            store.emit("customer.updated", "customers", cid, {"fields": ["address", "doNotMail"]})
            self.changed += 1

    def _deactivate_customer(self) -> None:
        store = self.store
        with store.lock:
            cid = self._pick("customers")
            if cid is None or not store.tables["customers"].records[cid]["active"]:
                return
            store.update("customers", cid, {"active": False})
            store.emit("customer.deactivated", "customers", cid, {})
            self.changed += 1

    def _change_membership(self) -> None:
        store = self.store
        with store.lock:
            mid = self._pick("memberships")
            if mid is None:
                return
            membership = store.tables["memberships"].records[mid]
            new = {"Active": "Suspended", "Suspended": "Active", "Expired": "Active"}.get(
                membership["status"]
            )
            if new is None:
                return
            changes: dict[str, object] = {"status": new}
            if membership["status"] == "Expired":  # a renewal
                changes["to"] = store.stamp(
                    store.now_us() + int(timedelta(days=365).total_seconds() * 1_000_000)
                )
            store.update("memberships", mid, changes)
            store.emit(
                "membership.status_changed",
                "memberships",
                mid,
                {"from": membership["status"], "to": new},
            )
            self.changed += 1
