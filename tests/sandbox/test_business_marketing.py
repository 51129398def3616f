"""Marketing, calls, leads and bookings: every reference resolves and a job's call or
booking names the job's campaign."""

from __future__ import annotations

from collections import Counter

from tests.sandbox.business_support import by_id, tenant


def test_campaigns_categories_and_costs_resolve() -> None:
    t = tenant()
    categories, campaigns = by_id(t["marketing_categories"]), by_id(t["marketing_campaigns"])
    assert 12 <= len(campaigns) <= 24
    for c in campaigns.values():
        assert c["category"]["id"] in categories
    assert {cost["campaignId"] for cost in t["marketing_costs"]} <= set(campaigns)
    assert all(job["campaignId"] in campaigns for job in t["jobs"])


def test_calls_resolve_and_booked_calls_name_their_jobs_campaign() -> None:
    t = tenant()
    campaigns, jobs = by_id(t["marketing_campaigns"]), by_id(t["jobs"])
    reasons, leads = by_id(t["jbce_call_reasons"]), by_id(t["crm_leads"])
    kinds = Counter(call["type"] for call in t["telecom_calls"])
    assert kinds["Booked"] and kinds["Unbooked"] and kinds["Abandoned"]
    for call in t["telecom_calls"]:
        assert call["campaign"]["id"] in campaigns
        assert call["reason"] is None or call["reason"]["id"] in reasons
        if call["type"] == "Booked":
            job = jobs[call["job"]["id"]]
            assert job["leadCallId"] == call["id"]
            assert job["campaignId"] == call["campaign"]["id"]
            assert call["createdOn"] < job["createdOn"]
        else:
            assert call["job"] is None
        if call["lead"] is not None:
            assert leads[call["lead"]["id"]]["callId"] == call["id"]
    calls = by_id(t["telecom_calls"])
    for job in t["jobs"]:
        if job["leadCallId"] is not None:
            assert calls[job["leadCallId"]]["job"]["id"] == job["id"]


def test_bookings_converted_to_existing_jobs() -> None:
    t = tenant()
    jobs = by_id(t["jobs"])
    converted = [b for b in t["crm_bookings"] if b["status"] == "Converted"]
    assert converted and len(converted) < len(t["crm_bookings"])
    for booking in t["crm_bookings"]:
        if booking["status"] == "Converted":
            job = jobs[booking["jobId"]]
            assert job["bookingId"] == booking["id"]
            assert job["campaignId"] == booking["campaignId"]
        else:
            assert booking["jobId"] is None
    for lead in t["crm_leads"]:
        assert lead["status"] in ("Open", "Dismissed", "Converted")
        assert lead["customerId"] is not None and lead["campaignId"] in by_id(
            t["marketing_campaigns"]
        )
