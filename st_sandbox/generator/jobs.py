"""Jobs and their appointments (with technician assignments), booked into free slots of
the technicians' schedules; estimates, invoices and payments come from ``sales.py``.

About a million records at 100k customers come out of this loop, so the builders keep
the hot values in locals and share formatted strings and ``{id, name}`` references.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from st_sandbox import names
from st_sandbox.clock import US_PER_DAY, US_PER_HOUR, US_PER_MINUTE
from st_sandbox.generator.business.marketing import JOB_CAMPAIGN_IDS
from st_sandbox.generator.business.tags import decorate_core
from st_sandbox.generator.sales import SalesBuilder
from st_sandbox.generator.state import ADMIN_USER_ID, SLOTS, GenState, Record
from st_sandbox.money import cents_str

# An appointment's status -> its technicians' assignment status (else "Scheduled").
ASSIGNMENT_STATUS = {"Done": "Done", "Working": "Working", "Dispatched": "Dispatched"}
# A booked visit: (start µs, end µs, technicians).
Visit = tuple[int, int, list[int]]


@dataclass(slots=True)
class JobPlan:
    """What the builders of one job's records share: its customer, place, trade and times."""

    job_id: int
    cid: int
    loc: int
    bu: int
    trade: str
    jt_id: int
    jt_name: str
    created: int  # µs
    completed_on: int | None  # µs
    modified: int  # µs, the latest change of the job or its appointments


