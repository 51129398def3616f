"""Reference sets: tax zones, business units, job types, technicians, membership types
(the pricebook is in ``pricebook.py``). All exist before the history starts; their
modifications are spread over the history, some recent (``spread_stamps``)."""

from __future__ import annotations

import random
from decimal import Decimal

from st_sandbox import names
from st_sandbox.clock import US_PER_DAY
from st_sandbox.generator.pricebook import build_pricebook
from st_sandbox.generator.state import GenState, Record, money


def build_reference(g: GenState) -> None:
    """Every reference set, in the order the generator has always drawn them."""
    created = g.ts(g.start_us - 30 * US_PER_DAY)
    g.tables["tax_zones"] = tax_zones(g, created)
    g.tables["business_units"] = business_units(g, created)
    g.bu_ids = [b["id"] for b in g.tables["business_units"]]
    g.tables["job_types"] = job_types(g, created)
    g.tables["technicians"] = technicians(g, created)
    g.tables["membership_types"] = membership_types(g, created)
    build_pricebook(g, created)
    spread_stamps(g, REFERENCE_TABLES)


REFERENCE_TABLES = (
    "tax_zones",
    "business_units",
    "job_types",
    "technicians",
    "membership_types",
    "pricebook_categories",
    "pricebook_services",
    "pricebook_materials",
    "pricebook_equipment",
)


def spread_stamps(g: GenState, tables: tuple[str, ...]) -> None:
    """Re-stamp the reference records: created in the year before the history starts
    (before anything refers to them), then four in five modified since, denser towards
    the present, and every table's last record in the last three days, so a sync from
    any start date finds reference changes. A random stream of its own, so the rest of
    the tenant draws exactly what it drew before."""
    rng = random.Random(f"{g.seed}:reference-stamps")
    start, anchor = g.start_us, g.anchor_us
    for name in tables:
        rows = g.tables[name]
        for i, row in enumerate(rows):
            created = start - US_PER_DAY - int(rng.random() * 365 * US_PER_DAY)
            if i == len(rows) - 1:
                modified = anchor - int(rng.random() * 3 * US_PER_DAY)
            elif rng.random() < 0.8:
                modified = start + int(rng.random() ** 0.5 * (anchor - start))
            else:
                modified = created
            row["createdOn"] = g.ts(created)
            row["modifiedOn"] = g.ts(min(max(modified, created), anchor))


def tax_zones(g: GenState, created: str) -> list[Record]:
    """One zone per entry of ``names.TAX_ZONES``; their rates go to ``g.tax_rates``."""
    zones: list[Record] = []
    for i, (zone_name, rate) in enumerate(names.TAX_ZONES, start=1):
        g.tax_rates[i] = Decimal(rate)
        zones.append(
            {
                "id": i,
                "name": zone_name,
                "rates": [{"taxName": f"{zone_name} sales tax", "taxRate": float(Decimal(rate))}],
                "active": True,
                "createdOn": created,
                "modifiedOn": created,
            }
        )
    return zones


def business_units(g: GenState, created: str) -> list[Record]:
    """A business unit per trade and branch."""
    bus: list[Record] = []
    for trade in names.TRADES:
        for branch, city, state in names.BRANCHES:
            bu_id = len(bus) + 1
            g.bu_trade[bu_id] = trade
            bus.append(business_unit(g, bu_id, trade, branch, city, state, created))
    return bus


def business_unit(
    g: GenState, bu_id: int, trade: str, branch: str, city: str, state: str, created: str
) -> Record:
    """One business unit (draws its phone number, then its address)."""
    return {
        "id": bu_id,
        "active": True,
        "name": f"{trade} - {branch}",
        "officialName": f"Acme {trade} Services {branch} LLC",
        "trade": trade,
        "branch": branch,
        "email": f"{trade.lower()}.{branch.lower()}@acme-service.example",
        "phoneNumber": f"555{g.rng.randrange(1000000, 9999999)}",
        "currency": "USD",
        "address": g.address(city=city, state=state),
        "createdOn": created,
        "modifiedOn": created,
    }


def job_types(g: GenState, created: str) -> list[Record]:
    """The job types of each trade, offered by that trade's business units."""
    rows: list[Record] = []
    for trade, entries in names.JOB_TYPES.items():
        for jt_name, skill, duration in entries:
            jt_id = len(rows) + 1
            rows.append(
                {
                    "id": jt_id,
                    "name": jt_name,
                    "businessUnitIds": [b for b in g.bu_ids if g.bu_trade[b] == trade],
                    "skills": [skill],
                    "priority": "Normal",
                    "duration": duration,
                    "active": True,
                    "createdOn": created,
                    "modifiedOn": created,
                }
            )
            g.job_types_by_trade.setdefault(trade, []).append((jt_id, jt_name, skill))
    return rows


def technicians(g: GenState, created: str) -> list[Record]:
    """The same number of technicians in every business unit."""
    # Technicians scale with the customer base so that schedules stay feasible.
    per_bu = max(3, -(-g.n_customers // 6000))
    techs: list[Record] = []
    skill_ids = {s: i for i, s in enumerate(names.SKILLS, start=1)}
    for bu in g.bu_ids:
        trade = g.bu_trade[bu]
        trade_skills = sorted({s for _, _, s in g.job_types_by_trade[trade]})
        for _ in range(per_bu):
            tech = technician(g, len(techs) + 1, bu, trade_skills, skill_ids, created)
            techs.append(tech)
            g.techs_by_bu.setdefault(bu, []).append(tech["id"])
            g.tech_names[tech["id"]] = tech["name"]
    return techs


def technician(
    g: GenState,
    tech_id: int,
    bu: int,
    trade_skills: list[str],
    skill_ids: dict[str, int],
    created: str,
) -> Record:
    """One technician of ``bu``."""
    rng = g.rng
    first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
    # Everyone has the trade's general skill; seniors have the rest too.
    skills = trade_skills if rng.random() < 0.6 else trade_skills[:1]
    start_h = rng.choice((7, 8))
    return {
        "id": tech_id,
        "userId": 1000 + tech_id,
        "name": f"{first} {last}",
        "businessUnitId": bu,
        "email": f"{first.lower()}.{last.lower()}{tech_id}@acme-service.example",
        "phoneNumber": f"555{rng.randrange(1000000, 9999999)}",
        "skills": [{"id": skill_ids[s], "name": s} for s in skills],
        "shiftStart": f"{start_h:02d}:00:00",
        "shiftEnd": f"{start_h + 8:02d}:30:00",
        "hourlyRate": money(Decimal(rng.randrange(28, 55))),
        "active": rng.random() > 0.03,
        "createdOn": created,
        "modifiedOn": created,
    }


def membership_types(g: GenState, created: str) -> list[Record]:
    """The membership plans of ``names.MEMBERSHIP_TYPES``; their discounts go to
    ``g.mtype_discount`` as integer ratios for the invoices' cent arithmetic."""
    rows: list[Record] = []
    for i, (mt_name, discount, freq, price) in enumerate(names.MEMBERSHIP_TYPES, start=1):
        rows.append(
            {
                "id": i,
                "name": mt_name,
                "displayName": mt_name,
                "active": True,
                "discountMode": "Basic",
                "discount": float(discount),
                "billingFrequency": freq,
                "price": price,
                "createdOn": created,
                "modifiedOn": created,
            }
        )
    g.mtype_discount = {m["id"]: Decimal(str(m["discount"])).as_integer_ratio() for m in rows}
    return rows
