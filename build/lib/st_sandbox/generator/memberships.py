"""Memberships (HVAC maintenance plans) and their recurring service events."""

from __future__ import annotations

from st_sandbox import names
from st_sandbox.clock import US_PER_DAY
from st_sandbox.generator.state import GenState, Record


def build_memberships(g: GenState) -> None:
    """A membership for about a quarter of the customers, with its tune-up events."""
    rng = g.rng
    memberships: list[Record] = []
    events: list[Record] = []
    n_types = len(g.tables["membership_types"])
    hvac_bus = [b for b in g.bu_ids if g.bu_trade[b] == "HVAC"]
    for cid in range(1, g.n_customers + 1):
        if rng.random() > 0.25:
            continue
        row, start, end = membership(g, len(memberships) + 1, cid, n_types, hvac_bus)
        memberships.append(row)
        if row["status"] == "Active":
            g.cust_membership[cid] = (row["id"], row["membershipTypeId"])
        service_events(g, row, start, end, events)
    g.tables["memberships"] = memberships
    g.tables["recurring_service_events"] = events


def membership(
    g: GenState, mid: int, cid: int, n_types: int, hvac_bus: list[int]
) -> tuple[Record, int, int]:
    """One membership of a customer with its start and end (µs): a year (two if renewed)
    from a start after the customer's creation; a lapsed one is expired or canceled."""
    rng = g.rng
    anchor = g.anchor_us
    mtype = rng.randrange(1, n_types + 1)
    bu = rng.choice(hvac_bus)
    start = g.past_us(g.cust_created[cid])
    end = start + 365 * US_PER_DAY
    if end < anchor:
        status = rng.choice(("Expired", "Expired", "Canceled", "Active"))
        if status == "Active":  # renewed
            end = start + 2 * 365 * US_PER_DAY
    else:
        status = "Active" if rng.random() < 0.92 else "Suspended"
    if not g.cust_active[cid] and status == "Active":
        status = "Canceled"
    canceled = status == "Canceled"
    modified = min(anchor, g.past_us(start))
    row = {
        "id": mid,
        "customerId": cid,
        "locationId": g.cust_locations[cid][0],
        "businessUnitId": bu,
        "membershipTypeId": mtype,
        "status": status,
        "followUpStatus": "Won" if status == "Active" else "NotAttempted",
        "from": g.ts(start),
        "to": g.ts(end),
        "nextScheduledBillDate": g.ts(min(end, anchor + 30 * US_PER_DAY))
        if status == "Active"
        else None,
        "billingFrequency": rng.choice(("Monthly", "Annual", "Annual")),
        "cancellationDate": g.ts(modified) if canceled else None,
        "followUpOn": g.ts(end - 30 * US_PER_DAY),
        "duration": 12 if end - start <= 366 * US_PER_DAY else 24,
        "initialDeferredRevenue": "0.00",
        "active": status != "Canceled" or rng.random() < 0.5,
        "createdOn": g.ts(start),
        "modifiedOn": g.ts(modified),
    }
    return row, start, end


def service_events(g: GenState, row: Record, start: int, end: int, events: list[Record]) -> None:
    """Two tune-ups a year over the membership, as an HVAC maintenance plan promises: the
    past ones with an outcome, the coming ones not attempted yet."""
    rng = g.rng
    anchor = g.anchor_us
    mid, mtype = row["id"], row["membershipTypeId"]
    t = start + 30 * US_PER_DAY
    while t < end:
        due_past = t < anchor
        ev_status = (
            rng.choice(("Won", "Won", "Dismissed", "Unreachable")) if due_past else "NotAttempted"
        )
        stamp = g.ts(min(t, anchor) if due_past else start)
        events.append(
            {
                "id": len(events) + 1,
                "locationRecurringServiceId": mid * 10 + 1,
                "locationRecurringServiceName": "Semi-annual tune-up",
                "membershipId": mid,
                "membershipName": names.MEMBERSHIP_TYPES[mtype - 1][0],
                "locationId": row["locationId"],
                "status": ev_status,
                "date": g.ts(t),
                "jobId": None,
                "active": True,
                "createdOn": g.ts(start),
                "modifiedOn": stamp,
            }
        )
        t += 182 * US_PER_DAY
