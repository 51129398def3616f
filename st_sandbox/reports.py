"""The sandbox tenant's custom reports (the Reporting API): categories, reports with their
parameters and fields, each computed from the tenant's state when it runs, and the limit
of runs of the same report per window (ServiceTitan's: 5 a minute).

Nothing here knows about HTTP: ``st_sandbox/v2/reporting.py`` serves the reports on the
official paths (``/reporting/v2/tenant/{tenant}/...``) and on the session API
(``/reports/...``, docs/api.md "Reports").
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from st_sandbox.clock import to_us, to_us_from_ts
from st_sandbox.errors import ApiError

if TYPE_CHECKING:  # the generator reads CATEGORIES, and the store imports the generator
    from st_sandbox.store import TenantStore

RUNS_PER_WINDOW = 5
WINDOW_SECONDS = 60.0
REPORTS_MODIFIED_ON = "2024-01-01T00:00:00Z"
CATEGORIES = {"operations": "Operations", "marketing": "Marketing", "accounting": "Accounting"}
Rows = list[list[Any]]


@dataclass(frozen=True)
class Parameter:
    """An input of a report (``Reporting.V2.ReportParameter``)."""

    name: str
    label: str
    data_type: str  # String, Number, Boolean, Date, Time
    required: bool = False

    def describe(self) -> dict[str, Any]:
        """The parameter as the report's description gives it."""
        return {
            "name": self.name,
            "label": self.label,
            "dataType": self.data_type,
            "isArray": False,
            "isRequired": self.required,
            "acceptValues": None,
        }


@dataclass(frozen=True)
class Field:
    """A column of a report (``Reporting.V2.ReportField``)."""

    name: str
    label: str
    data_type: str


@dataclass(frozen=True)
class Report:
    """One report: where it is, what it takes, what it answers and how it is computed
    (``compute(store, values)`` gives its rows in a stable order)."""

    category: str
    id: int
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    fields: tuple[Field, ...]
    compute: Callable[[TenantStore, dict[str, Any]], Rows]

    @property
    def key(self) -> str:
        """``<category>/<id>``: what the run limit and the counters are kept per."""
        return f"{self.category}/{self.id}"

    def describe(self) -> dict[str, Any]:
        """``Reporting.V2.ReportResponse``."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "modifiedOn": REPORTS_MODIFIED_ON,
            "parameters": [p.describe() for p in self.parameters],
            "fields": [
                {"name": f.name, "label": f.label, "dataType": f.data_type} for f in self.fields
            ],
        }

    def values(self, given: Iterable[Any]) -> dict[str, Any]:
        """The parameter values of a run's body, checked: a 400 names an unknown
        parameter, a missing required one or a value of the wrong type."""
        known = {p.name.lower(): p for p in self.parameters}
        values: dict[str, Any] = {}
        for item in given:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise _bad("parameters must be a list of {name, value}")
            parameter = known.get(item["name"].lower())
            if parameter is None:
                raise _bad(
                    f"report {self.id} has no parameter {item['name']!r}; it takes "
                    + ", ".join(p.name for p in self.parameters),
                    item["name"],
                )
            values[parameter.name] = _typed(parameter, item.get("value"))
        for parameter in self.parameters:
            if parameter.required and values.get(parameter.name) is None:
                raise _bad(f"the parameter {parameter.name} is required", parameter.name)
        return values


def _bad(message: str, where: str = "parameters") -> ApiError:
    return ApiError(
        400, "validation_error", message, {"errors": [{"loc": [where], "msg": message}]}
    )


def _typed(parameter: Parameter, value: Any) -> Any:
    """A parameter's value as its type says, or a 400."""
    if value is None:
        return None
    kind = parameter.data_type
    wrong = f"{parameter.name} takes a {kind}, not {value!r}"
    if kind == "Date":
        if not isinstance(value, str):
            raise _bad(wrong, parameter.name)
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            raise _bad(wrong, parameter.name) from None
    if kind == "Number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(wrong, parameter.name)
        return value
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise _bad(wrong, parameter.name)
        return value
    if not isinstance(value, str):
        raise _bad(wrong, parameter.name)
    return value


# --- what the reports compute -------------------------------------------------------------


def day_range(values: dict[str, Any]) -> tuple[int, int]:
    """Epoch µs of ``[From, To + 1 day)``: both dates are whole days, ``To`` included."""
    start: date = values.get("From") or date(1970, 1, 1)
    end: date = values.get("To") or date(9999, 12, 30)
    low = to_us(datetime(start.year, start.month, start.day, tzinfo=UTC))
    high = to_us(datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1))
    return low, high


