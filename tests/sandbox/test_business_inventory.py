"""Inventory: purchase orders for invoiced materials, totals that add up, receipts."""

from __future__ import annotations

from decimal import Decimal

from tests.sandbox.business_support import by_id, tenant


def _d(value: float) -> Decimal:
    return Decimal(str(value))


def test_purchase_orders_resolve_and_add_up() -> None:
    t = tenant()
    jobs, invoices = by_id(t["jobs"]), by_id(t["invoices"])
    materials, vendors = by_id(t["pricebook_materials"]), by_id(t["inventory_vendors"])
    techs, warehouses = by_id(t["technicians"]), by_id(t["inventory_warehouses"])
    orders = t["inventory_purchase_orders"]
    assert orders
    for po in orders:
        assert po["jobId"] in jobs and invoices[po["invoiceId"]]["job"]["id"] == po["jobId"]
        assert po["vendorId"] in vendors and po["inventoryLocationId"] in warehouses
        assert po["technicianId"] is None or po["technicianId"] in techs
        for item in po["items"]:
            sku = materials[item["skuId"]]
            assert _d(item["cost"]) == Decimal(sku["cost"])
            assert _d(item["total"]) == (_d(item["quantity"]) * _d(item["cost"])).quantize(
                Decimal("0.01"), rounding="ROUND_DOWN"
            )
        assert _d(po["total"]) == sum((_d(i["total"]) for i in po["items"]), Decimal(0))
        assert po["createdOn"] <= po["modifiedOn"]
    for truck in t["inventory_trucks"]:
        assert truck["warehouseId"] in warehouses and set(truck["technicianIds"]) <= set(techs)


def test_receipts_match_their_received_orders() -> None:
    t = tenant()
    orders = by_id(t["inventory_purchase_orders"])
    receipts = t["inventory_receipts"]
    received = {po["id"] for po in orders.values() if po["status"] == "Received"}
    assert {r["purchaseOrderId"] for r in receipts} == received
    for r in receipts:
        po = orders[r["purchaseOrderId"]]
        assert r["receiptAmount"] == po["total"] and r["jobId"] == po["jobId"]
        assert [i["purchaseOrderItemId"] for i in r["items"]] == [i["id"] for i in po["items"]]
