"""The Dagster resources: built from EnvVar config in a real run, logging in once per run;
``resource_from_env`` selects the backend and wires the shared settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import httpx
import pytest

from st_contract.entities import ENTITIES_BY_NAME
from st_resources.resource import (
    ServiceTitanResource,
    SessionApiResource,
    V2ApiResource,
    resource_from_env,
)
from st_resources.session import SessionBackend
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.helpers import v2_resource


def _count(servicetitan: ServiceTitanResource, entity: str) -> int:
    return sum(1 for _ in servicetitan.get_backend().iter_records(ENTITIES_BY_NAME[entity]))


@dg.asset
def business_units(servicetitan: ServiceTitanResource) -> int:
    return _count(servicetitan, "business_units")


@dg.asset
def technicians(servicetitan: ServiceTitanResource) -> int:
    return _count(servicetitan, "technicians")


@dg.asset
def job_types(servicetitan: ServiceTitanResource) -> int:
    return _count(servicetitan, "job_types")


def _resource() -> SessionApiResource:
    return SessionApiResource(
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


def test_an_asset_typed_with_the_base_resource_runs_on_the_v2_backend(
    sandbox: SandboxServer,
) -> None:
    v2 = v2_resource(sandbox.base_url)
    assert isinstance(v2, V2ApiResource)
    result = dg.materialize([technicians], resources={"servicetitan": v2})
    assert result.success
    assert result.output_for_node("technicians") == len(
        list(sandbox.tenant.store.iter_records("technicians"))
    )


def _session_env(monkeypatch: pytest.MonkeyPatch, base_url: str = "http://127.0.0.1:9") -> None:
    for var in (
        "ST_BACKEND",
        "ST_AUTH",
        "ST_RATE_LIMIT",
        "ST_RATE_LIMIT_SHARE",
        "ST_MFA_METHOD",
        "ST_PAGE_SIZE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ST_BASE_URL", base_url)
    monkeypatch.setenv("ST_USERNAME", "readonly")
    monkeypatch.setenv("ST_PASSWORD", "readonly-password")


def test_rate_limit_share_divides_the_rate_each_process_allows_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _session_env(monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("ST_RATE_LIMIT", "60")
    monkeypatch.setenv("ST_RATE_LIMIT_SHARE", "4")
    resource = resource_from_env().process_config_and_initialize()
    assert resource.rate_limit_share == 4
    backend = resource.get_backend()
    assert isinstance(backend, SessionBackend)
    alone = resource.model_copy(update={"rate_limit_share": 1}).get_backend()
    assert isinstance(alone, SessionBackend)
    # Four processes sharing the tenant's 60 requests/s each pace at 15 (less headroom).
    assert backend.transport.limiter.max_rate == pytest.approx(alone.transport.limiter.max_rate / 4)
    assert backend.transport.limiter.max_rate == pytest.approx(15 * 0.98)


def test_the_environment_selects_the_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _session_env(monkeypatch)
    monkeypatch.setenv("ST_MFA_METHOD", "none")
    session = resource_from_env()
    assert isinstance(session, SessionApiResource) and session.mfa_method == "none"
    app = DEMO_APPS[0]
    for var, value in {
        "ST_CLIENT_ID": app.client_id,
        "ST_CLIENT_SECRET": app.client_secret,
        "ST_APP_KEY": app.app_key,
        "ST_TENANT_ID": str(SANDBOX_TENANT_ID),
        "ST_ENVIRONMENT": "integration",
    }.items():
        monkeypatch.setenv(var, value)
    for selector, value in (("ST_BACKEND", "v2"), ("ST_AUTH", "client_credentials")):
        monkeypatch.setenv(selector, value)
        resource = resource_from_env().process_config_and_initialize()
        assert isinstance(resource, V2ApiResource), selector
        assert resource.tenant_id == SANDBOX_TENANT_ID
        assert resource.settings().api_base == "https://api-integration.servicetitan.io"
        monkeypatch.delenv(selector)
    monkeypatch.setenv("ST_BACKEND", "soap")
    with pytest.raises(ValueError, match="ST_BACKEND must be session or v2"):
        resource_from_env()
    monkeypatch.setenv("ST_BACKEND", "session")
    monkeypatch.setenv("ST_MFA_METHOD", "carrier-pigeon")
    with pytest.raises(ValueError, match="ST_MFA_METHOD must be one of"):
        resource_from_env()


def test_page_size_defaults_to_the_api_maximum_on_both_backends(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _session_env(monkeypatch)
    monkeypatch.delenv("ST_PAGE_SIZE", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    session = resource_from_env().process_config_and_initialize()
    assert session.settings().page_size == 5000
    assert session.get_backend().page_size == 5000
    _v2_env(monkeypatch)
    v2 = resource_from_env().process_config_and_initialize()
    assert isinstance(v2, V2ApiResource)
    assert v2.settings().page_size == 5000


def test_st_page_size_is_wired_on_both_backends(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _session_env(monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("ST_PAGE_SIZE", "100")
    session = resource_from_env()
    # A dg.EnvVar: resolved when the run starts, not when the location loads.
    monkeypatch.setenv("ST_PAGE_SIZE", "250")
    assert session.process_config_and_initialize().get_backend().page_size == 250
    _v2_env(monkeypatch)
    monkeypatch.setenv("ST_PAGE_SIZE", "5000")
    v2 = resource_from_env().process_config_and_initialize()
    assert isinstance(v2, V2ApiResource) and v2.get_backend().page_size == 5000


@pytest.mark.parametrize("bad", ["0", "5001", "abc", "-3", ""])
def test_a_bad_st_page_size_names_the_variable_and_the_range(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    _session_env(monkeypatch)
    monkeypatch.setenv("ST_PAGE_SIZE", bad)
    with pytest.raises(ValueError, match=r"ST_PAGE_SIZE .*from 1 to 5000"):
        resource_from_env()
    _v2_env(monkeypatch)
    with pytest.raises(ValueError, match=r"ST_PAGE_SIZE .*from 1 to 5000"):
        resource_from_env()


def test_a_bad_page_size_configured_directly_names_st_page_size() -> None:
    resource = SessionApiResource(
        base_url="http://127.0.0.1:9", username="readonly", password="x", page_size=5001
    )
    with pytest.raises(ValueError, match=r"ST_PAGE_SIZE .*from 1 to 5000, not '5001'"):
        resource.settings()


def _v2_env(monkeypatch: pytest.MonkeyPatch) -> None:
    app = DEMO_APPS[0]
    monkeypatch.setenv("ST_BACKEND", "v2")
    monkeypatch.setenv("ST_CLIENT_ID", app.client_id)
    monkeypatch.setenv("ST_CLIENT_SECRET", app.client_secret)
    monkeypatch.setenv("ST_APP_KEY", app.app_key)
    monkeypatch.setenv("ST_TENANT_ID", str(SANDBOX_TENANT_ID))
