"""Materializing ServiceTitan assets against the sandbox into a real warehouse."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from st_assets.definitions import ingest_defs
from st_contract.entities import ENTITIES, STREAM_SPECS
from st_resources.arrow import records_to_table
from st_resources.days import day_range
from st_resources.warehouse import WarehouseResource
from st_sandbox.server import SandboxServer
from tests.assets.conftest import read_route, resources_for
from tests.helpers import (
    history_tags,
    landed_at,
    month_key,
    read_partition,
    refresh_config,
    this_month,
    today_utc,
)

pytestmark = pytest.mark.e2e


def _defs(base_url: str, warehouse: Path, start: str, backend: str = "session") -> dg.Definitions:
    return dg.Definitions.merge(
        ingest_defs(start),
        dg.Definitions(resources=resources_for(base_url, warehouse, backend=backend)),
    )


def _run(
    defs: dg.Definitions,
    job: str,
    instance: dg.DagsterInstance,
    first: str | None = None,
    *refreshed: date,
) -> dg.ExecuteInProcessResult:
    """Run ``job``: with ``first``, every partition from its month to today's (only the
    ``refreshed`` days, if any, of the current month)."""
    tags = history_tags(first) if first and not refreshed else {}
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        tags=tags,
        raise_on_error=False,
        partition_key=this_month() if refreshed else None,
        run_config=refresh_config(*refreshed) if refreshed else None,
    )
    assert result.success or job == "servicetitan_checks"
    return result


def _dump(server: SandboxServer, entity: str) -> list[dict]:
    text = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": entity}).content
    return [orjson.loads(line) for line in text.splitlines() if line]


def _first_day(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days - 1)).date().isoformat()


def test_partitions_land_as_parquet_and_rematerializing_gives_identical_files(
    sandbox: SandboxServer, warehouse_dir: Path, backend: str
) -> None:
    first = _first_day(10)
    defs = _defs(sandbox.base_url, warehouse_dir, first, backend)
    with dg.instance_for_test() as instance:
        _run(defs, "servicetitan_changing", instance, first)
        warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
        days = [date.fromisoformat(first) + timedelta(days=i) for i in range(10)]
        month_keys = {month_key(day) for day in days}
        assert all(landed_at(warehouse, "jobs", day) is not None for day in days)
        # A file per month of the range: one, or two when the range crosses a month.
        months = sorted(p.name for p in (warehouse_dir / "landing" / "jobs").iterdir())
        assert months == sorted({f"{day:%Y-%m}.parquet" for day in days})
        before = {
            p: pq.read_table(p).drop(["_loaded_at"])
            for p in (warehouse_dir / "landing").rglob("*.parquet")
        }
        _run(defs, "servicetitan_changing", instance, first)
        after = {
            p: pq.read_table(p).drop(["_loaded_at"])
            for p in (warehouse_dir / "landing").rglob("*.parquet")
        }
        assert before.keys() == after.keys()
        assert all(before[p].equals(after[p]) for p in before)
        jobs = dg.AssetKey(["servicetitan", "jobs"])
        assert instance.get_materialized_partitions(jobs) == month_keys
        # A partition of a range is recorded with the run's figures, named as the run's.
        materialization = instance.get_latest_materialization_event(jobs)
        assert materialization is not None
        meta = materialization.asset_materialization.metadata  # type: ignore[union-attr]
        records = sum(
            read_partition(warehouse, "jobs", day).num_rows  # type: ignore[union-attr]
            for day in days
        )
        if len(month_keys) > 1:
            assert meta["run_records"].value == records
            assert meta["run_days"].value == len(days)
            assert meta["run_partitions"].value == len(month_keys)
        else:
            assert meta["records"].value == records
            assert meta["days_written"].value == len(days)
        # A refresh of today (the schedule, the change feed) gets the whole summary.
        _run(defs, "servicetitan_changing", instance, None, today_utc())
        materialization = instance.get_latest_materialization_event(jobs)
        assert materialization is not None
        meta = materialization.asset_materialization.metadata  # type: ignore[union-attr]
        for key in (
            "pages",
            "api_calls",
            "retries",
            "throttled_429",
            "bytes",
            "api_seconds",
            "windows",
            "preview",
            "landing",
        ):
            assert key in meta
        today = read_partition(warehouse, "jobs", days[-1])
        assert meta["records"].value == (today.num_rows if today is not None else 0)
        assert meta["days_written"].value == 1
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        landed = con.execute("SELECT count(*) FROM raw.jobs").fetchone()[0]
    cutoff = first + "T00:00:00"
    assert landed == sum(1 for j in _dump(sandbox, "jobs") if j["modifiedOn"] >= cutoff)


def test_a_record_modified_between_runs_appears_once_with_its_newest_version(
    sandbox_factory: Callable[..., SandboxServer], warehouse_dir: Path, backend: str
) -> None:
    server = sandbox_factory(customers=300)
    first = _first_day(30)
    defs = _defs(server.base_url, warehouse_dir, first, backend)
    key = dg.AssetKey(["servicetitan", "customers"])
    customers = [defs.get_assets_def(key)]
    resources = resources_for(server.base_url, warehouse_dir, backend=backend)
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            customers,
            instance=instance,
            resources=resources,
            tags=history_tags(first),
            selection=[key],
        ).success
        cutoff = first + "T00:00:00"
        # A customer already landed in an earlier partition of the window.
        customer_id = next(
            c["id"]
            for c in _dump(server, "customers")
            if cutoff <= c["modifiedOn"] < today_utc().isoformat()
        )
        server.tenant.store.update("customers", customer_id, {"name": "Renamed Customer"})
        assert dg.materialize(
            customers,
            instance=instance,
            resources=resources,
            partition_key=this_month(),
            run_config=refresh_config(today_utc()),
            selection=[key],
        ).success
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT name FROM raw.customers WHERE id = ? QUALIFY row_number() OVER (PARTITION BY id ORDER BY modifiedOn DESC) = 1",
            [customer_id],
        ).fetchall()
        versions = con.execute(
            "SELECT count(*) FROM raw.customers WHERE id = ?", [customer_id]
        ).fetchone()[0]
    assert rows == [("Renamed Customer",)]
    assert versions == 2  # the old version stays in its old partition; staging dedupes


def test_a_90_day_backfill_under_faults_equals_a_clean_one_and_the_dump(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path, backend: str
) -> None:
    # Tokens expire every 2 s; the faulty run adds 5xx answers, dropped connections and
    # 429s (injected, so the test does not spend its time waiting on a real limit).
    server = sandbox_factory(customers=250, token_ttl=2)
    # Many small pages on both backends (the v2 export's page size is the server's).
    httpx.post(f"{server.base_url}/_sandbox/v2/export-page-size", json={"exportPageSize": 50})
    first = _first_day(90)
    tables = {}
    for name, faults in (
        ("clean", None),
        (
            "faulty",
            {
                "faultRate": 0.1,
                "dropRate": 0.05,
                "seed": 9,
                # One answer slower than the token's life: the entities are read at once
                # and would otherwise all be done before any token expires.
                "slowMs": 2500,
                "targeted": [
                    {"route": read_route("invoices", backend), "nth": 2, "status": 429, "times": 3},
                    {"route": read_route("jobs", backend), "nth": 1, "status": "drop"},
                    {"route": read_route("jobs", backend), "nth": 3, "status": "slow"},
                    {"route": read_route("payments", backend), "nth": 1, "status": 503},
                ],
            },
        ),
    ):
        if faults:
            httpx.post(f"{server.base_url}/_sandbox/faults", json=faults)
        warehouse = tmp_path / name
        defs = _defs(server.base_url, warehouse, first, backend)
        selected = [
            dg.AssetKey(["servicetitan", e])
            for e in ("jobs", "invoices", "payments", "appointments")
        ]
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [defs.get_assets_def(selected[0])],
                selection=selected,
                instance=instance,
                resources=resources_for(server.base_url, warehouse, page_size=50, backend=backend),
                tags=history_tags(first),
            )
            assert result.success
        with duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True) as con:
            tables[name] = {
                entity: con.execute(
                    f"SELECT id, modifiedOn FROM raw.{entity} ORDER BY id"
                ).fetchall()
                for entity in ("jobs", "invoices", "payments", "appointments")
            }
    stats = httpx.get(f"{server.base_url}/_sandbox/stats").json()
    httpx.delete(f"{server.base_url}/_sandbox/faults")
    assert stats["faults"]["injected"]["error"] + stats["faults"]["injected"]["drop"] > 0
    if backend == "session":
        assert stats["requests"].get("GET invoices 429", 0) == 3
        assert stats["auth"]["refreshes"] > 0
    else:
        assert stats["requests"].get("GET accounting 429", 0) == 3
        assert stats["requests"].get("v2 token", 0) > 2  # tokens expired and were renewed
    assert tables["clean"] == tables["faulty"]
    cutoff = first + "T00:00:00"
    for entity, rows in tables["clean"].items():
        expected = sorted(r["id"] for r in _dump(server, entity) if r["modifiedOn"] >= cutoff)
        assert [r[0] for r in rows] == expected, entity


def test_two_processes_materialize_two_partitions_of_one_asset_at_once(
    sandbox: SandboxServer, warehouse_dir: Path, tmp_path: Path
) -> None:
    script = """
