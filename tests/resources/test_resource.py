"""The Dagster resource: built from EnvVar config in a real run, logging in once per run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import httpx
import pytest

from st_resources.resource import ServiceTitanResource
from st_sandbox.server import SandboxServer


@dg.asset
def business_units(servicetitan: ServiceTitanResource) -> int:
    return len(servicetitan.get_client().get_json("/business-units")["data"])


@dg.asset
def technicians(servicetitan: ServiceTitanResource) -> int:
    return len(servicetitan.get_client().get_json("/technicians")["data"])


@dg.asset
def job_types(servicetitan: ServiceTitanResource) -> int:
    return len(servicetitan.get_client().get_json("/job-types")["data"])


def _resource() -> ServiceTitanResource:
    return ServiceTitanResource(
        base_url=dg.EnvVar("ST_BASE_URL"),
        username=dg.EnvVar("ST_USERNAME"),
        password=dg.EnvVar("ST_PASSWORD"),
        totp_secret=dg.EnvVar("ST_TOTP_SECRET"),
        rate_limit=1000,
    )


@pytest.fixture
def env(
    sandbox_factory: Callable[..., SandboxServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> SandboxServer:
    server = sandbox_factory(customers=30)
    monkeypatch.setenv("ST_BASE_URL", server.base_url)
    monkeypatch.setenv("ST_USERNAME", "demo")
    monkeypatch.setenv("ST_PASSWORD", "demo-password")
    monkeypatch.setenv("ST_TOTP_SECRET", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    return server


def _logins(server: SandboxServer) -> int:
    return int(httpx.get(f"{server.base_url}/_sandbox/stats").json()["auth"]["logins"])


def test_in_process_run_with_several_steps_logs_in_once(env: SandboxServer) -> None:
    result = dg.materialize(
        [business_units, technicians, job_types], resources={"servicetitan": _resource()}
    )
    assert result.success
    assert result.output_for_node("technicians") > 0
    assert _logins(env) == 1


def test_multiprocess_run_shares_the_token_cache_and_logs_in_once(
    env: SandboxServer, tmp_path: Path
) -> None:
    # Each step runs in its own process; the token cache under DAGSTER_HOME is shared.
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        result = dg.execute_job(dg.reconstructable(_job), instance=instance)
        assert result.success
        assert len({e.pid for e in result.all_events if e.is_step_start}) == 3
    assert _logins(env) == 1


def _job() -> dg.JobDefinition:
    reference = dg.define_asset_job(
        "reference_sets", selection=[business_units, technicians, job_types]
    )
    defs = dg.Definitions(
        assets=[business_units, technicians, job_types],
        jobs=[reference],
        resources={"servicetitan": _resource()},
    )
    return defs.resolve_job_def("reference_sets")


def test_the_ui_never_sees_the_password(env: SandboxServer) -> None:
    resource = _resource()
    assert "demo-password" not in repr(resource)
    assert "JBSWY3DP" not in repr(resource)
