"""Customers with their locations and contacts."""

from __future__ import annotations

from st_sandbox import names
from st_sandbox.generator.state import ADMIN_USER_ID, GenState, Record


def build_customers(g: GenState) -> None:
    """Every customer, each followed by its locations and contacts."""
    customers: list[Record] = []
    locations: list[Record] = []
    contacts: list[Record] = []
    n_zones = len(g.tax_rates)
    for cid in range(1, g.n_customers + 1):
        cust = customer(g, cid)
        customers.append(cust)
        name, active, created_us = cust["name"], cust["active"], g.cust_created[cid]
        n_locs = 1 if g.rng.random() < 0.7 else (2 if g.rng.random() < 0.7 else 3)
        locs = []
        for j in range(n_locs):
            loc = location(g, len(locations) + 1, cust, j, n_zones)
            locations.append(loc)
            locs.append(loc["id"])
            g.location_zone[loc["id"]] = loc["taxZoneId"]
            g.loc_name[loc["id"]] = loc["name"]
        g.cust_locations[cid] = locs
        stamp = g.ts(created_us)
        for k in range(g.rng.randrange(1, 3)):
            contacts.append(contact(g, len(contacts) + 1, cid, name, active, locs[0], k, stamp))
    g.tables["customers"] = customers
    g.tables["locations"] = locations
    g.tables["contacts"] = contacts


def customer(g: GenState, cid: int) -> Record:
    """One customer: residential or commercial, edited now and then after its creation."""
    rng = g.rng
    commercial = rng.random() < 0.15
    last = rng.choice(names.LAST_NAMES)
    if commercial:
        name = f"{last} {rng.choice(names.COMPANY_SUFFIXES)}"
    else:
        name = f"{rng.choice(names.FIRST_NAMES)} {last}"
    created_us = g.past_us(recent_bias=True)
    modified_us = created_us if rng.random() < 0.6 else g.past_us(created_us)
    active = rng.random() > 0.025
    g.cust_created[cid] = created_us
    g.cust_active[cid] = active
    g.cust_name[cid] = name
    return {
        "id": cid,
        "active": active,
        "name": name,
        "type": "Commercial" if commercial else "Residential",
        "address": g.address(),
        "balance": "0.00",
        "taxExempt": commercial and rng.random() < 0.2,
        "doNotMail": rng.random() < 0.05,
        "doNotService": False,
        "mergedToId": None,
        "createdOn": g.ts(created_us),
        "createdById": ADMIN_USER_ID,
        "modifiedOn": g.ts(modified_us),
    }


def location(g: GenState, loc_id: int, cust: Record, j: int, n_zones: int) -> Record:
    """The customer's ``j``-th location: the first at the customer's own address."""
    rng = g.rng
    name = cust["name"]
    created_us = g.cust_created[cust["id"]]
    zone = rng.randrange(1, n_zones + 1)
    loc_created = created_us if j == 0 else g.past_us(created_us)
    return {
        "id": loc_id,
        "customerId": cust["id"],
        "active": cust["active"] and rng.random() > 0.02,
        "name": name if j == 0 else f"{name} #{j + 1}",
        "address": cust["address"] if j == 0 else g.address(),
        "taxZoneId": zone,
        "zoneId": rng.randrange(1, 9),
        "taxExempt": False,
        "createdOn": g.ts(loc_created),
        "createdById": ADMIN_USER_ID,
        "modifiedOn": g.ts(loc_created),
    }


def contact(
    g: GenState, contact_id: int, cid: int, name: str, active: bool, loc: int, k: int, stamp: str
) -> Record:
    """The customer's ``k``-th contact: a mobile number first, then an e-mail or a phone."""
    rng = g.rng
    kind = "MobilePhone" if k == 0 else ("Email" if rng.random() < 0.7 else "Phone")
    value = (
        f"{name.split()[0].lower()}.{cid}@mail.example"
        if kind == "Email"
        else f"555{rng.randrange(1000000, 9999999)}"
    )
    return {
        "id": contact_id,
        "customerId": cid,
        "locationId": loc if k == 1 else None,
        "type": kind,
        "value": value,
        "memo": None,
        "active": active and rng.random() > 0.02,
        "createdOn": stamp,
        "modifiedOn": stamp,
    }