class JobsBuilder:
    """Builds every customer's jobs with their appointments, estimates, invoices and
    payments, in customer order."""

    def __init__(self, g: GenState) -> None:
        self.g = g
        # Prices and totals repeat a lot: format each once and share the strings.
        self.money = functools.lru_cache(maxsize=None)(cents_str)
        self.sales = SalesBuilder(g, self.money)
        self.bus_by_trade = {t: [b for b in g.bu_ids if g.bu_trade[b] == t] for t in names.TRADES}
        self.jobs: list[Record] = []
        self.appts: list[Record] = []
        self.asg_id = 0

    def build(self) -> None:
        """Every job of every customer, then the customers' open balances."""
        g = self.g
        rng = g.rng
        for cid in range(1, g.n_customers + 1):
            n_jobs = int(rng.expovariate(1 / 2.0))
            if n_jobs > 12:
                n_jobs = 12
            self.sales.start_customer()
            for _ in range(n_jobs):
                self.job(cid)
        g.tables["jobs"] = self.jobs
        g.tables["appointments"] = self.appts
        g.tables["estimates"] = self.sales.estimates
        g.tables["invoices"] = self.sales.invoices
        g.tables["payments"] = self.sales.payments
        customers = g.tables["customers"]
        for cid, bal in g.cust_balance.items():
            customers[cid - 1]["balance"] = self.money(bal)
        # Custom fields and tags (business/tags.py): the memberships are known by now.
        decorate_core(g)

    def job(self, cid: int) -> None:
        """One job of a customer, unless no technician of its business unit is free."""
        g = self.g
        rng = g.rng
        anchor = g.anchor_us
        trades = names.TRADES
        trade = trades[int(rng.random() ** 1.4 * len(trades))]
        bu = rng.choice(self.bus_by_trade[trade])
        jt_id, jt_name, _skill = rng.choice(g.job_types_by_trade[trade])
        loc = rng.choice(g.cust_locations[cid])
        created_c = g.cust_created[cid]
        # Most jobs are in the past; a few are booked for the next two weeks.
        if rng.random() < 0.03 and g.cust_active[cid]:
            day = anchor // US_PER_DAY + rng.randrange(0, 14)
        else:
            day = g.past_us(created_c) // US_PER_DAY
        n_appts = 1 if rng.random() < 0.8 else (2 if rng.random() < 0.8 else 3)
        visits = self.schedule(bu, day, n_appts)
        if not visits:
            return
        created = max(created_c, visits[0][0] - rng.randrange(1, 10) * US_PER_DAY)
        created = min(created, anchor - US_PER_HOUR)
        last_end = visits[-1][1]
        canceled = rng.random() < 0.04
        held = not canceled and rng.random() < 0.01
        completed = not canceled and not held and last_end + US_PER_HOUR < anchor
        statuses = appointment_statuses(visits, canceled, held, anchor)
        completed_on = None
        if completed:
            completed_on = min(last_end + rng.randrange(0, 45) * US_PER_MINUTE, anchor)
        plan = JobPlan(
            len(self.jobs) + 1,
            cid,
            loc,
            bu,
            trade,
            jt_id,
            jt_name,
            created,
            completed_on,
            completed_on or created,
        )
        records = self.appointments(plan, visits, statuses)
        self.appts += records
        # Estimates: about a third of jobs; sold ones drive the invoice's items.
        estimate_ids: list[int] = []
        sold_items: list[tuple[int, str, int, int, bool, str]] = []  # cents
        if rng.random() < 0.33:
            estimate_ids.append(self.sales.estimate(plan, records[0], sold_items))
        status = job_status(statuses, canceled, held, completed)
        job = self.job_record(plan, status, records, estimate_ids)
        self.jobs.append(job)
        # Invoices for most completed jobs (a few are still waiting to be billed).
        if not completed or rng.random() > 0.9 or completed_on is None:
            return
        self.sales.invoice(plan, job, sold_items)

    def schedule(self, bu: int, day: int, n_appts: int) -> list[Visit]:
        """Up to ``n_appts`` visits two days apart from ``day``, each in the first slot (of
        six days' tries) where one or two technicians of ``bu`` are free."""
        g = self.g
        rng = g.rng
        visits: list[Visit] = []
        for k in range(n_appts):
            found: tuple[int, list[int], int] | None = None
            for attempt in range(6):
                slot_techs = g.find_slot(bu, day + k * 2 + attempt, 1 + (rng.random() < 0.2))
                if slot_techs:
                    found = (slot_techs[0], slot_techs[1], day + k * 2 + attempt)
                    break
            if found is None:
                break
            slot, techs, aday = found
            start = aday * US_PER_DAY + SLOTS[slot][0] * US_PER_HOUR
            visits.append((start, start + SLOTS[slot][1] * US_PER_HOUR, techs))
        return visits

    def appointments(self, plan: JobPlan, visits: list[Visit], statuses: list[str]) -> list[Record]:
        """The job's appointment records; bumps ``plan.modified`` to the latest of them."""
        g = self.g
        rng = g.rng
        ts = g.ts
        anchor = g.anchor_us
        created = plan.created
        a_stamp_c = ts(created)
        records: list[Record] = []
        for k, ((start, end, techs), s) in enumerate(zip(visits, statuses, strict=True)):
            appt_id = len(self.appts) + len(records) + 1
            window_start = start - US_PER_HOUR
            arrived = None
            if s in ("Done", "Working"):
                arrived = start + int((rng.random() - 0.7) * 60) * US_PER_MINUTE
            a_modified = max(min(anchor, end if s == "Done" else created), created)
            a_stamp_m = ts(a_modified)
            records.append(
                {
                    "id": appt_id,
                    "jobId": plan.job_id,
                    "appointmentNumber": f"{plan.job_id}-{k + 1}",
                    "start": ts(start),
                    "end": ts(end),
                    "arrivalWindowStart": ts(window_start),
                    "arrivalWindowEnd": ts(window_start + 2 * US_PER_HOUR),
                    "status": s,
                    "specialInstructions": None,
                    "customerId": plan.cid,
                    "unused": False,
                    "isConfirmed": s != "Scheduled",
                    "active": True,
                    "arrivedOn": ts(arrived) if arrived else None,
                    "assignments": []
                    if s == "Canceled"
                    else self.assignments(plan.job_id, appt_id, techs, s, a_stamp_c, a_stamp_m),
                    "createdOn": a_stamp_c,
                    "createdById": ADMIN_USER_ID,
                    "modifiedOn": a_stamp_m,
                }
            )
            plan.modified = max(plan.modified, a_modified)
        return records

    def assignments(
        self, job_id: int, appt_id: int, techs: list[int], status: str, created: str, modified: str
    ) -> list[Record]:
        """The technicians' assignments to one appointment."""
        tech_names = self.g.tech_names
        asg_status = ASSIGNMENT_STATUS.get(status, "Scheduled")
        rows = []
        for t in techs:
            self.asg_id += 1
            rows.append(
                {
                    "id": self.asg_id,
                    "technicianId": t,
                    "technicianName": tech_names[t],
                    "assignedById": ADMIN_USER_ID,
                    "assignedOn": created,
                    "status": asg_status,
                    "isPaused": False,
                    "jobId": job_id,
                    "appointmentId": appt_id,
                    "active": True,
                    "createdOn": created,
                    "modifiedOn": modified,
                }
            )
        return rows

    def job_record(
        self, plan: JobPlan, status: str, appts: list[Record], estimate_ids: list[int]
    ) -> Record:
        """The job itself (draws its priority, then its campaign)."""
        g = self.g
        rng = g.rng
        ts = g.ts
        job_id = plan.job_id
        return {
            "id": job_id,
            "jobNumber": str(job_id),
            "customerId": plan.cid,
            "locationId": plan.loc,
            "jobStatus": status,
            "completedOn": ts(plan.completed_on) if plan.completed_on else None,
            "businessUnitId": plan.bu,
            "jobTypeId": plan.jt_id,
            "priority": "High" if rng.random() < 0.1 else "Normal",
            # A campaign of business/marketing.py, weighted by how much work it brings.
            "campaignId": rng.choice(JOB_CAMPAIGN_IDS),
            "appointmentCount": len(appts),
            "firstAppointmentId": appts[0]["id"],
            "lastAppointmentId": appts[-1]["id"],
            "membershipId": g.cust_membership.get(plan.cid, (None, None))[0],
            "invoiceId": None,
            "total": None,
            "createdFromEstimateId": None,
            "estimateIds": estimate_ids,
            "summary": f"{plan.jt_name} at {g.loc_name[plan.loc]}",
            "active": True,
            "createdOn": ts(plan.created),
            "createdById": ADMIN_USER_ID,
            "modifiedOn": ts(plan.modified),
        }


def appointment_statuses(visits: list[Visit], canceled: bool, held: bool, anchor: int) -> list[str]:
    """Each visit's status from the job's fate and where the visit lies against ``anchor``."""
    statuses: list[str] = []
    for start, end, _ in visits:
        if canceled:
            s = "Canceled"
        elif held:
            s = "Hold"
        elif end + US_PER_HOUR < anchor:
            s = "Done"
        elif start <= anchor:
            s = "Working"
        elif start - anchor < US_PER_DAY:
            s = "Dispatched"
        else:
            s = "Scheduled"
        statuses.append(s)
    return statuses


def job_status(statuses: list[str], canceled: bool, held: bool, completed: bool) -> str:
    """The job's status from its appointments'."""
    if canceled:
        return "Canceled"
    if held:
        return "Hold"
    if completed:
        return "Completed"
    if "Working" in statuses or "Done" in statuses:
        return "InProgress"
    if "Dispatched" in statuses:
        return "Dispatched"
    return "Scheduled"
