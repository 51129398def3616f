"""Reads: one pagination contract, exactly once, snapshots under activity, filters, scoping."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson

from st_sandbox.server import SandboxServer
from tests.helpers import auth_client, read_all


def _dump(server: SandboxServer, entity: str) -> list[dict]:
    text = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": entity}).content
    return [orjson.loads(line) for line in text.splitlines() if line]


def test_pagination_returns_every_record_exactly_once(sandbox: SandboxServer) -> None:
    with auth_client(sandbox.base_url) as http:
        for path, entity in (
            ("/jobs", "jobs"),
            ("/invoices", "invoices"),
            ("/customers", "customers"),
        ):
            records, _ = read_all(http, path, pageSize=37)
            ids = [r["id"] for r in records]
            assert len(ids) == len(set(ids))
            assert sorted(ids) == sorted(r["id"] for r in _dump(sandbox, entity))
            keys = [(r["modifiedOn"], r["id"]) for r in records]
            assert keys == sorted(keys)


def test_a_read_during_activity_has_no_duplicates_and_the_next_read_catches_up(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=200)
    with auth_client(server.base_url) as http:
        seen: list[int] = []
        query = {"pageSize": 25}
        while True:
            body = http.get("/appointments", params=query).json()
            seen += [r["id"] for r in body["data"]]
            http.post("/_sandbox/activity", json={"steps": 20})
            if not body["hasMore"]:
                break
            query["cursor"] = body["nextCursor"]
        assert len(seen) == len(set(seen))
        follow_up, _ = read_all(http, "/appointments", modifiedOnOrAfter=body["asOf"])
        union = set(seen) | {r["id"] for r in follow_up}
        assert union == {r["id"] for r in _dump(server, "appointments")}
        assert follow_up  # activity changed appointments after the snapshot


def test_filters_by_time_active_business_unit_and_ids(sandbox: SandboxServer) -> None:
    with auth_client(sandbox.base_url) as http:
        all_jobs, _ = read_all(http, "/jobs", pageSize=500)
        pivot = sorted(j["modifiedOn"] for j in all_jobs)[len(all_jobs) // 2]
        newer, _ = read_all(http, "/jobs", modifiedOnOrAfter=pivot)
        older, _ = read_all(http, "/jobs", modifiedBefore=pivot)
        assert len(newer) + len(older) == len(all_jobs)
        assert all(j["modifiedOn"] >= pivot for j in newer)
        inactive, _ = read_all(http, "/customers", active="false")
        assert inactive and all(not c["active"] for c in inactive)
        bu = all_jobs[0]["businessUnitId"]
        in_bu, _ = read_all(http, "/jobs", businessUnitId=bu)
        assert in_bu and all(j["businessUnitId"] == bu for j in in_bu)
        some = http.get("/jobs", params={"ids": "1,2,3"}).json()["data"]
        assert {j["id"] for j in some} <= {1, 2, 3}
        too_many = http.get("/jobs", params={"ids": ",".join(str(i) for i in range(1, 60))})
        assert too_many.status_code == 422
        nested = http.get(
            "/customers", params={"include": "locations,memberships", "pageSize": 5}
        ).json()
        assert all("locations" in c and c["locations"] for c in nested["data"])


def test_a_user_sees_only_its_business_units(sandbox: SandboxServer) -> None:
    with auth_client(sandbox.base_url, "hvac") as hvac, auth_client(sandbox.base_url) as admin:
        hvac_bus = {b["id"] for b in read_all(hvac, "/business-units")[0]}
        all_bus = read_all(admin, "/business-units")[0]
        assert hvac_bus == {b["id"] for b in all_bus if b["trade"] == "HVAC"}
        jobs = read_all(hvac, "/jobs")[0]
        assert jobs and all(j["businessUnitId"] in hvac_bus for j in jobs)
        customers = {c["id"] for c in read_all(hvac, "/customers")[0]}
        visible = {
            j["customerId"] for j in read_all(admin, "/jobs")[0] if j["businessUnitId"] in hvac_bus
        }
        visible |= {
            m["customerId"]
            for m in read_all(admin, "/memberships")[0]
            if m["businessUnitId"] in hvac_bus
        }
        assert customers == visible
        other = next(j for j in read_all(admin, "/jobs")[0] if j["businessUnitId"] not in hvac_bus)
        assert hvac.get(f"/jobs/{other['id']}").status_code == 404


def test_cursors_are_signed_and_tied_to_their_filters(sandbox: SandboxServer) -> None:
    with auth_client(sandbox.base_url) as http:
        first = http.get("/jobs", params={"pageSize": 10}).json()
        cursor = first["nextCursor"]
        forged = http.get("/jobs", params={"cursor": cursor[:-2] + "xx"})
        assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_cursor"
        other = http.get("/jobs", params={"cursor": cursor, "active": "true"})
        assert other.status_code == 400
        for bad in (
            {"pageSize": 5001},
            {"pageSize": 0},
            {"modifiedOnOrAfter": "yesterday"},
            {"cursor": "%%%"},
            {"cursor": cursor[:-2] + "é"},  # a signature of non-ASCII characters: a 400
            {"cursor": "é.é"},
        ):
            answer = http.get("/jobs", params=bad)
            assert answer.status_code in (400, 422), bad
            assert answer.json()["error"]["message"]


def test_the_change_feed_is_ordered_and_resumable(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=100)
    with auth_client(server.base_url) as http:
        http.post("/_sandbox/activity", json={"steps": 30})
        first = http.get("/events", params={"limit": 5}).json()
        rest = http.get("/events", params={"after": first["nextCursor"], "limit": 1000}).json()
        ids = [e["id"] for e in first["data"] + rest["data"]]
        assert ids == list(range(1, len(ids) + 1))
        assert {e["entity"] for e in first["data"] + rest["data"]} & {
            "jobs",
            "appointments",
            "invoices",
        }
