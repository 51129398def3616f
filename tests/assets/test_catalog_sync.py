"""The whole catalog through the real ingest assets: a sync under faults, expiring tokens
and live activity equals the dump; a field the tenant adds lands in ``_extra`` and the
drift check warns about it (and stays quiet otherwise); a module the tenant is not
licensed for gets one message and the other streams land."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import orjson
import pytest

from st_assets.definitions import ingest_defs
from st_assets.defs.ingest.jobs import changing_job, checks_job, reference_job
from st_contract.catalog import fields
from st_contract.entities import SPECS_BY_NAME, STREAM_SPECS, EntitySpec
from st_sandbox.server import SandboxServer
from tests.assets.conftest import resources_for
from tests.helpers import history_tags, refresh_config, today_utc

pytestmark = pytest.mark.e2e

HISTORY_DAYS = 45


def _first_day() -> str:
    return (today_utc() - timedelta(days=HISTORY_DAYS)).isoformat()


def _defs(server: SandboxServer, warehouse: Path, backend: str, first: str) -> dg.Definitions:
    resources = resources_for(server.base_url, warehouse, page_size=100, backend=backend)
    return dg.Definitions.merge(ingest_defs(start_date=first), dg.Definitions(resources=resources))


def _run(
    defs: dg.Definitions, instance: dg.DagsterInstance, job: Any, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job.name).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )
    assert result.success or job is checks_job, job.name
    return result


def _dump(server: SandboxServer, stream: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": stream}).content
    return [orjson.loads(line) for line in body.splitlines() if line]


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _landed(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> dict[Any, datetime] | int:
    """The newest version of each landed record ({id: modifiedOn}), or the row count of a
    stream without both."""
    columns = {r[0] for r in con.execute(f"DESCRIBE raw.{spec.name}").fetchall()}
    if spec.stream.key == "id" and "modifiedOn" in columns:
        rows = con.execute(
            f"SELECT id, max(modifiedOn) FROM raw.{spec.name} GROUP BY id"
        ).fetchall()
        return {rid: _utc(mod) for rid, mod in rows}
    return int(con.execute(f"SELECT count(*) FROM raw.{spec.name}").fetchall()[0][0])


def _expected(server: SandboxServer, spec: EntitySpec, first: str) -> dict[Any, datetime] | int:
    records = _dump(server, spec.name)
    cutoff = _utc(first + "T00:00:00Z")
    if spec.partitioned:
        records = [r for r in records if _utc(r["modifiedOn"]) >= cutoff]
    if spec.stream.key == "id" and "modifiedOn" in {f["name"] for f in fields(spec.name)}:
        return {r["id"]: _utc(r["modifiedOn"]) for r in records}
    return len(records)


@contextmanager
def _live_activity(server: SandboxServer) -> Iterator[None]:
    """The business keeps changing the tenant (jobs, payments, timesheets, calls...)."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            while not stop.is_set():
                client.post("/_sandbox/activity", json={"steps": 3})
                stop.wait(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_the_whole_catalog_synced_under_chaos_equals_the_dump(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path, backend: str
) -> None:
    server = sandbox_factory(customers=60, token_ttl=2)
    httpx.post(f"{server.base_url}/_sandbox/v2/export-page-size", json={"exportPageSize": 100})
    first = _first_day()
    defs = _defs(server, tmp_path, backend, first)
    faults = {"faultRate": 0.05, "dropRate": 0.02, "seed": 11, "slowMs": 2500}
    httpx.post(f"{server.base_url}/_sandbox/faults", json=faults)
    with dg.instance_for_test() as instance, _live_activity(server):
        _run(defs, instance, reference_job)
        _run(defs, instance, changing_job, tags=history_tags(first))
    stats = httpx.get(f"{server.base_url}/_sandbox/stats").json()
    httpx.delete(f"{server.base_url}/_sandbox/faults")
    injected = stats["faults"]["injected"]
    assert injected["error"] + injected["drop"] > 0
    # What the business changed while the sync ran was modified today: the schedule's
    # refresh of today's days (and the reference sets' nightly run) catch up on it.
    with dg.instance_for_test() as instance:
        _run(defs, instance, reference_job)
        today = today_utc()
        _run(
            defs,
            instance,
            changing_job,
            tags=history_tags(today.isoformat()),
            run_config=refresh_config(today - timedelta(days=1), today),
        )
    mismatched = {}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        for spec in STREAM_SPECS:
            landed, expected = _landed(con, spec), _expected(server, spec, first)
            if isinstance(expected, dict) and isinstance(landed, dict):
                # Every record of the dump, in its newest version (deleted ones may stay).
                wrong = {k: (landed.get(k), v) for k, v in expected.items() if landed.get(k) != v}
                if wrong:
                    mismatched[spec.name] = list(wrong.items())[:3]
            elif landed != expected:
                mismatched[spec.name] = (landed, expected)
    assert not mismatched


def _log_messages(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        r.user_message
        for r in instance.all_logs(result.run_id)
        if r.level >= logging.WARNING and r.user_message
    ]


def test_a_field_the_tenant_adds_lands_in_extra_and_the_drift_check_warns(
    sandbox_factory: Callable[..., SandboxServer],
    tmp_path: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = sandbox_factory(customers=60)
    monkeypatch.setenv("ST_STREAMS", "marketing")
    drift = {"stream": "marketing_campaigns", "field": "aiScore", "value": 7}
    assert httpx.post(f"{server.base_url}/_sandbox/drift", json=drift).status_code == 200
    first = _first_day()
    defs = _defs(server, tmp_path, backend, first)
    with dg.instance_for_test() as instance:
        _run(defs, instance, reference_job)
        _run(defs, instance, changing_job, tags=history_tags(first))
        checks = _run(defs, instance, checks_job)
    evaluations = {
        (data.asset_key.path[-1], data.check_name): data
        for data in (
            event.asset_check_evaluation_data
            for event in checks.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    }
    drifted = evaluations[("marketing_campaigns", "schema_drift")]
    assert not drifted.passed and drifted.severity == dg.AssetCheckSeverity.WARN
    metadata = {k: v.value for k, v in drifted.metadata.items()}
    assert "aiScore" in metadata["new_fields"]
    assert metadata["landed_extra_fields"] == {"aiScore": len(_dump(server, "marketing_campaigns"))}
    assert metadata["missing_fields"] == [] and metadata["retyped_fields"] == {}
    quiet = [
        k
        for k, e in evaluations.items()
        if k[1] == "schema_drift" and k[0] != "marketing_campaigns"
    ]
    assert quiet and all(evaluations[k].passed for k in quiet)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        extras = con.execute("SELECT DISTINCT _extra FROM raw.marketing_campaigns").fetchall()
    assert extras == [('{"aiScore": 7}',)]


def test_a_module_the_tenant_is_not_licensed_for_gets_one_message_and_the_rest_lands(
    sandbox_factory: Callable[..., SandboxServer],
    tmp_path: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = sandbox_factory(customers=60, unlicensed_modules=["payroll"])
    monkeypatch.setenv("ST_STREAMS", "marketing,payroll")
    first = _first_day()
    defs = _defs(server, tmp_path, backend, first)
    with dg.instance_for_test() as instance:
        for job, tags in ((reference_job, {}), (changing_job, history_tags(first))):
            result = _run(defs, instance, job, tags=tags)
            about = [m for m in _log_messages(instance, result) if "payroll" in m]
            assert len(about) == 1, about
            assert "not licensed for payroll" in about[0] and "ST_STREAMS=all,-payroll" in about[0]
    landing = tmp_path / "landing"
    payroll = [s.name for s in STREAM_SPECS if s.module == "payroll"]
    assert not any(
        (landing / name).exists() and any((landing / name).iterdir()) for name in payroll
    )
    assert any((landing / "marketing_campaigns").glob("*.parquet"))
    assert SPECS_BY_NAME["marketing_campaigns"].module == "marketing"
