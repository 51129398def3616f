"""The numbers of the stream marts computed in Python from a tenant's records (the API's
camelCase records, as the sandbox dumps them): what ``tests/dbt/test_stream_marts.py``
compares the dbt models with, exactly (money as ``Decimal``).

Each function states the definition its model documents; a record missing from the
landing, or a definition changed on one side only, shows as a difference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Record = Mapping[str, Any]
CENT = Decimal("0.01")
TEN_THOUSANDTH = Decimal("0.0001")
CANCELED_ORDER = ("Canceled", "Cancelled")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _seconds(start: str | None, end: str | None) -> int | None:
    """Whole seconds between two instants (DuckDB's ``date_diff('second', ...)``: the
    difference of the instants truncated to the second)."""
    a, b = _at(start), _at(end)
    if a is None or b is None:
        return None
    return int(b.replace(microsecond=0).timestamp()) - int(a.replace(microsecond=0).timestamp())


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(TEN_THOUSANDTH, rounding=ROUND_HALF_UP)


def latest(records: Iterable[Record]) -> list[Record]:
    """The newest version of each record (by ``modifiedOn`` where records have it; a dump
    holds each record once, so this is for safety)."""
    newest: dict[Any, Record] = {}
    for record in records:
        kept = newest.get(record["id"])
        if kept is None or (record.get("modifiedOn") or "") >= (kept.get("modifiedOn") or ""):
            newest[record["id"]] = record
    return list(newest.values())


def held(records: Iterable[Record], first_day: date, partitioned: bool) -> list[Record]:
    """What the warehouse holds of a stream, as a contractor reconciles it: the newest
    version of each record; for a stream partitioned by ``modifiedOn``, only the records
    last modified on or after ``first_day`` (UTC), the first day landed. A stream landed
    whole holds everything."""
    newest = latest(records)
    if not partitioned:
        return newest
    return [
        r
        for r in newest
        if (at := _at(r.get("modifiedOn"))) is not None and at.astimezone(UTC).date() >= first_day
    ]


def job_revenue(invoices: Iterable[Record]) -> dict[int, Decimal]:
    """Revenue per job: subtotal less discounts of its active invoices."""
    revenue: dict[int, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        job = invoice.get("job") or {}
        if invoice["active"] and job.get("id") is not None:
            revenue[job["id"]] += Decimal(invoice["subTotal"]) - Decimal(invoice["discountTotal"])
    return dict(revenue)


def job_labor(
    jobs: Iterable[Record], pay_items: Iterable[Record], timesheets: Iterable[Record]
) -> dict[int, tuple[Decimal, Decimal, int, int, Decimal, Decimal]]:
    """Per job: (labor_cost, paid_hours, on_site_seconds, travel_seconds, on_site_hours,
    travel_hours), as ``marts.fct_job_labor`` defines them."""
    cost: dict[int, Decimal] = defaultdict(Decimal)
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for item in pay_items:
        if item["active"] and item.get("jobId") is not None:
            cost[item["jobId"]] += Decimal(str(item["amount"]))
            if item.get("paidDurationHours") is not None:
                paid[item["jobId"]] += Decimal(str(item["paidDurationHours"]))
    on_site: dict[int, int] = defaultdict(int)
    travel: dict[int, int] = defaultdict(int)
    for sheet in timesheets:
        if sheet["active"] and sheet.get("jobId") is not None:
            on_site[sheet["jobId"]] += _seconds(sheet.get("arrivedOn"), sheet.get("doneOn")) or 0
            travel[sheet["jobId"]] += (
                _seconds(sheet.get("dispatchedOn"), sheet.get("arrivedOn")) or 0
            )
    out = {}
    for job in jobs:
        i = job["id"]
        out[i] = (
            _money(cost[i]),
            paid[i].quantize(TEN_THOUSANDTH, rounding=ROUND_HALF_UP),
            on_site[i],
            travel[i],
            _hours(on_site[i]),
            _hours(travel[i]),
        )
    return out


def job_margin(
    jobs: Iterable[Record],
    invoices: Iterable[Record],
    purchase_orders: Iterable[Record],
    labor: Mapping[int, tuple[Decimal, Decimal, int, int, Decimal, Decimal]],
) -> dict[int, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """Per job: (revenue, material_cost, labor_cost, gross_margin), as
    ``marts.fct_job_margin`` defines them."""
    revenue = job_revenue(invoices)
    material: dict[int, Decimal] = defaultdict(Decimal)
    for order in purchase_orders:
        if order.get("jobId") is not None and (order.get("status") or "") not in CANCELED_ORDER:
            material[order["jobId"]] += Decimal(str(order["total"]))
    out = {}
    for job in jobs:
        i = job["id"]
        sold, bought, worked = revenue.get(i, Decimal(0)), _money(material[i]), labor[i][0]
        out[i] = (sold, bought, worked, sold - bought - worked)
    return out


def campaign_conversion(
    campaigns: Iterable[Record],
    calls: Iterable[Record],
    leads: Iterable[Record],
    bookings: Iterable[Record],
    jobs: Iterable[Record],
    invoices: Iterable[Record],
) -> dict[int, tuple[int, int, int, int, int, int, int, Decimal]]:
    """Per campaign: (calls, lead_calls, booked_calls, leads, converted_leads, bookings,
    jobs, revenue), as ``reports.rpt_campaign_conversion`` defines them."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0] * 7)
    for call in calls:
        campaign = (call.get("campaign") or {}).get("id")
        if call["active"] and campaign is not None:
            row = counts[campaign]
            row[0] += 1
            row[1] += call.get("type") in ("Booked", "Unbooked")
            row[2] += call.get("type") == "Booked"
    for lead in leads:
        if lead["active"] and lead.get("campaignId") is not None:
            counts[lead["campaignId"]][3] += 1
            counts[lead["campaignId"]][4] += lead["status"] == "Converted"
    for booking in bookings:
        if booking["active"] and booking.get("campaignId") is not None:
            counts[booking["campaignId"]][5] += 1
    revenue = job_revenue(invoices)
    by_campaign: dict[int, Decimal] = defaultdict(Decimal)
    for job in jobs:
        if job["active"] and job.get("campaignId") is not None:
            counts[job["campaignId"]][6] += 1
            by_campaign[job["campaignId"]] += revenue.get(job["id"], Decimal(0))
    out = {}
    for campaign in campaigns:
        c = campaign["id"]
        calls_, lead_calls, booked, leads_, converted, bookings_, jobs_ = counts[c]
        out[c] = (calls_, lead_calls, booked, leads_, converted, bookings_, jobs_, by_campaign[c])
    return out


def custom_fields(
    records_by_entity: Mapping[str, Iterable[Record]],
) -> list[tuple[str, int, int | None, str | None, str | None]]:
    """(entity, record id, type id, name, value) of every custom field, sorted."""
    rows = []
    for entity, records in records_by_entity.items():
        for record in records:
            for field in record.get("customFields") or []:
                rows.append(
                    (
                        entity,
                        record["id"],
                        field.get("typeId"),
                        field.get("name"),
                        field.get("value"),
                    )
                )
    return sorted(rows, key=repr)


def tag_assignments(
    records_by_entity: Mapping[str, Iterable[Record]], tag_types: Iterable[Record]
) -> list[tuple[str, int, int, str | None]]:
    """(entity, record id, tag type id, tag name) of every tag, sorted."""
    names = {t["id"]: t["name"] for t in tag_types}
    rows = {
        (entity, record["id"], tag, names.get(tag))
        for entity, records in records_by_entity.items()
        for record in records
        for tag in record.get("tagTypeIds") or []
    }
    return sorted(rows, key=repr)
