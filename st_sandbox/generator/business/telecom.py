"""Calls, leads and bookings: how work reaches the company, per campaign.

Most jobs were booked on an inbound call to a campaign's tracking number minutes before
the job was created (the job's ``leadCallId``), some through an online booking that was
converted (the job's ``bookingId``); the rest came from technicians or memberships. Other
calls did not book: abandoned, not a lead, excused, or an unbooked lead followed up as a
CRM lead. A call or booking that led to a job names the job's campaign, so calls,
bookings and revenue add up per campaign.
"""

from __future__ import annotations

from st_sandbox.clock import US_PER_DAY, US_PER_MINUTE
from st_sandbox.generator.business.common import Tables, postal, side_rng, streams_of
from st_sandbox.generator.business.marketing import CAMPAIGN_NAMES, CAMPAIGNS, JOB_CAMPAIGN_IDS
from st_sandbox.generator.state import ADMIN_USER_ID, GenState, Record

# (id, name, is a lead)
CALL_REASONS: tuple[tuple[int, str, bool], ...] = (
    (1, "Service request", True),
    (2, "Estimate request", True),
    (3, "Maintenance booking", True),
    (4, "Billing question", False),
    (5, "Wrong number", False),
    (6, "Solicitation", False),
    (7, "Appointment follow-up", False),
)
REASONS = {rid: {"id": rid, "name": name} for rid, name, _ in CALL_REASONS}
BOOKING_SOURCES = ("Website", "Google Local Services", "Facebook", "Yelp")
# Of every job: booked on a call below this, else online below the next, else neither.
P_CALL, P_ONLINE = 0.55, 0.67
# Calls that do not book, per job: the unbooked-lead, abandoned, not-lead, excused mix.
P_OTHER_CALL = 0.5


