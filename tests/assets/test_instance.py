"""The production instance (docs/dagster.prod.yaml on PostgreSQL): a schedule tick, a
sensor tick and a real run; and the code location loaded by the webserver's GraphQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest

from st_assets.defs.ingest.refresh import CHANGING_OP
from st_assets.defs.ingest.schedules import recent_partitions
from st_assets.defs.ingest.sensors import change_feed
from st_contract.entities import STREAM_SPECS
from st_sandbox.server import SandboxServer, free_port
from tests.assets.test_assets import _defs
from tests.helpers import month_key, refresh_config, this_month, today_utc

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_instance(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "docs" / "dagster.prod.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", pg_database)
    instance = dg.DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()


def test_schedule_tick_sensor_tick_and_a_run_on_postgres(
    sandbox_factory,
    pg_instance: dg.DagsterInstance,
    warehouse_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    assert type(pg_instance.run_storage).__name__ == "PostgresRunStorage"
    server: SandboxServer = sandbox_factory(customers=80)
    defs = _defs(server.base_url, warehouse_dir, "2020-01-01")

    now = datetime.now(UTC)
    repository = defs.get_repository_def()
    with dg.build_schedule_context(
        instance=pg_instance, scheduled_execution_time=now, repository_def=repository
    ) as context:
        requests = recent_partitions(context)
    # Yesterday's and today's days, refreshed in the partition of each (one, or two at the
    # turn of a month).
    yesterday, today = (now - timedelta(days=1)).date(), now.date()
    assert [r.partition_key for r in requests] == sorted({month_key(yesterday), month_key(today)})
    refreshed = [d for r in requests for d in r.run_config["ops"][CHANGING_OP]["config"]["days"]]
    assert refreshed == [yesterday.isoformat(), today.isoformat()]

    job = defs.resolve_job_def("servicetitan_changing")
    result = job.execute_in_process(
        instance=pg_instance,
        partition_key=requests[-1].partition_key,
        run_config=requests[-1].run_config,
    )
    assert result.success
    runs = pg_instance.get_runs()
    assert runs and runs[0].run_id == result.run_id
    assert (
        pg_instance.get_latest_materialization_event(dg.AssetKey(["servicetitan", "jobs"]))
        is not None
    )

    resources = defs.resources
    httpx.post(f"{server.base_url}/_sandbox/activity", json={"steps": 25})
    with dg.build_sensor_context(
        instance=pg_instance, resources=resources, repository_def=repository
    ) as context:
        first = change_feed(context)
    assert first.run_requests, "activity changed entities: the sensor must ask for them"
    request = first.run_requests[0]
    assert request.partition_key == this_month()
    assert request.run_config == refresh_config(today_utc())
    # The streams the business changed: partitioned ones only (the setup lands nightly).
    changed = {k.path[-1] for k in request.asset_selection or []}
    assert changed <= {s.name for s in STREAM_SPECS if s.partitioned}
    assert changed & {"jobs", "appointments", "invoices", "payments", "customers"}
    with dg.build_sensor_context(
        instance=pg_instance, resources=resources, cursor=first.cursor, repository_def=repository
    ) as context:
        second = change_feed(context)
    assert not second.run_requests  # nothing new since the cursor


def test_the_workspace_loads_in_the_webserver_with_assets_checks_schedules_and_sensors(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ST_BASE_URL": sandbox.base_url,
        "ST_USERNAME": "readonly",
        "ST_PASSWORD": "readonly-password",
        "ST_MFA_METHOD": "none",
        "ST_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
    }
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = """{ workspaceOrError { ... on Workspace { locationEntries { name
        locationOrLoadError { __typename ... on PythonError { message }
          ... on RepositoryLocation { repositories { name
            assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
            schedules { name } sensors { name } } } } } } } }"""
    try:
        deadline = time.monotonic() + 120
        body = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=10
                )
                if answer.status_code == 200:
                    body = answer.json()
                    entries = body["data"]["workspaceOrError"]["locationEntries"]
                    if entries and entries[0]["locationOrLoadError"]:
                        break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert body is not None, "the webserver did not answer"
        location = body["data"]["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location
        repo = location["repositories"][0]
        assets = {"/".join(a["assetKey"]["path"]) for a in repo["assetNodes"]}
        assert {
            "servicetitan/jobs",
            "servicetitan/invoices",
            "servicetitan/business_units",
        } <= assets
        checks = [
            c["name"]
            for a in repo["assetNodes"]
            for c in (a["assetChecksOrError"] or {}).get("checks", [])
        ]
        assert "invoice_arithmetic" in checks and "unique_ids_per_partition" in checks
        assert {"recent_partitions", "nightly_reference", "nightly_checks"} <= {
            s["name"] for s in repo["schedules"]
        }
        assert "change_feed" in {s["name"] for s in repo["sensors"]}
    finally:
        web.terminate()
        web.wait(timeout=30)
