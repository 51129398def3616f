"""Installed equipment: a unit at about three locations in ten."""

from __future__ import annotations

from st_sandbox.clock import US_PER_DAY, to_us_from_ts
from st_sandbox.generator.state import GenState, Record
from st_sandbox.money import cents_str, percent_of_cents


def build_equipment(g: GenState) -> None:
    """The installed equipment of every location that has some."""
    rng = g.rng
    rows: list[Record] = []
    for loc in g.tables["locations"]:
        if rng.random() > 0.3:
            continue
        rows.append(installed(g, len(rows) + 1, loc))
    g.tables["installed_equipment"] = rows


def installed(g: GenState, eq_id: int, loc: Record) -> Record:
    """One unit installed at ``loc`` after the location was created, under a ten-year
    manufacturer's warranty and a year of the service company's."""
    rng = g.rng
    sku_id, eq_name, manufacturer, model, price = rng.choice(g.equipment_skus)
    installed_us = g.past_us(to_us_from_ts(loc["createdOn"]))
    status = "Installed" if rng.random() > 0.05 else "Replaced"
    stamp = g.ts(installed_us)
    return {
        "id": eq_id,
        "active": status == "Installed",
        "equipmentId": sku_id,
        "locationId": loc["id"],
        "customerId": loc["customerId"],
        "name": eq_name,
        "installedOn": stamp,
        "serialNumber": f"{manufacturer[:3].upper()}{rng.randrange(10**9, 10**10)}",
        "manufacturer": manufacturer,
        "model": model,
        "cost": cents_str(percent_of_cents(price, (60, 1))),
        "status": status,
        "memo": "",
        "manufacturerWarrantyStart": stamp,
        "manufacturerWarrantyEnd": g.ts(installed_us + 10 * 365 * US_PER_DAY),
        "serviceProviderWarrantyStart": stamp,
        "serviceProviderWarrantyEnd": g.ts(installed_us + 365 * US_PER_DAY),
        "createdOn": stamp,
        "modifiedOn": stamp,
    }