class TelecomBuilder:
    """Calls, leads and bookings in job order, with the other calls interleaved."""

    def __init__(self, g: GenState) -> None:
        self.g = g
        self.rng = side_rng(g, "telecom")
        self.calls: list[Record] = []
        self.leads: list[Record] = []
        self.bookings: list[Record] = []
        self.phones: dict[int, str] = {}
        for contact in g.tables["contacts"]:
            if contact["type"] != "Email":
                self.phones.setdefault(contact["customerId"], contact["value"])
        self.campaigns = {cid: {"id": cid, "name": name} for cid, name in CAMPAIGN_NAMES.items()}
        self.numbers = {c[0]: f"800555{1000 + c[0]:04d}" for c in CAMPAIGNS}
        self.cust_refs: dict[int, Record] = {}
        self.jt_by_bu = {
            bu: [jt["id"] for jt in g.tables["job_types"] if bu in jt["businessUnitIds"]]
            for bu in g.bu_ids
        }

    def customer_ref(self, cid: int) -> Record:
        ref = self.cust_refs.get(cid)
        if ref is None:
            ref = self.cust_refs[cid] = {"id": cid, "name": self.g.cust_name[cid]}
        return ref

    def call(
        self, at: int, cid: int | None, loc: int | None, campaign: int, kind: str, reason: int
    ) -> Record:
        """One inbound call, at ``at`` (µs); a booked one gets its job set by the caller."""
        g = self.g
        rng = self.rng
        seconds = (
            rng.randrange(20, 90) if kind in ("Abandoned", "NotLead") else rng.randrange(120, 900)
        )
        stamp = g.ts(at)
        call = {
            "id": len(self.calls) + 1,
            "duration": f"00:{seconds // 60:02d}:{seconds % 60:02d}",
            "from": self.phones.get(cid, "") if cid else f"555{rng.randrange(1000000, 9999999)}",
            "to": self.numbers[campaign],
            "direction": "Inbound",
            "status": "Completed",
            "type": kind,
            "recordingUrl": None
            if kind == "Abandoned"
            else f"https://recordings.example/{len(self.calls) + 1}.mp3",
            "voiceMailPath": None,
            "createdOn": stamp,
            "modifiedOn": stamp,
            "reason": REASONS[reason] if kind != "Abandoned" else None,
            "customer": self.customer_ref(cid) if cid else None,
            "location": {"id": loc, "name": g.loc_name[loc]} if loc else None,
            "campaign": self.campaigns[campaign],
            "job": None,
            "agent": None,
            "createdBy": None,
            "excuseMemo": "Existing appointment" if kind == "Excused" else "",
            "tag": "",
            "active": True,
            "lead": None,
        }
        self.calls.append(call)
        return call

    def lead(
        self, call: Record, cid: int, loc: int, status: str, campaign: int, modified: int
    ) -> Record:
        """A CRM lead from a call: followed up later, converted, or dismissed."""
        g = self.g
        bu = self.rng.choice(g.bu_ids)
        lead = {
            "id": len(self.leads) + 1,
            "status": status,
            "priority": "High" if self.rng.random() < 0.15 else "Normal",
            "summary": f"{call['reason']['name'] if call['reason'] else 'Call'} from {g.cust_name[cid]}",
            "callId": call["id"],
            "callReasonId": call["reason"]["id"] if call["reason"] else None,
            "bookingId": None,
            "customerId": cid,
            "locationId": loc,
            "businessUnitId": bu,
            "jobTypeId": self.rng.choice(self.jt_by_bu[bu]),
            "campaignId": campaign,
            "followUpDate": g.ts(min(modified + 2 * US_PER_DAY, g.anchor_us))
            if status == "Open"
            else None,
            "createdById": ADMIN_USER_ID,
            "createdOn": call["createdOn"],
            "modifiedOn": g.ts(modified),
            "tagTypeIds": [],
            "dismissingReasonId": None,
            "active": status != "Dismissed",
        }
        self.leads.append(lead)
        call["lead"] = {"id": lead["id"]}
        return lead

    def booking(
        self, at: int, cid: int, campaign: int, status: str, job: Record | None, start: str
    ) -> Record:
        """An online booking; a converted one names its job."""
        g = self.g
        rng = self.rng
        cust = g.tables["customers"][cid - 1]
        booking = {
            "id": len(self.bookings) + 1,
            "source": rng.choice(BOOKING_SOURCES),
            "name": cust["name"],
            "address": postal(cust["address"]),
            "customerType": cust["type"],
            "start": start,
            "campaignId": campaign,
            "businessUnitId": job["businessUnitId"] if job else rng.choice(g.bu_ids),
            "isFirstTimeClient": job is not None and job["createdOn"] <= cust["createdOn"],
            "uploadedImages": [],
            "isSendConfirmationEmail": True,
            "status": status,
            "dismissingReasonId": None,
            "jobId": job["id"] if job else None,
            "externalId": f"WEB-{len(self.bookings) + 1:07d}",
            "priority": "Normal",
            "jobTypeId": job["jobTypeId"] if job else None,
            "bookingProviderId": 1 + BOOKING_SOURCES.index(rng.choice(BOOKING_SOURCES)),
            "summary": None,
            "createdOn": g.ts(at),
            "modifiedOn": job["createdOn"] if job else g.ts(at),
            "active": status != "Dismissed",
        }
        self.bookings.append(booking)
        return booking

    def build(self) -> Tables:
        g = self.g
        rng = self.rng
        anchor = g.anchor_us
        appts = g.tables["appointments"]
        seen = g.clock.seen or {}
        n_customers = g.n_customers
        for job in g.tables["jobs"]:
            created = seen.get(job["createdOn"]) or g.start_us
            campaign = job["campaignId"]
            cid, loc = job["customerId"], job["locationId"]
            r = rng.random()
            job["leadCallId"] = job["bookingId"] = None
            if r < P_CALL:
                at = created - rng.randrange(3, 40) * US_PER_MINUTE
                call = self.call(at, cid, loc, campaign, "Booked", rng.choice((1, 1, 2, 3)))
                call["job"] = {"id": job["id"], "number": job["jobNumber"]}
                job["leadCallId"] = call["id"]
                if rng.random() < 0.1:  # a web lead first, converted on the call
                    self.lead(call, cid, loc, "Converted", campaign, created)
            elif r < P_ONLINE:
                at = created - rng.randrange(10, 600) * US_PER_MINUTE
                start = appts[job["firstAppointmentId"] - 1]["start"]
                job["bookingId"] = self.booking(at, cid, campaign, "Converted", job, start)["id"]
            if rng.random() < P_OTHER_CALL:
                self.other_call(rng.randrange(1, n_customers + 1), anchor)
            if rng.random() < 0.04:  # an online request that never became a job
                cid = rng.randrange(1, n_customers + 1)
                at = g.past_us(g.cust_created[cid])
                status = "New" if anchor - at < 3 * US_PER_DAY else "Dismissed"
                self.booking(
                    at, cid, rng.choice(JOB_CAMPAIGN_IDS), status, None, g.ts(at + US_PER_DAY)
                )
        return {
            "jbce_call_reasons": self.reasons(),
            "telecom_calls": self.calls,
            "crm_leads": self.leads,
            "crm_bookings": self.bookings,
        }

    def other_call(self, cid: int, anchor: int) -> None:
        """A call that did not book: a third from people who are not customers."""
        g = self.g
        rng = self.rng
        known = rng.random() < 0.67
        at = g.past_us(g.cust_created[cid] if known else None)
        campaign = rng.choice(JOB_CAMPAIGN_IDS)
        r = rng.random()
        if r < 0.35 and known:
            loc = g.cust_locations[cid][0]
            call = self.call(at, cid, loc, campaign, "Unbooked", rng.choice((1, 2, 3)))
            recent = anchor - at < 30 * US_PER_DAY
            status = "Open" if recent else "Dismissed"
            self.lead(call, cid, loc, status, campaign, min(at + US_PER_DAY, anchor))
        elif r < 0.6:
            self.call(at, None, None, campaign, "Abandoned", 1)
        elif r < 0.85:
            self.call(at, cid if known else None, None, campaign, "NotLead", rng.choice((4, 5, 6)))
        else:
            self.call(at, cid if known else None, None, campaign, "Excused", 7)

    def reasons(self) -> list[Record]:
        created = self.g.ts(self.g.start_us - 30 * US_PER_DAY)
        return [
            {
                "id": rid,
                "name": name,
                "isLead": is_lead,
                "active": True,
                "createdOn": created,
                "modifiedOn": created,
            }
            for rid, name, is_lead in CALL_REASONS
        ]


def _telecom(g: GenState) -> Tables:
    return TelecomBuilder(g).build()


BUILDERS = streams_of(
    "telecom", _telecom, ("jbce_call_reasons", "telecom_calls", "crm_leads", "crm_bookings")
)
