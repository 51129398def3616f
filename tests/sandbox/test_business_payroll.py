"""Payroll builders: timesheets per worked assignment, pay = hours x rate, payrolls and
splits consistent."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from tests.sandbox.business_support import by_id, tenant


def test_timesheets_follow_worked_assignments_in_order() -> None:
    t = tenant()
    appts, jobs = by_id(t["appointments"]), by_id(t["jobs"])
    sheets = t["payroll_jobs_timesheets"]
    assert sheets
    assert [s["id"] for s in sheets] == list(range(1, len(sheets) + 1))
    worked = {
        (a["id"], x["technicianId"])
        for a in t["appointments"]
        if a["status"] in ("Done", "Working")
        for x in a["assignments"]
    }
    assert {(s["appointmentId"], s["technicianId"]) for s in sheets} == worked
    for s in sheets:
        appt = appts[s["appointmentId"]]
        assert appt["jobId"] == s["jobId"] and s["jobId"] in jobs
        assert s["dispatchedOn"] <= s["arrivedOn"]
        if appt["status"] == "Done":
            assert s["arrivedOn"] < s["doneOn"] <= s["modifiedOn"]
        else:
            assert s["doneOn"] is None


def test_gross_pay_is_hours_times_the_technicians_rate() -> None:
    t = tenant()
    techs, sheets = by_id(t["technicians"]), by_id(t["payroll_jobs_timesheets"])
    payrolls = by_id(t["payroll_payrolls"])
    items = t["payroll_gross_pay_items"]
    assert len(items) == sum(1 for s in sheets.values() if s["doneOn"])
    for item in items:
        rate = Decimal(techs[item["employeeId"]]["hourlyRate"])
        hours = Decimal(str(item["paidDurationHours"]))
        assert Decimal(str(item["amount"])) == hours * rate
        sheet = sheets[item["sourceEntityId"]]
        assert (sheet["jobId"], sheet["technicianId"]) == (item["jobId"], item["employeeId"])
        assert item["endedOn"] == sheet["doneOn"]
        payroll = payrolls[item["payrollId"]]
        assert payroll["employeeId"] == item["employeeId"]
        assert payroll["startedOn"] <= item["endedOn"] <= payroll["endedOn"]


def test_splits_sum_to_a_hundred_per_completed_job() -> None:
    t = tenant()
    jobs = by_id(t["jobs"])
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for split in t["payroll_jobs_splits"]:
        assert jobs[split["jobId"]]["completedOn"] is not None
        totals[split["jobId"]] += Decimal(str(split["split"]))
    assert totals and set(totals.values()) == {Decimal(100)}
