"""Catalog streams the core routes serve (``CORE_ROUTED``: dispatch's appointment
assignments, the report categories) answer the core's records on every surface: the
official paths (the core routers, never shadowed by a generic catalog route), the session
route and the dump agree, also after a write; and no (method, path) is routed twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from unittest.mock import MagicMock

import httpx
from fastapi.routing import iter_route_contexts

from st_contract.catalog import STREAMS_BY_NAME
from st_contract.v2_paths import DISPATCH
from st_sandbox.app import create_app
from st_sandbox.catalog.streams import CORE_ROUTED
from st_sandbox.generator.business import BUILDERS
from st_sandbox.reports import category_records
from st_sandbox.server import SandboxServer
from tests.helpers import auth_client, read_all, sandbox_dump
from tests.sandbox.v2_support import tenant_path, v2_client

ASSIGNMENTS = "dispatch_appointment_assignments"


def test_no_method_and_path_is_routed_twice() -> None:
    """The catalog routers come first: a generic route at a path the core serves would
    shadow it (``{x}`` and ``{y}`` at the same place are the same path)."""
    app = create_app(MagicMock())
    seen: dict[tuple[str, str], list[str]] = {}
    for route in iter_route_contexts(app.routes):
        path = route.path
        if path is None:
            continue
        shape = re.sub(r"\{[^}]*\}", "{}", path)
        for method in route.methods or ():
            seen.setdefault((method, shape), []).append(f"{path} {route.name}")
    assert len(seen) > 400
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}


def test_core_routed_streams_hold_the_core_records() -> None:
    for name in CORE_ROUTED:
        assert not STREAMS_BY_NAME[name].core and name in BUILDERS, name


def _v2_assignments(http: httpx.Client) -> list[dict[str, Any]]:
    path = tenant_path(DISPATCH, "appointment-assignments")
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = http.get(path, params={"page": page, "pageSize": 5000, "active": "Any"}).json()
        rows += body["data"]
        if not body["hasMore"]:
            return sorted(rows, key=lambda a: a["id"])
        page += 1


def _all_surfaces_agree(server: SandboxServer, v2: httpx.Client) -> list[dict[str, Any]]:
    """The assignments as the v2 list, the session route and the dump answer them (equal)."""
    official = _v2_assignments(v2)
    dumped = sandbox_dump(server.base_url, ASSIGNMENTS)
    with auth_client(server.base_url) as session:
        read, _ = read_all(session, "/dispatch/appointment-assignments", pageSize=5000)
    assert dumped == official
    assert sorted(read, key=lambda a: a["id"]) == official
    nested = [
        a for appt in server.tenant.store.iter_records("appointments") for a in appt["assignments"]
    ]
    assert sorted(nested, key=lambda a: a["id"]) == official
    return official


def test_assignments_agree_on_every_surface_after_writes(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=60)
    with v2_client(server.base_url) as v2:
        before = _all_surfaces_agree(server, v2)
        assert before
        scheduled = {
            a["id"]
            for a in server.tenant.store.iter_records("appointments")
            if a["status"] == "Scheduled"
        }
        held = next(a for a in before if a["appointmentId"] in scheduled)
        body = {"jobAppointmentId": held["appointmentId"], "technicianIds": [held["technicianId"]]}
        off = v2.post(
            tenant_path(DISPATCH, "appointment-assignments/unassign-technicians"), json=body
        )
        assert off.status_code == 200, off.text
        after_off = _all_surfaces_agree(server, v2)
        assert held["id"] not in {a["id"] for a in after_off}
        assert len(after_off) == len(before) - 1
        on = v2.post(tenant_path(DISPATCH, "appointment-assignments/assign-technicians"), json=body)
        assert on.status_code == 200, on.text
        after_on = _all_surfaces_agree(server, v2)
        new = [a for a in after_on if a["id"] not in {b["id"] for b in before}]
        assert [(a["appointmentId"], a["technicianId"]) for a in new] == [
            (held["appointmentId"], held["technicianId"])
        ]
        # An incremental session read from before the write finds the new assignment.
        with auth_client(server.base_url) as session:
            changed, _ = read_all(
                session,
                "/dispatch/appointment-assignments",
                modifiedOnOrAfter=new[0]["modifiedOn"],
            )
        assert new[0] in changed


def test_report_categories_agree_on_every_surface(sandbox: SandboxServer) -> None:
    expected = category_records()
    with v2_client(sandbox.base_url) as v2:
        official = v2.get(tenant_path("/reporting/v2", "report-categories")).json()["data"]
    with auth_client(sandbox.base_url) as session:
        read, _ = read_all(session, "/reporting/report-categories")
    assert official == read == sandbox_dump(sandbox.base_url, "reporting_report_categories")
    assert official == expected and {c["id"] for c in expected} >= {"operations"}
