"""Every v2 URL the product builds is an official one: the module prefix is the spec's
``servers`` path (``/equipmentsystems/v2``, ``/sales/v2``), never the spec's file name,
and the path after it is in that spec. The sandbox serves each one at the same place."""

from __future__ import annotations

import re

import httpx
import pytest

from st_contract.v2_paths import MODULE_PREFIXES, V2_PATHS, V2Operation, operations
from st_sandbox.server import SandboxServer
from tests.sandbox.v2_support import spec, specs_by_prefix

OPERATIONS = operations()


def _shape(path: str) -> str:
    """A path template with its parameter names erased (``{id}`` and ``{appointment_id}``
    are the same route)."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_the_specs_cover_all_24_official_modules() -> None:
    prefixes = specs_by_prefix()
    assert len(prefixes) == 24
    # The file names are not the prefixes: a test matching specs by file name would have
    # called a prefix built from "equipment-systems-v2.json" or "salestech-v2.json", which
    # ServiceTitan does not serve.
    assert "/equipmentsystems/v2" in prefixes
    assert "/sales/v2" in prefixes
    from_file_names = {
        f"/{name.removesuffix('-v2.json')}/v2"
        for name in ("equipment-systems-v2.json", "salestech-v2.json")
    }
    assert from_file_names.isdisjoint(prefixes)


def test_every_module_prefix_the_product_calls_is_an_official_servers_path() -> None:
    official = set(specs_by_prefix())
    assert set(MODULE_PREFIXES) <= official, sorted(set(MODULE_PREFIXES) - official)


@pytest.mark.parametrize(
    "op", OPERATIONS, ids=[f"{o.method} {o.prefix}/{o.path}" for o in OPERATIONS]
)
def test_every_operation_the_client_calls_is_in_its_official_spec(op: V2Operation) -> None:
    paths = {_shape(p): item for p, item in spec(op.prefix)["paths"].items()}
    item = paths.get(_shape(f"/tenant/{{tenant}}/{op.path}"))
    assert item is not None, f"{op.prefix} has no /tenant/{{tenant}}/{op.path} in its spec"
    assert op.method.lower() in item, f"{op.prefix}/tenant/{{tenant}}/{op.path} has no {op.method}"


def test_every_entity_url_is_built_from_its_prefix() -> None:
    estimates = V2_PATHS["estimates"]
    assert estimates.url(7) == "/sales/v2/tenant/7/estimates"
    assert estimates.export_url(7) == "/sales/v2/tenant/7/export/estimates"
    assert V2_PATHS["installed_equipment"].url(7).startswith("/equipmentsystems/v2/tenant/7/")
    with pytest.raises(ValueError, match="no export"):
        V2_PATHS["job_types"].export_url(7)


def test_the_sandbox_serves_every_operation_where_the_official_api_does(
    sandbox: SandboxServer,
) -> None:
    served = httpx.get(f"{sandbox.base_url}/openapi.json", timeout=30).json()["paths"]
    routes = {_shape(p): set(item) for p, item in served.items()}
    missing = [
        f"{op.method} {op.prefix}/tenant/{{tenant}}/{op.path}"
        for op in OPERATIONS
        if op.method.lower()
        not in routes.get(_shape(f"{op.prefix}/tenant/{{tenant}}/{op.path}"), set())
    ]
    assert missing == []
