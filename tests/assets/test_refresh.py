"""Monthly partitions and their refresh: a refresh re-lands only the days asked for, with
API calls that follow them; a bad day is refused before anything is read; the schedule
asks for the right partitions at the turn of a month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest

from st_assets.defs.ingest.refresh import CHANGING_OP
from st_assets.defs.ingest.schedules import recent_partitions
from st_contract.entities import ENTITIES_BY_NAME
from st_resources.arrow import records_to_table
from st_resources.warehouse import WarehouseResource
from st_sandbox.server import SandboxServer
from tests.assets.test_assets import _defs, _run
from tests.helpers import landed_at, month_key, refresh_config, this_month, today_utc

pytestmark = pytest.mark.e2e

JOBS = dg.AssetKey(["servicetitan", "jobs"])


def _calls(server: SandboxServer) -> int:
    stats = httpx.get(f"{server.base_url}/_sandbox/stats").json()
    return sum(n for key, n in stats["requests"].items() if key.startswith("GET jobs"))


def test_a_refresh_relands_only_its_days_and_keeps_the_rest_of_the_month(
    sandbox: SandboxServer, warehouse_dir: Path
) -> None:
    first = f"{today_utc():%Y-%m}-01"
    defs = _defs(sandbox.base_url, warehouse_dir, first)
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    days = [date.fromisoformat(first) + timedelta(days=i) for i in range(today_utc().day)]
    with dg.instance_for_test() as instance:
        before_calls = _calls(sandbox)
        _run(defs, "servicetitan_changing", instance, first)
        month_calls = _calls(sandbox) - before_calls
        whole = {day: landed_at(warehouse, "jobs", day) for day in days}
        assert all(whole.values())
        before_calls = _calls(sandbox)
        _run(defs, "servicetitan_changing", instance, None, today_utc())
        refresh_calls = _calls(sandbox) - before_calls
        after = {day: landed_at(warehouse, "jobs", day) for day in days}
        assert instance.get_materialized_partitions(JOBS) == {this_month()}
    # Only today was landed again; the other days keep their landing time.
    assert after[today_utc()] > whole[today_utc()]  # type: ignore[operator]
    assert {d: t for d, t in after.items() if d != today_utc()} == {
        d: t for d, t in whole.items() if d != today_utc()
    }
    assert 1 <= refresh_calls <= max(1, month_calls)


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("yesterday-ish", "is not a YYYY-MM-DD date"),
        ("2001-01-01", "is not in the run's partitions"),
    ],
)
def test_a_refresh_of_a_day_outside_its_partition_fails_before_reading(
    sandbox: SandboxServer, warehouse_dir: Path, day: str, message: str
) -> None:
    defs = _defs(sandbox.base_url, warehouse_dir, "2020-01-01")
    before = _calls(sandbox)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("servicetitan_changing").execute_in_process(
            instance=instance,
            partition_key=this_month(),
            run_config=refresh_config(day),
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert message in str(failure.step_failure_data.error)
    assert _calls(sandbox) == before
    assert not (warehouse_dir / "landing" / "jobs").exists()


def test_the_schedule_refreshes_both_months_at_the_turn_of_a_month() -> None:
    defs = _defs("http://127.0.0.1:9", Path("/nonexistent"), "2020-01-01")
    # A turn of a month the partitions already hold (the current month is the last one).
    tick = datetime(2026, 11, 1, 0, 15, tzinfo=UTC)
    with dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    ) as context:
        requests = recent_partitions(context)
    assert [
        (r.partition_key, r.run_config["ops"][CHANGING_OP]["config"]["days"]) for r in requests
    ] == [
        ("2026-10", ["2026-10-31"]),
        ("2026-11", ["2026-11-01"]),
    ]
    assert len({r.run_key for r in requests}) == 2


def test_partitions_are_months_named_like_their_landing_files() -> None:
    defs = _defs("http://127.0.0.1:9", Path("/nonexistent"), "2024-02-17")
    partitions_def = defs.get_assets_def(JOBS).partitions_def
    assert partitions_def is not None
    keys = partitions_def.get_partition_keys()
    assert keys[0] == "2024-02" and keys[-1] == month_key(today_utc())


def test_months_landed_before_monthly_partitions_are_recorded_once(
    warehouse_dir: Path,
) -> None:
    """Files of an earlier release (daily partitions, a file per month): a month whose
    every day was landed is recorded without reading the API; a partial one is not."""
    defs = _defs("http://127.0.0.1:9", warehouse_dir, "2020-01-01")
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    empty = records_to_table(ENTITIES_BY_NAME["jobs"].model, [])
    whole = [date(2025, 10, 1) + timedelta(days=i) for i in range(31)]
    warehouse.write_partitions("jobs", dict.fromkeys(whole, empty))
    partial = [date(2025, 9, 1) + timedelta(days=i) for i in range(29)]  # the 30th missing
    warehouse.write_partitions("jobs", dict.fromkeys(partial, empty))
    sensor = defs.resolve_sensor_def("landed_months")
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(
            instance=instance, resources=defs.resources, repository_def=defs.get_repository_def()
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        events = result.asset_events or []
        assert [(e.asset_key, e.partition) for e in events] == [(JOBS, "2025-10")]
        for event in events:
            instance.report_runless_asset_event(event)  # what the daemon does with them
        with dg.build_sensor_context(
            instance=instance, resources=defs.resources, repository_def=defs.get_repository_def()
        ) as context:
            again = sensor(context)
        assert not again.asset_events
