"""The activity engine's changes to the business streams (``activity.py`` draws them only
when the store holds their tables): timesheets that follow the appointments' progress,
inbound calls (some booking a recent job), online bookings handled, purchase orders placed
and received. Records go in and change through ``store.insert``/``store.update``, so
``modifiedOn`` advances and the change feed sees them.
"""

from __future__ import annotations

import random
from decimal import Decimal

from st_sandbox.store import TenantStore
from st_sandbox.table import Record


class TimesheetClock:
    """A technician's job timesheet per appointment: opened when the appointment is
    dispatched, arrival stamped when work starts, closed when it is done."""

    def __init__(self, store: TenantStore) -> None:
        self.store = store
        self._index: dict[tuple[int, int], int] | None = None  # (appointment, tech) -> id

    def index(self) -> dict[tuple[int, int], int]:
        if self._index is None:  # built on first use: one pass over the table
            records = self.store.tables["payroll_jobs_timesheets"].records
            self._index = {(t["appointmentId"], t["technicianId"]): i for i, t in records.items()}
        return self._index

    def follow(self, appt: Record) -> int:
        """Bring the timesheets of ``appt``'s technicians to its status; records changed."""
        store = self.store
        index = self.index()
        now = store.stamp(store.now_us())
        stamp = {"Dispatched": "dispatchedOn", "Working": "arrivedOn", "Done": "doneOn"}.get(
            appt["status"]
        )
        if stamp is None:
            return 0
        changed = 0
        for asg in appt["assignments"]:
            key = (appt["id"], asg["technicianId"])
            tid = index.get(key)
            if tid is None:
                record = {
                    "id": None,
                    "jobId": appt["jobId"],
                    "appointmentId": appt["id"],
                    "technicianId": asg["technicianId"],
                    "dispatchedOn": now,
                    "arrivedOn": now if stamp != "dispatchedOn" else None,
                    "canceledOn": None,
                    "doneOn": now if stamp == "doneOn" else None,
                    "active": True,
                }
                tid = store.insert("payroll_jobs_timesheets", record)["id"]
                index[key] = tid
                store.emit("timesheet.created", "payroll_jobs_timesheets", tid, {})
            else:
                store.update("payroll_jobs_timesheets", tid, {stamp: now})
                store.emit("timesheet.updated", "payroll_jobs_timesheets", tid, {"field": stamp})
            changed += 1
        return changed


