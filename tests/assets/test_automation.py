"""What follows the landing by itself: each asset check runs after the assets it reads have
landed (declarative automation, in a run of checks only), and the entities the business
edits all day are fresh for an hour after they land (Dagster's freshness policy,
evaluated by its freshness daemon)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon

from st_assets.defs.ingest.assets import FRESH_HOURLY
from st_assets.defs.ingest.jobs import changing_job
from st_assets.defs.names import asset_key
from st_contract.entities import ENTITIES
from st_sandbox.server import SandboxServer
from tests.assets.conftest import requested
from tests.assets.test_assets import _defs, _evaluations, _first_day, _run
from tests.helpers import month_key

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent


def test_each_check_is_asked_for_once_after_the_assets_it_reads_landed(
    sandbox: SandboxServer, warehouse_dir: Path
) -> None:
    """The ingest run plans no check (a ranged run would plan each once per partition);
    the automation then asks for the checks of what landed, once, in a run without
    partitions, and not for the checks of the reference sets, which did not land."""
    first = _first_day(3)
    defs = _defs(sandbox.base_url, warehouse_dir, first)
    with dg.instance_for_test() as instance:
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert requested(before) == set()
        ingest = _run(defs, changing_job.name, instance, first)
        assert not _evaluations(ingest)
        after = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=before.cursor
        )
        wanted = requested(after)
        assert {
            "unique_ids_per_partition@jobs",
            "customers_exist_for_customerId@jobs",
            "invoice_arithmetic@invoices",
        } <= wanted
        assert "unique_ids_per_partition@business_units" not in wanted
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert requested(again) == set()


def test_the_entities_edited_all_day_carry_an_hourly_freshness_policy() -> None:
    defs = _defs("http://127.0.0.1:9", Path("/nonexistent"), "2026-01-01")
    nodes = defs.get_repository_def().asset_graph
    policies = {s.name: nodes.get(asset_key(s.name)).freshness_policy for s in ENTITIES}
    assert {name for name, policy in policies.items() if policy} == FRESH_HOURLY
    policy = policies["jobs"]
    assert isinstance(policy, dg.FreshnessPolicy)
    assert policy.fail_window.to_timedelta() == timedelta(hours=1)  # type: ignore[attr-defined]


@contextmanager
def _workspace(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    origin = LoadableTargetOrigin(
        python_file=str(HERE / "freshness_location.py"),
        attribute="defs",
        working_directory=str(HERE.parents[1]),
    )
    target = InProcessWorkspaceLoadTarget([InProcessCodeLocationOrigin(origin)])
    with WorkspaceProcessContext(instance, target) as context:
        yield context


def _state(instance: dg.DagsterInstance, context: WorkspaceProcessContext) -> FreshnessState:
    """What the freshness daemon records for ``jobs`` after one pass."""
    list(FreshnessDaemon().run_iteration(context))
    record = instance.get_freshness_state_records([asset_key("jobs")]).get(asset_key("jobs"))
    return record.freshness_state if record else FreshnessState.UNKNOWN


def test_jobs_are_fresh_after_they_land_and_fail_an_hour_later() -> None:
    landed = datetime.now(UTC)
    with dg.instance_for_test() as instance, _workspace(instance) as context:
        assert _state(instance, context) == FreshnessState.UNKNOWN  # never landed
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key("jobs"), partition=month_key(landed.date()))
        )
        assert _state(instance, context) == FreshnessState.PASS
        with freeze_time(landed + timedelta(minutes=45)):
            assert _state(instance, context) == FreshnessState.WARN
        with freeze_time(landed + timedelta(minutes=61)):
            assert _state(instance, context) == FreshnessState.FAIL
