"""Marketing: categories, campaigns (each with its tracking phone number) and their
monthly costs. The campaigns are a fixed table so the core jobs can draw their
``campaignId`` from ``JOB_CAMPAIGN_IDS`` while they are built, and the calls and
bookings (``telecom.py``) attribute a job to the campaign the job names."""

from __future__ import annotations

from st_sandbox.clock import US_PER_DAY, from_us
from st_sandbox.generator.business.common import side_rng, streams_of
from st_sandbox.generator.state import DrawRandom, GenState, Record

CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "Paid search", "Regular"),
    (2, "Local services ads", "GoogleHomeServices"),
    (3, "Direct mail", "Regular"),
    (4, "Referral", "Regular"),
    (5, "Offline", "Regular"),
    (6, "Social", "Regular"),
)
# (id, name, category, source, medium, weight among jobs, monthly budget in dollars,
# active). Weights: how often a job names the campaign; inactive ones ran in the past.
CAMPAIGNS: tuple[tuple[int, str, int, str, str, int, int, bool], ...] = (
    (1, "Google Ads - Brand", 1, "Google", "CPC", 14, 2500, True),
    (2, "Google Ads - AC Repair", 1, "Google", "CPC", 10, 4000, True),
    (3, "Google Ads - Water Heaters", 1, "Google", "CPC", 6, 1800, True),
    (4, "Bing Ads", 1, "Bing", "CPC", 2, 400, True),
    (5, "Google Local Services", 2, "Google", "LSA", 9, 3000, True),
    (6, "Spring Tune-up Mailer", 3, "Mail", "Postcard", 4, 1500, True),
    (7, "Fall Furnace Mailer", 3, "Mail", "Postcard", 3, 1500, True),
    (8, "Neighbor Referral", 4, "Referral", "Word of mouth", 8, 200, True),
    (9, "Realtor Partners", 4, "Referral", "Partner", 2, 300, True),
    (10, "Truck Wraps", 5, "Offline", "Vehicle", 3, 600, True),
    (11, "Yard Signs", 5, "Offline", "Signage", 2, 150, True),
    (12, "Radio - Morning Drive", 5, "Radio", "Broadcast", 3, 5000, False),
    (13, "Facebook Ads", 6, "Facebook", "Social", 4, 1200, True),
    (14, "Yelp", 6, "Yelp", "Directory", 3, 700, True),
    (15, "Website Organic", 1, "Website", "Organic", 12, 0, True),
    (16, "Existing Customer", 4, "Direct", "Repeat", 15, 0, True),
)
# One entry per unit of weight: ``rng.choice`` over it is a weighted draw in one call.
JOB_CAMPAIGN_IDS: tuple[int, ...] = tuple(c[0] for c in CAMPAIGNS for _ in range(c[5]))
CAMPAIGN_NAMES: dict[int, str] = {c[0]: c[1] for c in CAMPAIGNS}


def _marketing(g: GenState) -> dict[str, list[Record]]:
    rng = side_rng(g, "marketing")
    created_us = g.start_us - 45 * US_PER_DAY
    created = g.ts(created_us)
    categories = [
        {
            "id": cid,
            "name": name,
            "active": True,
            "type": kind,
            "createdOn": created,
            "modifiedOn": created,
        }
        for cid, name, kind in CATEGORIES
    ]
    by_id = {c["id"]: c for c in categories}
    campaigns: list[Record] = []
    for cid, name, cat, source, medium, _w, _budget, active in CAMPAIGNS:
        category = by_id[cat]
        # Campaigns are tuned now and then; the radio campaign was stopped.
        modified = g.past_us(g.start_us) if rng.random() < 0.5 or not active else created_us
        campaigns.append(
            {
                "id": cid,
                "name": name,
                "createdOn": created,
                "modifiedOn": g.ts(modified),
                "active": active,
                "isDefaultCampaign": cid == 16,
                "category": {"id": cat, "name": category["name"], "active": True},
                "source": source,
                "otherSource": None,
                "businessUnit": None,
                "medium": medium,
                "otherMedium": None,
                "campaignPhoneNumbers": [f"800555{1000 + cid:04d}"],
            }
        )
    return {
        "marketing_categories": categories,
        "marketing_campaigns": campaigns,
        "marketing_costs": _costs(g, rng),
    }


def _costs(g: GenState, rng: DrawRandom) -> list[Record]:
    """One row per campaign and month of the history: the month's spend as a daily cost
    (what ServiceTitan stores), varying ±20 % around the budget."""
    first, last = from_us(g.start_us), from_us(g.anchor_us)
    rows: list[Record] = []
    for cid, _name, _cat, _src, _med, _w, budget, active in CAMPAIGNS:
        if budget == 0:
            continue  # organic and repeat business cost nothing
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            # The stopped radio campaign ran in the first year only.
            if active or (year - first.year) * 12 + month - first.month < 12:
                monthly = budget * (0.8 + 0.4 * rng.random())
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "year": year,
                        "month": month,
                        "dailyCost": round(monthly / 30, 2),
                        "campaignId": cid,
                    }
                )
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return rows


BUILDERS = streams_of(
    "marketing", _marketing, ("marketing_categories", "marketing_campaigns", "marketing_costs")
)
