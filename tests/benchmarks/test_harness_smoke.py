"""A small-scale run of the benchmark harness (``make bench`` at 150 customers, 15 days
of history and 20 write requests): it checks what the run counts and computes, never
how long it took."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks import scenarios  # noqa: F401  (registers the scenarios)
from benchmarks.floor import backfill_floor
from benchmarks.harness import PENDING, SCENARIOS, Settings, failure, markdown, run, table
from st_assets.defs.dbt.project import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e

SMALL = Settings(
    customers=150,
    rate_limit=500,
    latency_ms=1,
    latency_per_record_us=1,
    history_days=15,
    changes=(20, 60),
    writes=20,
    # The core entities and two modules: every read mode (exports, lists, unpaged) at a
    # third of the whole catalog's cost; `make bench` measures every stream.
    streams="core,payroll,telecom,dispatch",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("bench")
    return run(
        SMALL,
        ["backfill", "incremental", "dbt_build", "writeback_latency"],
        work,
        log=lambda _: None,
    )


def _rows(report: dict, scenario_prefix: str, tool: str) -> list[dict]:
    return [
        r for r in report["rows"] if r["scenario"].startswith(scenario_prefix) and r["tool"] == tool
    ]


def test_every_scenario_of_the_issue_is_registered_in_its_order() -> None:
    assert list(SCENARIOS) == [
        "backfill",
        "backfill_memory",
        "incremental",
        "dbt_build",
        "code_location",
        "writeback_latency",
    ]
    assert PENDING == {}


def test_backfill_lands_exactly_the_sandbox_records_and_its_floor_is_computed_from_them(
    report: dict,
) -> None:
    (ours,) = _rows(report, "1 full backfill", "ours")
    expected = report["sandbox_records"]
    assert ours["details"]["rows"] == expected
    assert ours["records"] == sum(expected.values()) > 3000
    assert ours["note"].startswith("rows = sandbox records; our CPU ")
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
    assert set(peer["details"]["stages"]) == {"extract", "normalize", "load"}
    # The tree's peak holds the main process's own.
    assert peer["peak_rss_mb"] >= peer["details"]["peak_rss_self_mb"] > 0


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


def test_dbt_build_passes_every_model_and_test_on_the_backfilled_warehouse(report: dict) -> None:
    (row,) = _rows(report, "3 dbt build", "ours")
    results = row["details"]["results"]
    models = list((DBT_PROJECT_DIR / "models").rglob("*.sql"))
    assert row["details"]["returncode"] == 0 and row["note"].startswith("passed: ")
    assert results["model"] == {"success": len(models)} and len(models) > 30
    assert set(results["test"]) == {"pass"} and results["test"]["pass"] > 100
    # The floor is DuckDB reading every raw view once: no API call is needed.
    scan = row["details"]["scan"]
    assert scan["views"] == len(report["sandbox_records"]) and scan["rows"] > 3000
    assert row["floor"]["bound_by"] == "DuckDB scan of raw" and row["floor"]["calls"] == 0
    assert row["calls"] == 0 and row["peak_rss_mb"] > 0


def test_every_write_request_succeeds_once_and_the_sandbox_holds_exactly_them(
    report: dict,
) -> None:
    (row,) = _rows(report, "5 write-back", "ours")
    details = row["details"]
    burst, single = details["burst"], details["single"]
    # A warm-up and the single requests go before the burst, all dispatched once.
    sent = 1 + single["count"] + SMALL.writes
    assert burst["statuses"] == {"succeeded": SMALL.writes}
    assert burst["audit_rows"] == burst["attempts"] == SMALL.writes
    assert details["warm_up"]["status"] == "succeeded" and single["statuses"] == ["succeeded"]
    assert details["writes_sent"] == details["dispatched_as_asked"] == sent
    assert 0 < single["p50"] <= single["p95"] <= single["max"]
    assert row["seconds"] == burst["seconds_to_empty"] > 0
    # Floor: one call per write at the rate limit, plus one answer.
    assert row["floor"]["calls"] == SMALL.writes
    assert row["floor"]["seconds"] == pytest.approx(
        SMALL.writes / SMALL.rate_limit + SMALL.latency.seconds(1)
    )
    assert row["calls"] >= sent and row["records"] == SMALL.writes


def test_report_is_json_and_markdown_with_the_settings(report: dict, tmp_path: Path) -> None:
    text = markdown(json.loads(json.dumps(report, default=str)), "python -m benchmarks.run", True)
    assert "| 1 full backfill | ours |" in text and "| 3 dbt build | ours |" in text
    assert "pending" not in text and "shared" in text
    assert "`DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true`" in text
    assert "| write-back requests | 20 dispatches" in text
    assert table(report).count("\n") == len(report["rows"]) + len(PENDING) + 1


def test_a_failed_workload_is_one_table_cell_naming_the_cause() -> None:
    assert "SIGKILL" in failure("dlt-backfill", -9, "")
    text = failure("x", 1, "Traceback\n  line\nValueError: a | b\n")
    assert text == "workload x exit 1: ValueError: a / b"
