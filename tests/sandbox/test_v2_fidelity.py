"""Faithful to the specs: every core record carries every property its official schema
defines, on the v2 surface (list and export) and on the session API, including records
the tenant's activity creates after start-up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from st_contract.catalog import fields
from st_contract.entities import ENTITIES
from st_contract.v2_paths import V2_PATHS
from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxServer
from tests.conftest import DEFAULT_TEST_CONFIG
from tests.helpers import auth_client, read_all
from tests.sandbox.v2_support import item_properties, tenant_path, v2_client


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    # Its own small tenant, with activity after start-up (records inserted by the store).
    server = SandboxServer(SandboxConfig(**{**DEFAULT_TEST_CONFIG, "customers": 120})).start()
    server.tenant.activity.step(60)
    yield server
    server.stop()


def _missing(records: list[dict[str, Any]], wanted: set[str]) -> dict[int, list[str]]:
    return {r["id"]: sorted(wanted - r.keys()) for r in records if not wanted <= r.keys()}


@pytest.mark.parametrize("entity", list(V2_PATHS))
def test_every_v2_record_has_every_property_of_its_schema(
    server: SandboxServer, entity: str
) -> None:
    paths = V2_PATHS[entity]
    with v2_client(server.base_url) as http:
        listed: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"page": page, "pageSize": 5000, "active": "Any"}
            body = http.get(tenant_path(paths.prefix, paths.path), params=params).json()
            listed += body["data"]
            if not body["hasMore"]:
                break
            page += 1
        assert listed, entity
        assert _missing(listed, item_properties(paths.prefix, paths.path)) == {}
        if paths.export is None:
            return
        exported: list[dict[str, Any]] = []
        token = ""
        while True:
            answer = http.get(
                tenant_path(paths.prefix, f"export/{paths.export}"), params={"from": token}
            )
            body = answer.json()
            exported += body["data"]
            token = body["continueFrom"]
            if not body["hasMore"]:
                break
        assert len(exported) == len(server.tenant.store.ids(entity))
        wanted = item_properties(paths.prefix, f"export/{paths.export}")
        assert _missing(exported, wanted) == {}


def test_every_session_record_has_every_property_of_its_spec(server: SandboxServer) -> None:
    with auth_client(server.base_url, "demo") as http:
        for spec in ENTITIES:
            records, _ = read_all(http, spec.path, pageSize=5000)
            assert len(records) == len(server.tenant.store.ids(spec.name)), spec.name
            wanted = {f["name"] for f in fields(spec.name)}
            assert _missing(records, wanted) == {}, spec.name


def test_both_surfaces_serve_the_same_values_for_the_spec_only_properties(
    server: SandboxServer,
) -> None:
    """The properties the session's own shape does not name come out the same on v2."""
    with auth_client(server.base_url, "demo") as session, v2_client(server.base_url) as v2:
        for spec in ENTITIES:
            own = {info.alias or name for name, info in spec.core.model_fields.items()}  # type: ignore[union-attr]
            extra = {f["name"] for f in fields(spec.name)} - own
            paths = V2_PATHS[spec.name]
            session_rows = {
                r["id"]: r for r in session.get(spec.path, params={"pageSize": 40}).json()["data"]
            }
            params = {"ids": ",".join(map(str, session_rows)), "active": "Any", "pageSize": 50}
            official = v2.get(tenant_path(paths.prefix, paths.path), params=params).json()["data"]
            assert len(official) == len(session_rows), spec.name
            for item in official:
                mine = session_rows[item["id"]]
                assert {k: item[k] for k in extra if k in item} == {
                    k: mine[k] for k in extra if k in item
                }, (spec.name, item["id"])


def test_a_required_spec_property_is_never_null() -> None:
    """Non-nullable spec properties get the empty value of their type (``[]``, false...)."""
    from st_sandbox.generator.spec_fields import spec_template

    for spec in ENTITIES:
        template = spec_template(spec.name)
        assert spec.core is not None
        own = {info.alias or name for name, info in spec.core.model_fields.items()}
        for node in fields(spec.name):
            if not node["nullable"] and node["name"] not in own and node["name"] in template:
                assert template[node["name"]] is not None, (spec.name, node["name"])
