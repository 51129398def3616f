"""Payroll: activity and timesheet codes, a payroll per technician per two-week period,
a job timesheet per worked appointment assignment, the labour pay of each finished
timesheet (hours x the technician's rate) and the technicians' split of each completed
job. Together they give labour hours and cost per job.

Worked time is whole quarter hours and rates whole dollars, so every amount is an exact
number of cents: ``amount == paidDurationHours * hourlyRate`` holds to the cent.
"""

from __future__ import annotations

from decimal import Decimal

from st_sandbox.clock import US_PER_DAY, US_PER_MINUTE
from st_sandbox.generator.business.common import Tables, num, side_rng, stamp_us, streams_of
from st_sandbox.generator.state import GenState, Record

QUARTER = 15 * US_PER_MINUTE
PERIOD = 14 * US_PER_DAY
# (id, name, code, earning category, discretionary)
ACTIVITY_CODES: tuple[tuple[int, str, str, str, bool], ...] = (
    (1, "Job work", "JOB", "Timesheet", False),
    (2, "Drive time", "DRV", "Timesheet", False),
    (3, "Shop time", "SHOP", "Timesheet", False),
    (4, "Sales commission", "COMM", "Commission", False),
    (5, "Spiff", "SPIFF", "Commission", True),
    (6, "Tool reimbursement", "TOOL", "Reimbursement", False),
)
JOB_WORK = ACTIVITY_CODES[0]
# (id, code, description, type, rate source, custom rate, multiplier)
TIMESHEET_CODES: tuple[tuple[int, str, str, str, str, float | None, float], ...] = (
    (1, "REG", "Regular time", "Paid", "EmployeeHourlyRate", None, 1.0),
    (2, "OT", "Overtime", "Paid", "EmployeeHourlyRate", None, 1.5),
    (3, "LUNCH", "Unpaid lunch", "Unpaid", "EmployeeHourlyRate", None, 0.0),
    (4, "PTO", "Paid time off", "PaidTimeOff", "EmployeeHourlyRate", None, 1.0),
    (5, "TRAIN", "Training", "Paid", "CustomHourlyRate", 25.0, 1.0),
)


def _payroll(g: GenState) -> Tables:
    created = g.ts(g.start_us - 30 * US_PER_DAY)
    activity_codes = [
        {
            "id": aid,
            "name": name,
            "code": code,
            "earningCategory": category,
            "isDiscretionary": discretionary,
            "active": True,
            "createdOn": created,
            "modifiedOn": created,
        }
        for aid, name, code, category, discretionary in ACTIVITY_CODES
    ]
    timesheet_codes = [
        {
            "id": tid,
            "code": code,
            "description": description,
            "type": kind,
            "applicableEmployeeType": "Technician" if kind != "PaidTimeOff" else "All",
            "rateInfo": {
                "hourlyRate": source,
                "customHourlyRate": custom,
                "rateMultiplier": multiplier,
            },
            "active": True,
            "createdOn": created,
            "modifiedOn": created,
        }
        for tid, code, description, kind, source, custom, multiplier in TIMESHEET_CODES
    ]
    return {
        "payroll_activity_codes": activity_codes,
        "payroll_timesheet_codes": timesheet_codes,
        **PayrollBuilder(g).build(),
    }