def _within(stamp: str | None, bounds: tuple[int, int]) -> bool:
    return stamp is not None and bounds[0] <= to_us_from_ts(stamp) < bounds[1]


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def revenue_by_business_unit(store: TenantStore, values: dict[str, Any]) -> Rows:
    """Invoices dated in [From, To] per business unit: count, revenue, open balance."""
    bounds = day_range(values)
    only = values.get("BusinessUnitId")
    units = store.tables["business_units"].records
    totals: dict[int, list[Any]] = {}
    for invoice in store.tables["invoices"].records.values():
        unit = invoice["businessUnit"]["id"]
        if not invoice["active"] or not _within(invoice["invoiceDate"], bounds):
            continue
        if only is not None and unit != only:
            continue
        row = totals.setdefault(unit, [0, Decimal(0), Decimal(0)])
        row[0] += 1
        row[1] += Decimal(invoice["total"])
        row[2] += Decimal(invoice["balance"])
    return [
        [unit, units[unit]["name"] if unit in units else None, n, _money(rev), _money(bal)]
        for unit, (n, rev, bal) in sorted(totals.items())
    ]


def technician_productivity(store: TenantStore, values: dict[str, Any]) -> Rows:
    """Appointments starting in [From, To] per assigned technician: appointments, jobs
    completed, hours booked, and when the last one started."""
    bounds = day_range(values)
    only = values.get("BusinessUnitId")
    jobs = store.tables["jobs"].records
    technicians = store.tables["technicians"].records
    per: dict[int, dict[str, Any]] = {}
    for appointment in store.tables["appointments"].records.values():
        if not appointment["active"] or not _within(appointment["start"], bounds):
            continue
        job = jobs.get(appointment["jobId"])
        if only is not None and (job is None or job["businessUnitId"] != only):
            continue
        start, end = to_us_from_ts(appointment["start"]), to_us_from_ts(appointment["end"])
        for assignment in appointment["assignments"]:
            if not assignment["active"]:
                continue
            tech = per.setdefault(
                assignment["technicianId"], {"n": 0, "jobs": set(), "us": 0, "last": 0}
            )
            tech["n"] += 1
            tech["us"] += end - start
            tech["last"] = max(tech["last"], start)
            if job is not None and job["jobStatus"] == "Completed":
                tech["jobs"].add(job["id"])
    return [
        [
            tid,
            technicians[tid]["name"] if tid in technicians else None,
            t["n"],
            len(t["jobs"]),
            round(t["us"] / 3_600_000_000, 2),
            store.stamp(t["last"]),
        ]
        for tid, t in sorted(per.items())
    ]


def jobs_by_job_type(store: TenantStore, values: dict[str, Any]) -> Rows:
    """Jobs created in [From, To] per job type: jobs, completed, their total, whether the
    type is active, and the first job's creation."""
    bounds = day_range(values)
    only = values.get("BusinessUnitId")
    types = store.tables["job_types"].records
    per: dict[int, list[Any]] = {}
    for job in store.tables["jobs"].records.values():
        if not job["active"] or not _within(job["createdOn"], bounds):
            continue
        if only is not None and job["businessUnitId"] != only:
            continue
        row = per.setdefault(job["jobTypeId"], [0, 0, Decimal(0), None])
        row[0] += 1
        row[1] += job["jobStatus"] == "Completed"
        row[2] += Decimal(job["total"] or 0)
        created = to_us_from_ts(job["createdOn"])
        row[3] = created if row[3] is None else min(row[3], created)
    return [
        [
            tid,
            types[tid]["name"] if tid in types else None,
            n,
            done,
            _money(total),
            bool(types[tid]["active"]) if tid in types else None,
            store.stamp(first),
        ]
        for tid, (n, done, total, first) in sorted(per.items())
    ]


