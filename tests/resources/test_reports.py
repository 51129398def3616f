"""The reports client: the per-report limit of runs (unit, with a fake clock, and against
the sandbox counting the calls it saw), 429s waited out, typed tables, and the reports
file's own checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from st_resources.errors import RateLimitExceeded
from st_resources.report_specs import ReportConfigError, load_report_specs, resolve
from st_resources.reports import ReportRunLimiter, report_table
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_sandbox.server import SandboxServer

FROM_TO = {"From": "2000-01-01", "To": "2100-01-01"}
WINDOW = 1.5


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_limiter_allows_five_calls_per_window_and_then_waits() -> None:
    clock = FakeClock()
    limiter = ReportRunLimiter(5, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire("accounting/201")
        clock.now += 1.0  # each call answered a second later
        limiter.done("accounting/201")
    assert clock.slept == []
    limiter.acquire("operations/101")  # another report: not limited by the first
    limiter.done("operations/101")
    limiter.acquire("accounting/201")
    # The first call was answered at 101: the sixth waits until 161.
    assert clock.now == pytest.approx(161.0)
    limiter.done("accounting/201")
    limiter.hold("accounting/201", 100.0)
    with pytest.raises(RateLimitExceeded, match="deadline"):
        limiter.acquire("accounting/201", deadline=clock.now + 10)


def test_relative_dates_resolve_against_the_day_of_the_run() -> None:
    today = date(2026, 3, 10)
    assert resolve("today", today) == "2026-03-10"
    assert resolve("today-30d", today) == "2026-02-08"
    assert resolve("yesterday", today) == "2026-03-09"
    assert resolve("today+1w", today) == "2026-03-17"
    assert resolve("2024-01-01", today) == "2024-01-01"
    assert resolve(5, today) == 5


def test_a_report_table_is_typed_from_the_fields() -> None:
    loaded = datetime(2026, 1, 1, tzinfo=UTC)
    types = {"Id": "Number", "Name": "String", "On": "Date", "Ok": "Boolean", "At": "Time"}
    rows = [[1, "a", "2026-01-02T03:04:05.000000Z", True, "10:00"], [2.5, None, None, None, None]]
    table = report_table(list(types), types, rows, loaded)
    assert table.schema.field("Id").type == pa.float64()
    assert table.schema.field("On").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("Ok").type == pa.bool_()
    assert table.column("On")[0].as_py() == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert table.column("_loaded_at").to_pylist() == [loaded, loaded]
    empty = report_table(list(types), types, [], loaded)
    assert empty.num_rows == 0 and empty.schema == table.schema


@pytest.fixture
def limited(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    server = sandbox_factory(customers=60)
    answer = httpx.post(
        f"{server.base_url}/_sandbox/reports/limit",
        json={"runsPerWindow": 5, "windowSeconds": WINDOW},
    )
    assert answer.status_code == 200
    return server


def _calls(server: SandboxServer, key: str) -> list[dict[str, Any]]:
    stats = httpx.get(f"{server.base_url}/_sandbox/reports").json()
    return list(stats["calls"].get(key, []))


def _six_runs(backend: SessionBackend) -> list[int]:
    assert backend.reports is not None
    description = backend.reports.describe("accounting", 201)
    loaded = datetime.now(UTC)
    return [backend.reports.run(description, FROM_TO, loaded).throttled for _ in range(6)]


def test_six_runs_in_a_window_wait_and_make_at_most_five_calls_per_window(
    limited: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    with SessionBackend(settings_for(limited.base_url)) as backend:
        assert backend.reports is not None and backend.capabilities.reports
        backend.reports.limiter = ReportRunLimiter(5, WINDOW)
        throttled = _six_runs(backend)
    calls = _calls(limited, "accounting/201")
    assert throttled == [0] * 6
    assert [c["status"] for c in calls] == [200] * 6, calls
    times = [c["at"] for c in calls]
    # Any six consecutive calls the sandbox saw span more than its window.
    assert times[5] - times[0] >= WINDOW


def test_a_429_is_waited_out_and_retried(
    limited: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    # Our limiter allowing more than the tenant (another process ran the report): the
    # sixth call is refused, waited out for its Retry-After and made again.
    with SessionBackend(settings_for(limited.base_url)) as backend:
        assert backend.reports is not None
        backend.reports.limiter = ReportRunLimiter(100, WINDOW)
        throttled = _six_runs(backend)
        assert backend.metrics.snapshot().get("throttled", 0) >= 1
    assert sum(throttled) == 1
    statuses = [c["status"] for c in _calls(limited, "accounting/201")]
    assert statuses == [200] * 5 + [429, 200]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reports: [\n  - name: x\n    category: [", "not valid YAML"),
        ("reports: 3", "expected a list of reports"),
        ("reports:\n  - name: Bad Name\n    category: a\n    report_id: 1", "lower-case"),
        ("reports:\n  - name: r1\n    category: a", "report 'r1': report_id"),
        (
            "reports:\n  - name: r1\n    category: a\n    report_id: 1\n"
            "    parameters: {From: today-3x}",
            "not a relative date",
        ),
        (
            "reports:\n  - {name: r1, category: a, report_id: 1}\n"
            "  - {name: r1, category: a, report_id: 2}",
            "another report of the file has that name",
        ),
    ],
)
def test_a_bad_reports_file_names_the_file_and_the_report(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "reports.yaml"
    path.write_text(text)
    with pytest.raises(ReportConfigError) as caught:
        load_report_specs(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_the_example_file_loads() -> None:
    specs = load_report_specs(Path(__file__).resolve().parents[2] / "reports.example.yaml")
    assert [s.name for s in specs] == ["revenue_by_business_unit", "technician_productivity"]
    with pytest.raises(ReportConfigError, match="cannot read"):
        load_report_specs("/nonexistent/reports.yaml")
