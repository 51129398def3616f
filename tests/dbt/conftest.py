"""A warehouse with the sandbox's whole history landed once per session through the real
ingest assets, and the dbt models built on it through Dagster.

The sandbox keeps 60 days of history so the full landing stays small; with every record
landed, every parent exists, so the cross-entity dbt tests (relationships, payment
reconciliation) run at severity ``error`` here (ST_DBT_CROSS_ENTITY_SEVERITY).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from st_assets.definitions import load_defs
from st_assets.defs.dbt.jobs import warehouse_dbt_build
from st_assets.defs.dbt.project import dbt_project, manifest_is_stale, prepare_manifest
from st_assets.defs.ingest.jobs import changing_job, reference_job
from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxServer
from tests.assets.conftest import resources_for
from tests.helpers import history_tags

HISTORY_DAYS = 60


@dataclass
class DbtWarehouse:
    """The session's sandbox, warehouse folder, definitions, instance and first build."""

    sandbox: SandboxServer
    root: Path
    defs: dg.Definitions
    instance: dg.DagsterInstance
    first_day: str
    build: dg.ExecuteInProcessResult

    @property
    def database(self) -> Path:
        return self.root / "warehouse.duckdb"

    def land(self, job: str, **kwargs: object) -> None:
        """Run an ingest job (or part of it) and require success."""
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, raise_on_error=False, **kwargs
        )
        assert result.success, f"{job} failed"

    def build_models(self, **kwargs: object) -> dg.ExecuteInProcessResult:
        """``dbt build`` through Dagster (all models, or ``asset_selection``)."""
        return self.defs.resolve_job_def(warehouse_dbt_build.name).execute_in_process(
            instance=self.instance, raise_on_error=False, **kwargs
        )


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The dbt manifest, prepared the way ``make dbt-manifest`` does when it is missing or
    stale (``make test`` prepares it first): a parse here would run beside
    ``test_location_loads_while_dbt_parses`` in another worker and leave its folder in
    the parse folders that test checks."""
    project = dbt_project()
    if project.manifest_path.exists() and not manifest_is_stale(project):
        return project.manifest_path
    return prepare_manifest()


@contextmanager
def landed_and_built(
    root: Path, config: SandboxConfig, history_days: int, backend: str = "session"
) -> Iterator[DbtWarehouse]:
    """A sandbox's history landed through ``backend`` (session or v2), then ``dbt build``."""
    server = SandboxServer(config).start()
    first_day = (datetime.now(UTC) - timedelta(days=history_days + 1)).date().isoformat()
    defs = dg.Definitions.merge(
        load_defs("ingest", "dbt", start_date=first_day),
        dg.Definitions(resources=resources_for(server.base_url, root, backend=backend)),
    )
    with (
        pytest.MonkeyPatch.context() as env,
        dg.instance_for_test() as instance,
    ):
        # dbt reads the warehouse folder and the test severity from the environment.
        env.setenv("ST_WAREHOUSE_DIR", str(root))
        env.setenv("ST_DBT_CROSS_ENTITY_SEVERITY", "error")
        warehouse = DbtWarehouse(server, root, defs, instance, first_day, build=None)  # type: ignore[arg-type]
        try:
            warehouse.land(reference_job.name)
            warehouse.land(
                changing_job.name,
                tags=history_tags(first_day),
            )
            warehouse.build = warehouse.build_models()
            yield warehouse
        finally:
            server.stop()


@pytest.fixture(scope="session")
def dbt_warehouse(
    dbt_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DbtWarehouse]:
    """The whole sandbox history landed, then ``dbt build`` run once (see module doc)."""
    root = tmp_path_factory.mktemp("dbt") / "warehouse"
    root.mkdir()
    config = SandboxConfig(seed=11, customers=300, rate_limit=0, history_days=HISTORY_DAYS)
    with landed_and_built(root, config, HISTORY_DAYS) as warehouse:
        yield warehouse
