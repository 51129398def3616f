"""Custom reports of the Reporting API, run through either backend's ``Transport``.

One implementation for both backends, only the URLs differ (``ReportPaths``): the
official ``/reporting/v2/tenant/{tenant}/report-category/{category}/reports/{id}`` (and
``/data``) or the session API's ``/reports/{category}/{id}``. A run reads the report's
description (its parameters and typed fields), checks the parameters against it, then
pages through ``POST .../data`` and gives the rows as an Arrow table typed from the
fields (``Number`` → double, ``Date`` → timestamp UTC, ``Boolean``, ``String``; ``Time``
and anything else as text) plus ``_loaded_at``.

ServiceTitan allows 5 calls to the same report's data a minute. ``ReportRunLimiter``
keeps us under it per report (a sliding window over the times our calls were answered,
so the tenant's window, which starts later, always agrees); a 429 all the same (another
process ran the report) is waited out for its ``Retry-After`` and the call made again,
as long as the run's deadline allows. Those 429s go around the transport's shared
limiter (``Call.own_limit``): a report's limit says nothing about the tenant's rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from st_resources.errors import RateLimitExceeded, TransientError
from st_resources.transport import Call, Transport, retry_after

RUNS_PER_WINDOW = 5
WINDOW_SECONDS = 60.0
# The largest page the official data endpoint serves: a page is a run against the limit.
DATA_PAGE_SIZE = 25_000
REPORTING_PREFIX = "/reporting/v2"
LOADED_AT = "_loaded_at"
ARROW_TYPES: dict[str, pa.DataType] = {
    "Number": pa.float64(),
    "Date": pa.timestamp("us", tz="UTC"),
    "Boolean": pa.bool_(),
    "String": pa.string(),
    "Time": pa.string(),
}


@dataclass(frozen=True)
class ReportPaths:
    """Where a backend's reports are: the description's path and the data's, each with
    ``{category}`` and ``{report_id}``."""

    description: str
    data: str

    def of(self, category: str, report_id: int) -> tuple[str, str]:
        """The description's and the data's paths of one report."""
        values = {"category": category, "report_id": report_id}
        return self.description.format(**values), self.data.format(**values)


SESSION_REPORT_PATHS = ReportPaths(
    "/reports/{category}/{report_id}", "/reports/{category}/{report_id}/data"
)


def v2_report_paths(tenant_id: int) -> ReportPaths:
    """The official Reporting API's paths for a tenant."""
    base = (
        f"{REPORTING_PREFIX}/tenant/{tenant_id}/report-category/{{category}}/reports/{{report_id}}"
    )
    return ReportPaths(base, f"{base}/data")


@dataclass(frozen=True)
class ReportParameter:
    name: str
    data_type: str
    required: bool
    is_array: bool = False


@dataclass(frozen=True)
class ReportDescription:
    """What a report takes and answers (``Reporting.V2.ReportResponse``)."""

    category: str
    id: int
    name: str
    parameters: tuple[ReportParameter, ...]
    fields: dict[str, str]  # name -> dataType, in the report's order

    @classmethod
    def from_json(cls, category: str, body: Mapping[str, Any]) -> ReportDescription:
        return cls(
            category=category,
            id=int(body["id"]),
            name=str(body.get("name") or body["id"]),
            parameters=tuple(
                ReportParameter(
                    str(p["name"]),
                    str(p.get("dataType") or "String"),
                    bool(p.get("isRequired")),
                    bool(p.get("isArray")),
                )
                for p in body.get("parameters") or []
            ),
            fields={str(f["name"]): str(f.get("dataType") or "String") for f in body["fields"]},
        )

    def parameter_problems(self, values: Mapping[str, Any]) -> list[str]:
        """Every way ``values`` do not fit the report's parameters (names, types, the
        required ones); empty when they fit."""
        known = {p.name: p for p in self.parameters}
        problems = []
        for name, value in values.items():
            parameter = known.get(name)
            if parameter is None:
                takes = ", ".join(known) or "no parameters"
                problems.append(f"the report has no parameter {name!r} (it takes {takes})")
                continue
            wrong = _type_problem(parameter, value)
            if wrong:
                problems.append(wrong)
        for parameter in self.parameters:
            if parameter.required and values.get(parameter.name) is None:
                problems.append(f"the parameter {parameter.name!r} is required")
        return problems