class PayrollBuilder:
    """Payrolls, timesheets, pay items and splits from the core appointments."""

    def __init__(self, g: GenState) -> None:
        self.g = g
        self.rng = side_rng(g, "payroll")
        techs = g.tables["technicians"]
        self.n_techs = len(techs)
        # Rates are whole dollars (reference.py): cents per quarter hour is exact.
        self.rate_q = {t["id"]: int(Decimal(t["hourlyRate"]) * 100) // 4 for t in techs}
        bu_names = {b["id"]: b["name"] for b in g.tables["business_units"]}
        self.tech_bu = {t["id"]: bu_names[t["businessUnitId"]] for t in techs}
        self.tech_index = {t["id"]: i for i, t in enumerate(techs)}
        self.n_periods = (g.anchor_us - g.start_us) // PERIOD + 1

    def payroll_id(self, tech: int, us: int) -> int:
        """The payroll of ``tech`` for the period holding ``us``: ids run period by period."""
        period = max(0, (us - self.g.start_us) // PERIOD)
        return period * self.n_techs + self.tech_index[tech] + 1

    def payrolls(self) -> list[Record]:
        """Every technician's payroll of every period: paid a few days after it ends, the
        last ended one approved, the running one pending."""
        g = self.g
        ts = g.ts
        rows: list[Record] = []
        for p in range(self.n_periods):
            start = g.start_us + p * PERIOD
            end = start + PERIOD - US_PER_MINUTE
            if end + 5 * US_PER_DAY <= g.anchor_us:
                status, modified, approved = "Paid", end + 5 * US_PER_DAY, end + 2 * US_PER_DAY
            elif end + 2 * US_PER_DAY <= g.anchor_us:
                status, modified, approved = "Approved", end + 2 * US_PER_DAY, end + 2 * US_PER_DAY
            else:
                status, modified, approved = "Pending", start, None
            for tech in g.tables["technicians"]:
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "startedOn": ts(start),
                        "endedOn": ts(end),
                        "employeeId": tech["id"],
                        "employeeType": "Technician",
                        "status": status,
                        "burdenRate": None,
                        "managerApprovedOn": ts(approved) if approved else None,
                        "createdOn": ts(start),
                        "modifiedOn": ts(modified),
                        "active": True,
                    }
                )
        return rows

    def build(self) -> Tables:
        """Timesheets and pay items in appointment order, then splits and payrolls."""
        g = self.g
        rng = self.rng
        ts = g.ts
        anchor = g.anchor_us
        jobs = g.tables["jobs"]
        job_types = {jt["id"]: jt["name"] for jt in g.tables["job_types"]}
        customers = g.tables["customers"]
        loc_names = g.loc_name
        timesheets: list[Record] = []
        pay: list[Record] = []
        job_techs: dict[int, list[int]] = {}
        for appt in g.tables["appointments"]:
            status = appt["status"]
            if status != "Done" and status != "Working":
                continue
            start = stamp_us(g, appt["start"])
            arrived_s = appt["arrivedOn"]
            arrived = min(stamp_us(g, arrived_s) if arrived_s else start, anchor)
            dispatched = arrived - rng.randrange(1, 5) * QUARTER
            quarters = 0
            done = None
            if status == "Done":
                # One to three hours on site, never past the anchor.
                quarters = min(rng.randrange(4, 13), (anchor - arrived) // QUARTER)
                done = arrived + quarters * QUARTER
            job = jobs[appt["jobId"] - 1]
            techs = job_techs.setdefault(job["id"], [])
            for asg in appt["assignments"]:
                tech = asg["technicianId"]
                if tech not in techs:
                    techs.append(tech)
                ts_id = len(timesheets) + 1
                timesheets.append(
                    {
                        "id": ts_id,
                        "jobId": job["id"],
                        "appointmentId": appt["id"],
                        "technicianId": tech,
                        "dispatchedOn": ts(dispatched),
                        "arrivedOn": ts(arrived),
                        "canceledOn": None,
                        "doneOn": ts(done) if done else None,
                        "createdOn": ts(dispatched),
                        "modifiedOn": ts(done or arrived),
                        "active": True,
                    }
                )
                if done is None:
                    continue  # paid once the work is done
                cust = customers[job["customerId"] - 1]
                done_s = ts(done)
                pay.append(
                    {
                        "id": len(pay) + 1,
                        "employeeId": tech,
                        "employeeType": "Technician",
                        "businessUnitName": self.tech_bu[tech],
                        "payrollId": self.payroll_id(tech, done),
                        "date": ts(arrived),
                        "activity": JOB_WORK[1],
                        "activityCodeId": JOB_WORK[0],
                        "activityCode": JOB_WORK[2],
                        "amount": num(quarters * self.rate_q[tech]),
                        "amountAdjustment": 0.0,
                        "grossPayItemType": "TimesheetTime",
                        "startedOn": ts(arrived),
                        "endedOn": done_s,
                        "paidDurationHours": quarters / 4,
                        "paidTimeType": "Regular",
                        "sourceEntityId": ts_id,
                        "jobId": job["id"],
                        "jobNumber": job["jobNumber"],
                        "jobTypeName": job_types[job["jobTypeId"]],
                        "customerId": cust["id"],
                        "customerName": cust["name"],
                        "locationId": job["locationId"],
                        "locationName": loc_names[job["locationId"]],
                        "isPrevailingWageJob": False,
                        "memo": None,
                        "createdOn": done_s,
                        "modifiedOn": done_s,
                        "active": True,
                    }
                )
        return {
            "payroll_payrolls": self.payrolls(),
            "payroll_jobs_timesheets": timesheets,
            "payroll_gross_pay_items": pay,
            "payroll_jobs_splits": self.splits(jobs, job_techs),
        }

    def splits(self, jobs: list[Record], job_techs: dict[int, list[int]]) -> list[Record]:
        """Each completed job's credit shared equally among its technicians (percent, two
        decimals, the first technician takes the rounding so a job's splits sum to 100)."""
        rows: list[Record] = []
        for job_id, techs in job_techs.items():
            job = jobs[job_id - 1]
            done = job["completedOn"]
            if done is None:
                continue
            share = 10000 // len(techs)
            first = 10000 - share * (len(techs) - 1)
            for k, tech in enumerate(techs):
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "jobId": job_id,
                        "technicianId": tech,
                        "split": (first if k == 0 else share) / 100,
                        "createdOn": done,
                        "modifiedOn": done,
                        "active": True,
                    }
                )
        return rows


BUILDERS = streams_of(
    "payroll",
    _payroll,
    (
        "payroll_activity_codes",
        "payroll_timesheet_codes",
        "payroll_payrolls",
        "payroll_jobs_timesheets",
        "payroll_gross_pay_items",
        "payroll_jobs_splits",
    ),
)