def jobs_by_campaign(store: TenantStore, values: dict[str, Any]) -> Rows:
    """Jobs created in [From, To] per campaign (none: no campaign): jobs and their total."""
    bounds = day_range(values)
    per: dict[int | None, list[Any]] = {}
    for job in store.tables["jobs"].records.values():
        if not job["active"] or not _within(job["createdOn"], bounds):
            continue
        row = per.setdefault(job["campaignId"], [0, Decimal(0)])
        row[0] += 1
        row[1] += Decimal(job["total"] or 0)
    return [
        [cid, n, _money(total)]
        for cid, (n, total) in sorted(per.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    ]


DATES = (
    Parameter("From", "From date", "Date", required=True),
    Parameter("To", "To date", "Date", required=True),
)
BUSINESS_UNIT = Parameter("BusinessUnitId", "Business unit", "Number")
REPORTS: tuple[Report, ...] = (
    Report(
        "accounting",
        201,
        "Revenue by business unit",
        "Invoices dated between From and To (both included) per business unit.",
        (*DATES, BUSINESS_UNIT),
        (
            Field("BusinessUnitId", "Business unit ID", "Number"),
            Field("BusinessUnitName", "Business unit", "String"),
            Field("Invoices", "Invoices", "Number"),
            Field("Revenue", "Revenue", "Number"),
            Field("OpenBalance", "Open balance", "Number"),
        ),
        revenue_by_business_unit,
    ),
    Report(
        "operations",
        101,
        "Technician productivity",
        "Appointments starting between From and To per assigned technician.",
        (*DATES, BUSINESS_UNIT),
        (
            Field("TechnicianId", "Technician ID", "Number"),
            Field("TechnicianName", "Technician", "String"),
            Field("Appointments", "Appointments", "Number"),
            Field("CompletedJobs", "Completed jobs", "Number"),
            Field("HoursBooked", "Hours booked", "Number"),
            Field("LastAppointmentStart", "Last appointment", "Date"),
        ),
        technician_productivity,
    ),
    Report(
        "operations",
        102,
        "Jobs by job type",
        "Jobs created between From and To per job type.",
        (*DATES, BUSINESS_UNIT),
        (
            Field("JobTypeId", "Job type ID", "Number"),
            Field("JobTypeName", "Job type", "String"),
            Field("Jobs", "Jobs", "Number"),
            Field("CompletedJobs", "Completed jobs", "Number"),
            Field("JobsTotal", "Jobs total", "Number"),
            Field("JobTypeActive", "Job type active", "Boolean"),
            Field("FirstJobCreatedOn", "First job created", "Date"),
        ),
        jobs_by_job_type,
    ),
    Report(
        "marketing",
        301,
        "Jobs by campaign",
        "Jobs created between From and To per campaign.",
        DATES,
        (
            Field("CampaignId", "Campaign ID", "Number"),
            Field("Jobs", "Jobs", "Number"),
            Field("JobsTotal", "Jobs total", "Number"),
        ),
        jobs_by_campaign,
    ),
)


def category_records() -> list[dict[str, Any]]:
    """The report categories in the official item shape (``{id, name}``): what the
    Reporting API lists, and the ``reporting_report_categories`` stream's records."""
    return [{"id": cid, "name": name} for cid, name in CATEGORIES.items()]


def find_category(category: str) -> list[Report]:
    """The reports of a category, or a 404."""
    if category not in CATEGORIES:
        raise ApiError(
            404,
            "not_found",
            f"there is no report category {category!r}; categories: {', '.join(CATEGORIES)}",
        )
    return [r for r in REPORTS if r.category == category]


def find_report(category: str, report_id: int) -> Report:
    """One report of a category, or a 404."""
    for report in find_category(category):
        if report.id == report_id:
            return report
    raise ApiError(404, "not_found", f"category {category!r} has no report {report_id}")


# --- the limit of runs of one report ------------------------------------------------------


@dataclass
class ReportRunLimiter:
    """At most ``runs`` calls to a report's data per ``window`` seconds (a sliding window),
    per caller (app and tenant, or the session API's tenant) and report; the next one is a
    429 whose ``Retry-After`` says when the oldest call leaves the window. Every call is
    counted per report, refused or not (``GET /_sandbox/reports``)."""

    runs: int = RUNS_PER_WINDOW
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, deque[float]] = field(default_factory=dict)
    calls: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def check(self, caller: str, report: Report) -> None:
        """Count a call to ``report``'s data by ``caller``; a 429 when over the limit."""
        with self.lock:
            now = self.clock()
            seen = self.accepted.setdefault(f"{caller}:{report.key}", deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            log = self.calls.setdefault(report.key, [])
            if len(seen) >= self.runs:
                wait = seen[0] + self.window - now
                log.append((now - self.started, 429))
                raise ApiError(
                    429,
                    "rate_limited",
                    f"report {report.id} ({report.name}) was run {self.runs} times in the "
                    f"last {self.window:g} s; retry after {wait:.3f} s",
                    {"limit": self.runs, "windowSeconds": self.window},
                    headers={"Retry-After": f"{wait:.3f}"},
                )
            seen.append(now)
            log.append((now - self.started, 200))

    def configure(self, runs: int, window: float) -> None:
        """A new limit (tests shorten the window); forgets the calls so far."""
        with self.lock:
            self.runs, self.window = runs, window
            self.accepted.clear()
            self.calls.clear()
            self.started = self.clock()

    def stats(self) -> dict[str, Any]:
        """The limit and every call seen per report (seconds since the limit was set)."""
        with self.lock:
            return {
                "runsPerWindow": self.runs,
                "windowSeconds": self.window,
                "calls": {
                    key: [{"at": round(at, 4), "status": status} for at, status in calls]
                    for key, calls in self.calls.items()
                },
            }


def run_page(
    store: TenantStore, report: Report, values: dict[str, Any], page: int, page_size: int
) -> dict[str, Any]:
    """One page of a report's rows (``Reporting.V2.ReportDataResponse``)."""
    with store.lock:
        rows = report.compute(store, values)
    first = (page - 1) * page_size
    return {
        "page": page,
        "pageSize": page_size,
        "hasMore": first + page_size < len(rows),
        "totalCount": len(rows),
        "data": rows[first : first + page_size],
        "fields": [{"name": f.name, "label": f.label} for f in report.fields],
    }
