"""Inventory: vendors, a warehouse per branch, a truck per technician, purchase-order
types, and a purchase order (with its receipt once received) for the materials of every
invoiced job, at the pricebook's cost. Revenue (the invoice) less material cost (the
purchase orders) less labour (payroll) is a job's margin.
"""

from __future__ import annotations

from decimal import Decimal

from st_sandbox import names
from st_sandbox.clock import US_PER_DAY
from st_sandbox.generator.business.common import Tables, num, postal, side_rng, streams_of
from st_sandbox.generator.state import ADMIN_USER_ID, GenState, Record

# (id, name, trade supplied, contact first, last)
VENDORS: tuple[tuple[int, str, str, str, str], ...] = (
    (1, "Ferguson HVAC Supply", "HVAC", "Dana", "Ferguson"),
    (2, "Johnstone Supply", "HVAC", "Mark", "Reyes"),
    (3, "Winsupply Plumbing", "Plumbing", "Lisa", "Wong"),
    (4, "Hajoca Plumbing Supply", "Plumbing", "Tom", "Baker"),
    (5, "Graybar Electric", "Electrical", "Nina", "Patel"),
    (6, "City Electric Supply", "Electrical", "Omar", "Haddad"),
)
PO_TYPES = ((1, "Job order", True), (2, "Stock replenishment", False), (3, "Drop ship", True))
# The general-ledger accounts a received material posts to (the same for every item).
RECEIPT_ACCOUNTS: dict[str, Record] = {
    "generalLedgerAccount": {
        "name": "Inventory Asset",
        "number": "1300",
        "type": "Other Current Asset",
        "detailType": "Inventory",
    },
    "costOfSaleAccount": {
        "name": "Cost of Goods Sold - Materials",
        "number": "5000",
        "type": "Cost of Goods Sold",
        "detailType": "Supplies & Materials - COGS",
    },
    "assetAccount": {
        "name": "Inventory Asset",
        "number": "1300",
        "type": "Other Current Asset",
        "detailType": "Inventory",
    },
}