def _type_problem(parameter: ReportParameter, value: Any) -> str | None:
    if value is None:
        return None
    kind = parameter.data_type
    if parameter.is_array:
        return None if isinstance(value, list) else f"{parameter.name} takes a list of {kind}"
    fits = {
        "Number": isinstance(value, int | float) and not isinstance(value, bool),
        "Boolean": isinstance(value, bool),
        "Date": isinstance(value, str) and _is_date(value),
    }.get(kind, isinstance(value, str))
    return None if fits else f"{parameter.name} takes a {kind}, not {value!r}"


def _is_date(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@dataclass
class ReportRun:
    """A report's rows as an Arrow table, and what the run took."""

    description: ReportDescription
    table: pa.Table
    pages: int
    calls: int
    throttled: int
    waited_seconds: float


class ReportRunLimiter:
    """At most ``runs`` calls to one report's data per ``window`` seconds (a sliding window
    per report key); thread-safe; ``clock`` and ``sleep`` injectable for tests.

    A call holds its slot from when it is sent to when it is answered, and the slot then
    counts from the answer: the tenant saw the call in between, so its window always
    begins before ours ends."""

    def __init__(
        self,
        runs: int = RUNS_PER_WINDOW,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.runs = runs
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.slots: dict[str, deque[float]] = {}
        self.held: dict[str, float] = {}

    def _wait(self, key: str, now: float) -> float:
        slots = self.slots.setdefault(key, deque())
        while slots and slots[0] <= now - self.window:
            slots.popleft()
        wait = self.held.get(key, 0.0) - now
        if len(slots) >= self.runs:
            wait = max(wait, slots[0] + self.window - now)
        return max(wait, 0.0)

    def acquire(self, key: str, deadline: float = float("inf")) -> float:
        """Wait for a slot of ``key`` (returns the seconds waited); a
        ``RateLimitExceeded`` when the wait would pass ``deadline`` (``clock`` time)."""
        waited = 0.0
        while True:
            with self.lock:
                now = self.clock()
                wait = self._wait(key, now)
                if wait <= 0:
                    # In flight: counts as sent now until ``done`` moves it to its answer.
                    self.slots[key].append(float("inf"))
                    return waited
            if wait == float("inf"):
                # Every slot is in flight (runs of one report in several threads).
                self.sleep(0.05)
                waited += 0.05
                continue
            if now + wait > deadline:
                raise RateLimitExceeded(
                    f"report {key}: the next run is allowed in {wait:.1f} s, past the run's "
                    f"deadline ({self.runs} runs of a report per {self.window:g} s)",
                    code="report_rate_limited",
                )
            self.sleep(wait)
            waited += wait

    def done(self, key: str) -> None:
        """The call of ``key`` in flight was answered: its slot counts from now."""
        with self.lock:
            slots = self.slots[key]
            slots.remove(float("inf"))
            slots.append(self.clock())
            # Answered slots in order (an in-flight one sorts last).
            self.slots[key] = deque(sorted(slots))

    def hold(self, key: str, seconds: float) -> None:
        """The tenant said 429 with ``Retry-After``: no call of ``key`` for ``seconds``."""
        with self.lock:
            self.held[key] = max(self.held.get(key, 0.0), self.clock() + seconds)


class ReportsClient:
    """Runs reports through a backend's ``Transport`` at its ``ReportPaths``."""

    def __init__(
        self,
        transport: Transport,
        paths: ReportPaths,
        limiter: ReportRunLimiter | None = None,
        page_size: int = DATA_PAGE_SIZE,
    ) -> None:
        self.transport = transport
        self.paths = paths
        self.limiter = limiter or ReportRunLimiter()
        self.page_size = page_size

    def describe(self, category: str, report_id: int) -> ReportDescription:
        """The report's description; ``NotFoundError`` for an unknown category or report."""
        path, _ = self.paths.of(category, report_id)
        return ReportDescription.from_json(category, self.transport.get_json(path))

    def run(
        self,
        description: ReportDescription,
        parameters: Mapping[str, Any],
        loaded_at: datetime,
        *,
        deadline: float = float("inf"),
    ) -> ReportRun:
        """Every row of the report for ``parameters`` (checked by the caller with
        ``description.parameter_problems``), paging until the last; ``deadline`` is the
        limiter's clock time the run may wait until."""
        _, path = self.paths.of(description.category, description.id)
        body = {"parameters": [{"name": k, "value": v} for k, v in parameters.items()]}
        key = f"{description.category}/{description.id}"
        run = ReportRun(description, pa.table({}), 0, 0, 0, 0.0)
        rows: list[list[Any]] = []
        names: list[str] = list(description.fields)
        page = 1
        while True:
            answer = self._page(key, path, body, page, deadline, run)
            names = [str(f["name"]) for f in answer.get("fields") or []] or names
            rows += answer["data"]
            run.pages += 1
            if not answer.get("hasMore") or not answer["data"]:
                break
            page += 1
        run.table = report_table(names, description.fields, rows, loaded_at)
        return run

    def _page(
        self,
        key: str,
        path: str,
        body: dict[str, Any],
        page: int,
        deadline: float,
        run: ReportRun,
    ) -> dict[str, Any]:
        """One page of data, within the report's limit; a 429 is waited out and a
        transient failure retried (each attempt takes its slot of the limit)."""
        failures = 0
        params = {"page": page, "pageSize": self.page_size, "includeTotal": "true"}
        while True:
            run.waited_seconds += self.limiter.acquire(key, deadline)
            run.calls += 1
            try:
                response = self.transport.request(
                    Call("POST", path, params=params, json_body=body, own_limit=True)
                )
            except TransientError:
                failures += 1
                if failures >= self.transport.settings.max_attempts:
                    raise
                continue
            finally:
                self.limiter.done(key)
            if response.status_code == 429:
                run.throttled += 1
                self.limiter.hold(key, retry_after(response) or self.limiter.window)
                continue
            answer: dict[str, Any] = response.json()
            return answer


def _timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _number(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


CONVERT: dict[str, Callable[[Any], Any]] = {
    "Number": _number,
    "Date": _timestamp,
    "Boolean": _boolean,
}


def report_schema(names: list[str], types: Mapping[str, str]) -> pa.Schema:
    """The Arrow schema of a report's columns (typed from its fields) and ``_loaded_at``."""
    return pa.schema(
        [pa.field(n, ARROW_TYPES.get(types.get(n, "String"), pa.string())) for n in names]
        + [pa.field(LOADED_AT, pa.timestamp("us", tz="UTC"), nullable=False)]
    )


def report_table(
    names: list[str], types: Mapping[str, str], rows: list[list[Any]], loaded_at: datetime
) -> pa.Table:
    """Rows of a report as an Arrow table typed from its fields, plus ``_loaded_at``."""
    schema = report_schema(names, types)
    columns = []
    for i, name in enumerate(names):
        convert = CONVERT.get(types.get(name, "String"), _text)
        try:
            values = [convert(row[i]) for row in rows]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column {name} ({types.get(name)}): {exc}") from None
        columns.append(pa.array(values, type=schema.field(name).type))
    columns.append(pa.array([loaded_at] * len(rows), type=schema.field(LOADED_AT).type))
    return pa.Table.from_arrays(columns, schema=schema)
