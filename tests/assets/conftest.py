"""Fixtures for asset tests: resources pointed at a sandbox and a temp warehouse."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr  # noqa: F401  (kept for symmetry with the client tests)

from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource
from st_sandbox.auth import DEMO_TOTP_SECRET


def resources_for(
    base_url: str, warehouse_dir: Path, token_dir: Path | None = None, page_size: int = 500
) -> dict[str, object]:
    """The resources of the code location, pointed at a sandbox and a temp warehouse."""
    return {
        "servicetitan": ServiceTitanResource(
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