import sys, dagster as dg
from st_assets.definitions import ingest_defs
from tests.assets.conftest import resources_for
from pathlib import Path
from tests.helpers import month_key, refresh_config
base, warehouse, day, tokens = sys.argv[1:5]
defs = dg.Definitions.merge(ingest_defs("2020-01-01"), dg.Definitions(resources=resources_for(base, Path(warehouse), Path(tokens))))
jobs = dg.AssetKey(["servicetitan", "jobs"])
result = dg.materialize([defs.get_assets_def(jobs)], partition_key=month_key(day), selection=[jobs],
                        run_config=refresh_config(day),
                        resources=resources_for(base, Path(warehouse), Path(tokens)))
print("ok" if result.success else "failed")
"""
    # Two days of one month when it can be (they then share a partition and a file).
    days = [(today_utc() - timedelta(days=d)).isoformat() for d in (0, 1)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                sandbox.base_url,
                str(warehouse_dir),
                day,
                str(tmp_path / "tokens"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in days
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert all(out.strip().endswith("ok") for out, _ in outputs), outputs
    # Both days were landed, whether they share a month file (then its lock kept the
    # second writer from dropping the first one's day) or not.
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    for day in days:
        assert landed_at(warehouse, "jobs", date.fromisoformat(day)) is not None


def _land_dump(server: SandboxServer, warehouse_dir: Path) -> WarehouseResource:
    """The sandbox's ground truth landed directly (one partition per entity): a complete
    warehouse in a second, where a 3-year Dagster backfill would take minutes."""
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    for spec in ENTITIES:
        table = records_to_table(spec.model, _dump(server, spec.name))
        if spec.partitioned:
            warehouse.write_partitions(spec.name, {date(2026, 1, 1): table})
        else:
            warehouse.write_whole(spec.name, table)
    warehouse.ensure_views()
    return warehouse


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    out = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.asset_check_evaluation_data
            out[f"{data.check_name}@{data.asset_key.path[-1]}"] = data.passed
    return out


def _rewrite(path: Path, column: str, change: Callable[[list], list]) -> None:
    table = pq.read_table(path)
    values = change(table.column(column).to_pylist())
    index = table.schema.get_field_index(column)
    pq.write_table(
        table.set_column(index, column, pa.array(values, table.schema.field(column).type)), path
    )


@pytest.mark.parametrize("corruption", ["duplicate", "orphan", "arithmetic"])
def test_checks_pass_on_sandbox_data_and_fail_on_data_made_wrong(
    sandbox: SandboxServer, warehouse_dir: Path, corruption: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The core entities' checks (the catalog's drift checks: tests/assets/test_catalog_sync.py).
    monkeypatch.setenv("ST_STREAMS", "core")
    _land_dump(sandbox, warehouse_dir)
    defs = _defs(sandbox.base_url, warehouse_dir, "2026-01-01")
    with dg.instance_for_test() as instance:
        clean = _evaluations(_run(defs, "servicetitan_checks", instance))
        assert clean and all(clean.values()), [k for k, v in clean.items() if not v]
        jobs = warehouse_dir / "landing" / "jobs" / "2026-01.parquet"
        invoices = warehouse_dir / "landing" / "invoices" / "2026-01.parquet"
        if corruption == "duplicate":
            table = pq.read_table(jobs)
            pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), jobs)
            broken = "unique_ids_per_partition@jobs"
        elif corruption == "orphan":
            _rewrite(invoices, "job", lambda v: [{**v[0], "id": 987654321}, *v[1:]])
            broken = "jobs_exist_for_job_id@invoices"
        else:
            _rewrite(invoices, "total", lambda v: [v[0] + 1, *v[1:]])
            broken = "invoice_arithmetic@invoices"
        dirty = _evaluations(_run(defs, "servicetitan_checks", instance))
        assert dirty[broken] is False
        newly_failing = {k for k, v in dirty.items() if not v} - {
            k for k, v in clean.items() if not v
        }
        assert newly_failing == {broken}


def test_an_entity_that_fails_does_not_stop_the_others_and_the_run_names_it(
    sandbox: SandboxServer, warehouse_dir: Path
) -> None:
    """Entities are read at once in one step: the ones that land are recorded, the step
    fails naming the one that did not, and its old partitions are untouched."""
    first = _first_day(5)
    defs = _defs(sandbox.base_url, warehouse_dir, first)
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    today = today_utc()
    with dg.instance_for_test() as instance:
        _run(defs, "servicetitan_changing", instance, first)
        before = read_partition(warehouse, "jobs", today)
        assert before is not None
        httpx.post(
            f"{sandbox.base_url}/_sandbox/faults",
            json={"targeted": [{"route": "/jobs", "nth": 1, "status": 400, "times": 1000}]},
        )
        try:
            result = defs.resolve_job_def("servicetitan_changing").execute_in_process(
                instance=instance, tags=history_tags(first), raise_on_error=False
            )
        finally:
            httpx.delete(f"{sandbox.base_url}/_sandbox/faults")
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        message = str(failure.step_failure_data.error)
        partitioned = {s.name for s in STREAM_SPECS if s.partitioned}
        assert f"1 of {len(partitioned)} streams failed to land: jobs" in message
        landed = {
            e.asset_key.path[-1]
            for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key is not None
        }
        assert landed == partitioned - {"jobs"}
        assert before.equals(read_partition(warehouse, "jobs", today))


def test_a_run_that_fails_halfway_keeps_the_partitions_it_landed(
    sandbox: SandboxServer, warehouse_dir: Path
) -> None:
    """An entity whose later windows fail has its earlier windows' days landed, and the
    partitions they landed whole recorded: each recorded partition is on disk, from this
    run, and a partition not recorded misses days, so a retry of the failed partitions is
    all that is left."""
    first = _first_day(90)  # several windows, each a request of its own
    defs = _defs(sandbox.base_url, warehouse_dir, first)
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    jobs = dg.AssetKey(["servicetitan", "jobs"])
    started = datetime.now(UTC)
    # The first request to /jobs succeeds; every later one (the other windows) is refused.
    httpx.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={"targeted": [{"route": "/jobs", "nth": 2, "status": 400, "times": 1000}]},
    )
    try:
        with dg.instance_for_test() as instance:
            result = _run_failing(defs, instance, first)
            recorded = instance.get_materialized_partitions(jobs)
    finally:
        httpx.delete(f"{sandbox.base_url}/_sandbox/faults")
    assert not result.success
    all_days = day_range(first, today_utc().isoformat())
    months: dict[str, list[date]] = {}
    for day in all_days:
        months.setdefault(month_key(day), []).append(day)
    assert len(recorded) < len(months)
    landed = {day: landed_at(warehouse, "jobs", day) for day in all_days}
    assert any(at is not None and at >= started for at in landed.values())
    for month, days in months.items():
        if month in recorded:
            assert all(landed[d] is not None and landed[d] >= started for d in days)  # type: ignore[operator]
        else:
            assert any(landed[d] is None for d in days)


def _run_failing(
    defs: dg.Definitions, instance: dg.DagsterInstance, first: str
) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("servicetitan_changing").execute_in_process(
        instance=instance, tags=history_tags(first), raise_on_error=False
    )
