"""Fixtures for asset tests: resources pointed at a sandbox and a temp warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from pydantic import SecretStr  # noqa: F401  (kept for symmetry with the client tests)

from st_contract.v2_paths import V2_PATHS, tenant_path
from st_resources.resource import SessionApiResource
from st_resources.warehouse import WarehouseResource
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.v2.oauth import SANDBOX_TENANT_ID
from tests.helpers import v2_resource


@pytest.fixture(params=["session", "v2"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each asset test that takes this runs against the session API and the official v2 API."""
    return str(request.param)


def read_route(entity: str, backend: str) -> str:
    """The path the sandbox sees when ``backend`` reads ``entity`` (for targeted faults)."""
    if backend == "session":
        return f"/{entity}"
    where = V2_PATHS[entity]
    return tenant_path(SANDBOX_TENANT_ID, where.prefix, f"export/{where.export}")


def resources_for(
    base_url: str,
    warehouse_dir: Path,
    token_dir: Path | None = None,
    page_size: int = 500,
    backend: str = "session",
) -> dict[str, object]:
    """The resources of the code location, pointed at a sandbox and a temp warehouse."""
    if backend == "v2":
        return {
            "servicetitan": v2_resource(base_url, token_dir, page_size=page_size),
            "warehouse": WarehouseResource(warehouse_dir=str(warehouse_dir)),
        }
    return {
        "servicetitan": SessionApiResource(
            base_url=base_url,
            username="demo",
            password="demo-password",
            totp_secret=DEMO_TOTP_SECRET,
            rate_limit=1000,
            page_size=page_size,
            token_cache_dir=str(token_dir) if token_dir else None,
        ),
        "warehouse": WarehouseResource(warehouse_dir=str(warehouse_dir)),
    }


def requested(result: dg.EvaluateAutomationConditionsResult) -> set[str]:
    """The checks (``name@entity``) and assets (``schema/model``) that an evaluation of the
    automation conditions asked to run."""
    names = set()
    for outcome in result.results:
        if outcome.true_subset.size:
            key = outcome.key
            if isinstance(key, dg.AssetCheckKey):
                names.add(f"{key.name}@{key.asset_key.path[-1]}")
            else:
                names.add(key.to_user_string())
    return names
