"""The pricebook: a services and a materials category per trade, their services and
materials, and the equipment catalogue. Sku ids run across services, materials and
equipment, as in ServiceTitan."""

from __future__ import annotations

from decimal import Decimal

from st_sandbox import names
from st_sandbox.generator.state import GenState, Record, money
from st_sandbox.money import cents


def build_pricebook(g: GenState, created: str) -> None:
    """Every pricebook table; the skus the jobs draw from go to ``g.skus`` (per trade) and
    ``g.equipment_skus``, priced in integer cents for the hot loop."""
    cats: list[Record] = []
    services: list[Record] = []
    materials: list[Record] = []
    for trade in names.TRADES:
        trade_bus = [b for b in g.bu_ids if g.bu_trade[b] == trade]
        for kind in ("Services", "Materials"):
            cat_id = len(cats) + 1
            cats.append(category(cat_id, f"{trade} {kind}", kind, trade_bus, created))
            if kind == "Services":
                for svc_name, price, hours in names.SERVICES[trade]:
                    sku_id = len(services) + len(materials) + 1
                    row = service(sku_id, svc_name, price, hours, trade, cat_id, trade_bus, created)
                    services.append(row)
                    g.skus.setdefault(trade, []).append(
                        (sku_id, svc_name, cents(Decimal(price)), False)
                    )
            else:
                for mat_name, price, unit in names.MATERIALS[trade]:
                    sku_id = len(services) + len(materials) + 1
                    materials.append(material(g, sku_id, mat_name, price, unit, cat_id, created))
                    g.skus.setdefault(trade, []).append(
                        (sku_id, mat_name, cents(Decimal(price)), True)
                    )
    equipment: list[Record] = []
    for entry in names.EQUIPMENT:
        sku_id = len(services) + len(materials) + len(equipment) + 1
        equipment.append(equipment_item(sku_id, entry, created))
        eq_name, manufacturer, model, price, _ = entry
        g.equipment_skus.append((sku_id, eq_name, manufacturer, model, cents(Decimal(price))))
    g.tables["pricebook_categories"] = cats
    g.tables["pricebook_services"] = services
    g.tables["pricebook_materials"] = materials
    g.tables["pricebook_equipment"] = equipment


def category(cat_id: int, name: str, kind: str, trade_bus: list[int], created: str) -> Record:
    """A top-level pricebook category of a trade."""
    return {
        "id": cat_id,
        "name": name,
        "active": True,
        "parentId": None,
        "categoryType": kind,
        "businessUnitIds": trade_bus,
        "createdOn": created,
        "modifiedOn": created,
    }


def service(
    sku_id: int,
    name: str,
    price: str,
    hours: str,
    trade: str,
    cat_id: int,
    trade_bus: list[int],
    created: str,
) -> Record:
    """A service sku (labour: not taxable)."""
    p = Decimal(price)
    return {
        "id": sku_id,
        "code": f"SVC-{sku_id:05d}",
        "displayName": name,
        "description": f"{name} ({trade.lower()})",
        "categories": [{"id": cat_id, "name": f"{trade} Services"}],
        "price": money(p),
        "memberPrice": money(p * Decimal("0.85")),
        "addOnPrice": money(p * Decimal("0.9")),
        "cost": money(p * Decimal("0.35")),
        "taxable": False,
        "hours": float(hours),
        "businessUnitId": trade_bus[0],
        "active": True,
        "createdOn": created,
        "modifiedOn": created,
    }


def material(
    g: GenState, sku_id: int, name: str, price: str, unit: str, cat_id: int, created: str
) -> Record:
    """A material sku (taxable; a few are retired)."""
    p = Decimal(price)
    return {
        "id": sku_id,
        "code": f"MAT-{sku_id:05d}",
        "displayName": name,
        "description": name,
        "categories": [cat_id],
        "price": money(p),
        "memberPrice": money(p * Decimal("0.9")),
        "cost": money(p * Decimal("0.45")),
        "unitOfMeasure": unit,
        "taxable": True,
        "active": g.rng.random() > 0.02,
        "createdOn": created,
        "modifiedOn": created,
    }


def equipment_item(sku_id: int, entry: tuple[str, str, str, str, int], created: str) -> Record:
    """An equipment sku of ``names.EQUIPMENT``."""
    eq_name, manufacturer, model, price, warranty = entry
    p = Decimal(price)
    return {
        "id": sku_id,
        "code": f"EQP-{sku_id:05d}",
        "displayName": eq_name,
        "description": f"{manufacturer} {model} {eq_name}",
        "categories": [],
        "price": money(p),
        "memberPrice": money(p * Decimal("0.95")),
        "cost": money(p * Decimal("0.6")),
        "manufacturer": manufacturer,
        "model": model,
        "manufacturerWarranty": {"duration": warranty, "description": "Parts"},
        "taxable": True,
        "active": True,
        "createdOn": created,
        "modifiedOn": created,
    }