class BusinessActivity:
    """Calls, bookings and purchase orders; mixed into ``ActivityEngine``."""

    store: TenantStore
    rng: random.Random
    changed: int

    _po_item_id: int | None = None

    def _next_item_id(self) -> int:
        """A fresh purchase-order item id (the store counts only its own nested ids)."""
        if self._po_item_id is None:
            orders = self.store.tables["inventory_purchase_orders"].records.values()
            self._po_item_id = max((i["id"] for o in orders for i in o["items"]), default=0)
        self._po_item_id += 1
        return self._po_item_id

    def _recent(self, entity: str, n: int) -> list[Record]:
        table = self.store.tables[entity]
        return [table.records[rid] for _, rid in table.order[-n:]]

    def _incoming_call(self) -> None:
        """A call to a campaign's number: a third book a recent job not yet tied to a call."""
        store = self.store
        rng = self.rng
        with store.lock:
            recent = self._recent("telecom_calls", 50)
            if not recent:
                return
            template = rng.choice(recent)
            job = None
            if rng.random() < 0.33:
                open_jobs = [
                    j
                    for j in self._recent("jobs", 200)
                    if j.get("leadCallId") is None and j["jobStatus"] == "Scheduled"
                ]
                job = rng.choice(open_jobs) if open_jobs else None
            campaign = template["campaign"]
            if job is not None and job.get("campaignId") is not None:
                campaigns = store.tables.get("marketing_campaigns")
                known = campaigns.records.get(job["campaignId"]) if campaigns else None
                if known is not None:
                    campaign = {"id": known["id"], "name": known["name"]}
            kind = "Booked" if job else rng.choice(("Unbooked", "Abandoned", "NotLead"))
            seconds = rng.randrange(30, 600)
            call = {
                **template,
                "id": None,
                "createdOn": None,
                "duration": f"00:{seconds // 60:02d}:{seconds % 60:02d}",
                "type": kind,
                "campaign": campaign,
                "job": {"id": job["id"], "number": job["jobNumber"]} if job else None,
                "lead": None,
            }
            del call["createdOn"]
            if job is not None:
                customer = store.tables["customers"].records.get(job["customerId"])
                call["customer"] = (
                    {"id": job["customerId"], "name": customer["name"]} if customer else None
                )
            call_id = store.insert("telecom_calls", call)["id"]
            store.emit("call.created", "telecom_calls", call_id, {"type": kind})
            self.changed += 1
            if job is not None:
                store.update("jobs", job["id"], {"leadCallId": call_id})
                self.changed += 1

    def _handle_booking(self) -> None:
        """Online bookings: a new one arrives, or a new one is accepted or dismissed."""
        store = self.store
        rng = self.rng
        with store.lock:
            recent = self._recent("crm_bookings", 100)
            if not recent:
                return
            waiting = [b for b in recent if b["status"] == "New"]
            if waiting and rng.random() < 0.5:
                booking = rng.choice(waiting)
                status = "Accepted" if rng.random() < 0.6 else "Dismissed"
                store.update(
                    "crm_bookings",
                    booking["id"],
                    {"status": status, "active": status != "Dismissed"},
                )
                store.emit("booking.updated", "crm_bookings", booking["id"], {"status": status})
            else:
                template = rng.choice(recent)
                now_us = store.now_us()
                booking = {
                    **template,
                    "id": None,
                    "status": "New",
                    "jobId": None,
                    "start": store.stamp(now_us + rng.randrange(1, 7) * 86_400_000_000),
                    "externalId": f"WEB-L{now_us}",
                    "active": True,
                }
                del booking["createdOn"]
                bid = store.insert("crm_bookings", booking)["id"]
                store.emit("booking.created", "crm_bookings", bid, {})
            self.changed += 1

    def _purchase_order(self) -> None:
        """A sent order is received (with its receipt), or a recent job orders a material."""
        store = self.store
        rng = self.rng
        with store.lock:
            recent = self._recent("inventory_purchase_orders", 200)
            sent = [p for p in recent if p["status"] == "Sent"]
            if sent and rng.random() < 0.5:
                return self._receive(rng.choice(sent))
            jobs = [j for j in self._recent("jobs", 100) if j["jobStatus"] != "Canceled"]
            materials = list(store.tables["pricebook_materials"].records.values())
            vendors = store.tables.get("inventory_vendors")
            if not jobs or not materials or not recent:
                return None
            job, sku = rng.choice(jobs), rng.choice(materials)
            qty = rng.randrange(1, 4)
            cost = Decimal(str(sku["cost"]))
            total = float(cost * qty)
            now = store.stamp(store.now_us())
            item = {
                "id": self._next_item_id(),
                "skuId": sku["id"],
                "description": sku["displayName"],
                "createdOn": now,
                "modifiedOn": now,
                "skuName": sku["displayName"],
                "skuCode": sku["code"],
                "skuType": "Material",
                "vendorPartNumber": sku["code"],
                "quantity": float(qty),
                "quantityReceived": 0.0,
                "cost": float(cost),
                "total": total,
                "serialNumbers": [],
                "status": "Sent",
                "chargeable": True,
                "budgetCodeId": None,
            }
            po_id = store.next_id("inventory_purchase_orders")
            order = {
                **rng.choice(recent),
                "id": po_id,
                "number": f"PO-{po_id:07d}",
                "invoiceId": job.get("invoiceId"),
                "jobId": job["id"],
                "status": "Sent",
                "vendorId": rng.choice(list(vendors.records))
                if vendors
                else recent[-1]["vendorId"],
                "businessUnitId": job["businessUnitId"],
                "date": now,
                "sentOn": now,
                "receivedOn": None,
                "total": total,
                "tax": 0.0,
                "shipping": 0.0,
                "summary": f"Materials for job {job['jobNumber']}",
                "items": [item],
            }
            del order["createdOn"]
            store.insert("inventory_purchase_orders", order)
            store.emit("purchase_order.created", "inventory_purchase_orders", po_id, {})
            self.changed += 1
        return None

    def _receive(self, order: Record) -> None:
        store = self.store
        now = store.stamp(store.now_us())
        items = [
            {**i, "quantityReceived": i["quantity"], "status": "Received"} for i in order["items"]
        ]
        store.update(
            "inventory_purchase_orders",
            order["id"],
            {"status": "Received", "receivedOn": now, "items": items},
        )
        store.emit("purchase_order.received", "inventory_purchase_orders", order["id"], {})
        self.changed += 1
        if "inventory_receipts" not in store.tables:
            return
        receipt = {
            "id": None,
            "active": True,
            "number": f"RC-PO{order['id']:07d}",
            "vendorInvoiceNumber": order.get("vendorDocumentNumber", ""),
            "memo": "",
            "purchaseOrderId": order["id"],
            "jobId": order["jobId"],
            "businessUnitId": order.get("businessUnitId"),
            "vendorId": order["vendorId"],
            "technicianId": order.get("technicianId"),
            "inventoryLocationId": order.get("inventoryLocationId") or 1,
            "shipTo": order.get("shipTo"),
            "shipToDescription": "Job site",
            "receiptAmount": order["total"],
            "taxAmount": 0.0,
            "shippingAmount": 0.0,
            "receivedOn": now,
            "syncStatus": "Pending",
            "landedCostMethod": "None",
            "items": [
                {
                    "id": i["id"],
                    "skuId": i["skuId"],
                    "name": i["skuName"],
                    "code": i["skuCode"],
                    "description": i["description"],
                    "quantity": i["quantity"],
                    "cost": i["cost"],
                    "purchaseOrderItemId": i["id"],
                }
                for i in items
            ],
            "customFields": [],
        }
        rid = store.insert("inventory_receipts", receipt)["id"]
        store.emit("receipt.created", "inventory_receipts", rid, {"purchaseOrderId": order["id"]})
        self.changed += 1