class InventoryBuilder:
    """Reference tables, then purchase orders and receipts in invoice order."""

    def __init__(self, g: GenState) -> None:
        self.g = g
        self.rng = side_rng(g, "inventory")
        self.created = g.ts(g.start_us - 30 * US_PER_DAY)
        # A material sku: (name, code, cost in cents, vendors of its trade).
        cat_trade = {c["id"]: c["name"].split()[0] for c in g.tables["pricebook_categories"]}
        by_trade: dict[str, list[int]] = {}
        for vid, _name, trade, _f, _l in VENDORS:
            by_trade.setdefault(trade, []).append(vid)
        self.materials = {
            m["id"]: (
                m["displayName"],
                m["code"],
                int(Decimal(m["cost"]) * 100),
                by_trade[cat_trade[m["categories"][0]]],
            )
            for m in g.tables["pricebook_materials"]
        }
        branches = [b[0] for b in names.BRANCHES]
        self.bu_warehouse = {
            b["id"]: branches.index(b["branch"]) + 1 for b in g.tables["business_units"]
        }

    def vendors(self) -> list[Record]:
        rng = self.rng
        created = self.created
        return [
            {
                "id": vid,
                "name": name,
                "active": True,
                "isTruckReplenishment": vid % 2 == 1,
                "isMobileCreationRestricted": False,
                "memo": f"{trade} parts",
                "deliveryOption": "Delivery" if vid % 2 else "Pickup",
                "defaultTaxRate": 0.0,
                "contactInfo": {
                    "firstName": first,
                    "lastName": last,
                    "phone": f"555{rng.randrange(1000000, 9999999)}",
                    "email": f"orders@{name.split()[0].lower()}.example",
                    "fax": "",
                },
                "address": postal(self.g.address()),
                "createdOn": created,
                "modifiedOn": created,
                "externalData": [{"key": "accountingVendorId", "value": f"V-{100 + vid}"}],
                "customFields": [],
            }
            for vid, name, trade, first, last in VENDORS
        ]

    def warehouses(self) -> list[Record]:
        return [
            {
                "id": i,
                "name": f"{branch} Warehouse",
                "active": True,
                "address": postal(self.g.address(city=city, state=state)),
                "inventoryTemplateId": None,
                "createdOn": self.created,
                "modifiedOn": self.created,
                "externalData": [],
            }
            for i, (branch, city, state) in enumerate(names.BRANCHES, start=1)
        ]

    def trucks(self) -> list[Record]:
        """A truck per technician, stocked from the warehouse of the technician's branch."""
        return [
            {
                "id": tech["id"],
                "name": f"Truck {tech['id']:03d}",
                "active": tech["active"],
                "memo": "",
                "warehouseId": self.bu_warehouse[tech["businessUnitId"]],
                "technicianIds": [tech["id"]],
                "inventoryTemplateId": None,
                "createdOn": self.created,
                "modifiedOn": self.created,
                "externalData": [],
            }
            for tech in self.g.tables["technicians"]
        ]

    def po_types(self) -> list[Record]:
        return [
            {
                "id": tid,
                "name": name,
                "active": True,
                "automaticallyReceive": False,
                "displayToTechnician": for_jobs,
                "impactToTechnicianPayroll": False,
                "allowTechniciansToSendPo": for_jobs,
                "defaultRequiredDateDaysOffset": 1,
                "skipWeekends": True,
                "excludeTaxFromJobCosting": False,
                "landedCostMethod": "None",
                "includeTaxInFullyLandedCost": False,
                "createdOn": self.created,
                "modifiedOn": self.created,
            }
            for tid, name, for_jobs in PO_TYPES
        ]

    def orders(self) -> tuple[list[Record], list[Record]]:
        """A job order per invoice with materials, dated when the job was created, received
        the next day unless that is still to come; a receipt per received order."""
        g = self.g
        rng = self.rng
        ts = g.ts
        anchor = g.anchor_us
        seen = g.clock.seen or {}
        jobs = g.tables["jobs"]
        appts = g.tables["appointments"]
        locations = g.tables["locations"]
        materials = self.materials
        orders: list[Record] = []
        receipts: list[Record] = []
        item_id = 0
        for inv in g.tables["invoices"]:
            lines = [i for i in inv["items"] if i["type"] == "Material" and i["skuId"] in materials]
            if not lines:
                continue
            job = jobs[inv["job"]["id"] - 1]
            first = appts[job["firstAppointmentId"] - 1]
            tech = first["assignments"][0]["technicianId"] if first["assignments"] else None
            date_us = seen.get(job["createdOn"]) or g.start_us
            received_us = date_us + US_PER_DAY
            received = received_us <= anchor
            date = ts(date_us)
            status = "Received" if received else "Sent"
            vendor = rng.choice(materials[lines[0]["skuId"]][3])
            items: list[Record] = []
            total = 0
            for line in lines:
                name, code, cost, _vendors = materials[line["skuId"]]
                qty = Decimal(line["quantity"])
                line_total = int(qty * cost)
                total += line_total
                item_id += 1
                items.append(
                    {
                        "id": item_id,
                        "skuId": line["skuId"],
                        "description": name,
                        "createdOn": date,
                        "modifiedOn": date,
                        "skuName": name,
                        "skuCode": code,
                        "skuType": "Material",
                        "vendorPartNumber": f"{code}-V{vendor}",
                        "quantity": float(qty),
                        "quantityReceived": float(qty) if received else 0.0,
                        "cost": num(cost),
                        "total": num(line_total),
                        "serialNumbers": [],
                        "status": status,
                        "chargeable": True,
                        "budgetCodeId": None,
                    }
                )
            po_id = len(orders) + 1
            ship_to = postal(locations[job["locationId"] - 1]["address"])
            modified = ts(received_us) if received else date
            order = {
                "id": po_id,
                "number": f"PO-{po_id:07d}",
                "invoiceId": inv["id"],
                "jobId": job["id"],
                "projectId": None,
                "status": status,
                "typeId": 1,
                "vendorId": vendor,
                "technicianId": tech,
                "shipTo": ship_to,
                "businessUnitId": job["businessUnitId"],
                "inventoryLocationId": self.bu_warehouse[job["businessUnitId"]],
                "batchId": None,
                "budgetCodeId": None,
                "vendorDocumentNumber": f"SO{rng.randrange(100000, 999999)}",
                "date": date,
                "requiredOn": first["start"],
                "sentOn": date,
                "receivedOn": modified if received else None,
                "createdOn": date,
                "modifiedOn": modified,
                "total": num(total),
                "tax": 0.0,
                "shipping": 0.0,
                "createdById": ADMIN_USER_ID,
                "summary": f"Materials for job {job['jobNumber']}",
                "items": items,
                "customFields": [],
            }
            orders.append(order)
            if received:
                receipts.append(self.receipt(len(receipts) + 1, order))
        return orders, receipts

    def receipt(self, receipt_id: int, order: Record) -> Record:
        """The receipt of a whole purchase order."""
        return {
            "id": receipt_id,
            "active": True,
            "number": f"RC-{receipt_id:07d}",
            "vendorInvoiceNumber": order["vendorDocumentNumber"],
            "createdById": ADMIN_USER_ID,
            "memo": "",
            "purchaseOrderId": order["id"],
            "billId": None,
            "jobId": order["jobId"],
            "businessUnitId": order["businessUnitId"],
            "vendorId": order["vendorId"],
            "technicianId": order["technicianId"],
            "inventoryLocationId": order["inventoryLocationId"],
            "shipTo": dict(order["shipTo"]),
            "shipToDescription": "Job site",
            "receiptAmount": order["total"],
            "taxAmount": 0.0,
            "shippingAmount": 0.0,
            "receivedOn": order["receivedOn"],
            "createdOn": order["receivedOn"],
            "modifiedOn": order["receivedOn"],
            "batchId": None,
            "syncStatus": "Posted",
            "budgetCodeId": None,
            "landedCostMethod": "None",
            "otherAmount": 0.0,
            "items": [
                {
                    "id": item["id"],
                    "skuId": item["skuId"],
                    "name": item["skuName"],
                    "code": item["skuCode"],
                    "description": item["description"],
                    "quantity": item["quantity"],
                    "cost": item["cost"],
                    **RECEIPT_ACCOUNTS,
                    "purchaseOrderItemId": item["id"],
                    "budgetCodeId": None,
                    # No landed cost (``landedCostMethod`` "None"): nothing allocated.
                    "allocatedShipping": None,
                    "allocatedTax": None,
                    "allocatedOtherCosts": None,
                    "fullyLandedUnitCost": None,
                }
                for item in order["items"]
            ],
            "customFields": [],
        }

    def build(self) -> Tables:
        orders, receipts = self.orders()
        return {
            "inventory_vendors": self.vendors(),
            "inventory_warehouses": self.warehouses(),
            "inventory_trucks": self.trucks(),
            "inventory_purchase_order_types": self.po_types(),
            "inventory_purchase_orders": orders,
            "inventory_receipts": receipts,
        }


def _inventory(g: GenState) -> Tables:
    return InventoryBuilder(g).build()


BUILDERS = streams_of(
    "inventory",
    _inventory,
    (
        "inventory_vendors",
        "inventory_warehouses",
        "inventory_trucks",
        "inventory_purchase_order_types",
        "inventory_purchase_orders",
        "inventory_receipts",
    ),
)
