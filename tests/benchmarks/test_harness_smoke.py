"""A small-scale run of the benchmark harness (``make bench`` at 300 customers and 15
days of history): it checks what the run counts and computes, never how long it took."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks import scenarios  # noqa: F401  (registers the scenarios)
from benchmarks.floor import backfill_floor
from benchmarks.harness import PENDING, SCENARIOS, Settings, failure, markdown, run, table

SMALL = Settings(
    customers=300,
    rate_limit=500,
    latency_ms=1,
    latency_per_record_us=1,
    history_days=15,
    changes=(20, 60),
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("bench")
    return run(SMALL, ["backfill", "incremental"], work, log=lambda _: None)


def _rows(report: dict, scenario_prefix: str, tool: str) -> list[dict]:
    return [
        r for r in report["rows"] if r["scenario"].startswith(scenario_prefix) and r["tool"] == tool
    ]


def test_every_scenario_of_the_issue_is_registered_or_pending() -> None:
    assert list(SCENARIOS)[:2] == ["backfill", "backfill_memory"]
    assert {"incremental", "code_location"} <= set(SCENARIOS)
    assert set(PENDING) == {"dbt_build", "writeback_latency"}


def test_backfill_lands_exactly_the_sandbox_records_and_its_floor_is_computed_from_them(
    report: dict,
) -> None:
    (ours,) = _rows(report, "1 full backfill", "ours")
    expected = report["sandbox_records"]
    assert ours["details"]["rows"] == expected
    assert ours["records"] == sum(expected.values()) > 3000
    assert ours["note"] == "rows = sandbox records"
    floor = backfill_floor(expected, SMALL.page_size, SMALL.rate_limit, SMALL.latency)
    assert ours["floor"]["calls"] == floor.calls
    assert ours["floor"]["seconds"] == pytest.approx(floor.seconds)
    assert ours["floor_ratio"] == pytest.approx(ours["seconds"] / floor.seconds)
    # The sandbox counted the calls: never fewer than the floor's minimum.
    assert ours["calls"] >= floor.calls
    assert ours["peak_rss_mb"] > 0


@pytest.mark.skipif(
    importlib.util.find_spec("dlt") is None, reason="dlt: pip install -e '.[bench]'"
)
def test_the_dlt_peer_loads_the_same_records_and_is_compared(report: dict) -> None:
    (peer,) = _rows(report, "1 full backfill", "dlt (peer)")
    assert peer["details"]["rows"] == report["sandbox_records"]
    assert peer["calls"] >= peer["floor"]["calls"]
    assert peer["details"]["time_ratio"] > 0 and peer["details"]["memory_ratio"] > 0


def test_incremental_runs_fetch_at_least_the_changed_records_and_count_the_feed(
    report: dict,
) -> None:
    rows = _rows(report, "2 incremental", "ours")
    assert [r["scenario"] for r in rows] == ["2 incremental, N=20", "2 incremental, N=60"]
    for row in rows:
        changed = sum(row["details"]["changed"].values())
        assert row["details"]["events"] >= changed > 0
        assert row["records"] >= changed
        assert row["calls"] >= row["floor"]["calls"]


def test_report_is_json_and_markdown_with_pending_scenarios(report: dict, tmp_path: Path) -> None:
    text = markdown(json.loads(json.dumps(report, default=str)), "python -m benchmarks.run", True)
    assert "| 1 full backfill | ours |" in text
    assert "| dbt_build | – | pending |" in text and "shared" in text
    assert table(report).count("\n") == len(report["rows"]) + len(PENDING) + 1


def test_a_failed_workload_is_one_table_cell_naming_the_cause() -> None:
    assert "SIGKILL" in failure("dlt-backfill", -9, "")
    text = failure("x", 1, "Traceback\n  line\nValueError: a | b\n")
    assert text == "workload x exit 1: ValueError: a / b"
