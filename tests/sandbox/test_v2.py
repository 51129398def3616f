"""The sandbox's v2 surface behaves like the official API: client-credentials tokens that
expire, the app key, scopes, list and export semantics, the ids cap, and writes that keep
the tenant's rules (no double booking) and its invoice arithmetic."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx

from st_contract.v2_paths import ACCOUNTING, CRM, DISPATCH, JPM
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import SANDBOX_TENANT_ID
from tests.sandbox.v2_support import DEMO_APP, READONLY_APP, tenant_path, v2_client


def _dump(server: SandboxServer, entity: str) -> list[dict[str, Any]]:
    return list(server.tenant.store.iter_records(entity))


def test_token_app_key_scope_and_tenant_are_all_checked(sandbox: SandboxServer) -> None:
    url = sandbox.base_url
    bad = httpx.post(
        f"{url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_APP.client_id,
            "client_secret": "x",
        },
    )
    assert bad.status_code == 401
    assert bad.json()["data"]["code"] == "invalid_client"
    with v2_client(url) as http:
        assert http.get(tenant_path(CRM, "customers")).status_code == 200
        no_key = http.get(tenant_path(CRM, "customers"), headers={"ST-App-Key": ""})
        assert no_key.status_code == 401
        wrong_key = http.get(tenant_path(CRM, "customers"), headers={"ST-App-Key": "ak1.other"})
        assert wrong_key.status_code == 401
        other_tenant = http.get(f"/crm/v2/tenant/{SANDBOX_TENANT_ID + 1}/customers")
        assert other_tenant.status_code == 403
    with v2_client(url, READONLY_APP) as http:
        refused = http.post(
            tenant_path(DISPATCH, "appointment-assignments/assign-technicians"),
            json={"jobAppointmentId": 1, "technicianIds": [1]},
        )
        assert refused.status_code == 403
        assert "tn.dispatch:w" in refused.json()["title"]


def test_tokens_expire(sandbox_factory: Any) -> None:
    server = sandbox_factory(customers=20, token_ttl=1)
    with v2_client(server.base_url) as http:
        assert http.get(tenant_path(CRM, "customers")).status_code == 200
        time.sleep(1.2)
        expired = http.get(tenant_path(CRM, "customers"))
        assert expired.status_code == 401
        assert expired.json()["data"]["code"] == "token_expired"


def test_list_is_active_only_unless_any_and_export_walks_everything(sandbox: SandboxServer) -> None:
    dump = _dump(sandbox, "customers")
    active = {c["id"] for c in dump if c["active"]}
    assert len(active) < len(dump), "the test tenant should have inactive customers"
    with v2_client(sandbox.base_url) as http:
        listed: set[int] = set()
        page = 1
        while True:
            body = http.get(
                tenant_path(CRM, "customers"),
                params={"page": page, "pageSize": 100, "includeTotal": True},
            ).json()
            assert body["totalCount"] == len(active)
            listed |= {c["id"] for c in body["data"]}
            if not body["hasMore"]:
                break
            page += 1
        assert listed == active
        everything = http.get(
            tenant_path(CRM, "customers"), params={"pageSize": 5000, "active": "Any"}
        ).json()
        assert {c["id"] for c in everything["data"]} == {c["id"] for c in dump}
        assert http.get(tenant_path(CRM, "customers"), params={"pageSize": 5001}).status_code == 400

        exported = http.get(tenant_path(CRM, "export/customers")).json()
        assert {c["id"] for c in exported["data"]} == {c["id"] for c in dump}
        assert exported["hasMore"] is False
        # Nothing changed since: the token resumes at the end.
        again = http.get(
            tenant_path(CRM, "export/customers"), params={"from": exported["continueFrom"]}
        )
        assert again.json()["data"] == []
        # A date starts at that modification time.
        newest = max(c["modifiedOn"] for c in dump)
        since = http.get(tenant_path(CRM, "export/customers"), params={"from": newest}).json()
        assert {c["modifiedOn"] for c in since["data"]} == {newest}
        forged = http.get(tenant_path(CRM, "export/customers"), params={"from": "abc.def"})
        assert forged.status_code == 400
        accented = http.get(tenant_path(CRM, "export/customers"), params={"from": "abc.dé"})
        assert accented.status_code == 400  # not a 500 (no str compare of non-ASCII)
        other = http.get(
            tenant_path(CRM, "export/locations"), params={"from": exported["continueFrom"]}
        )
        assert other.status_code == 400


def test_ids_are_capped_at_50(sandbox: SandboxServer) -> None:
    with v2_client(sandbox.base_url) as http:
        fifty = ",".join(str(i) for i in range(1, 51))
        ok = http.get(
            tenant_path(CRM, "customers"), params={"ids": fifty, "active": "Any", "pageSize": 100}
        )
        assert ok.status_code == 200
        assert {c["id"] for c in ok.json()["data"]} == set(range(1, 51))
        assert (
            http.get(tenant_path(CRM, "customers"), params={"ids": fifty + ",51"}).status_code
            == 400
        )


def test_export_resumes_from_a_token_after_changes(sandbox_factory: Any) -> None:
    server = sandbox_factory(customers=60)
    with v2_client(server.base_url) as http:
        assert http.post("/_sandbox/v2/export-page-size", json={"exportPageSize": 25}).is_success
        seen: dict[int, str] = {}
        token = ""
        while True:
            body = http.get(tenant_path(JPM, "export/jobs"), params={"from": token}).json()
            seen |= {j["id"]: j["modifiedOn"] for j in body["data"]}
            token = body["continueFrom"]
            if not body["hasMore"]:
                break
        assert set(seen) == {j["id"] for j in _dump(server, "jobs")}
        http.post("/_sandbox/activity", json={"steps": 20})
        changed = {
            j["id"]: j["modifiedOn"]
            for j in _dump(server, "jobs")
            if seen.get(j["id"]) != j["modifiedOn"]
        }
        assert changed
        later = http.get(tenant_path(JPM, "export/jobs"), params={"from": token}).json()
        assert {j["id"]: j["modifiedOn"] for j in later["data"]} == changed


def _free_slot_pair(server: SandboxServer) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two Scheduled appointments whose windows overlap, for a double-booking attempt; their
    technicians are all active, as a reassignment sends them again (a generated tenant can
    hold an appointment of a technician deactivated since: which depends on the hour)."""
    active = {t["id"] for t in _dump(server, "technicians") if t["active"]}
    appts = [
        a
        for a in _dump(server, "appointments")
        if a["status"] == "Scheduled"
        and a["active"]
        and all(x["technicianId"] in active for x in a["assignments"])
    ]
    for a in appts:
        for b in appts:
            if a["id"] < b["id"] and a["start"] < b["end"] and b["start"] < a["end"]:
                return a, b
    raise AssertionError("no overlapping scheduled appointments")


def test_assign_keeps_the_no_double_booking_rule(sandbox_factory: Any) -> None:
    # 1,000 customers: with 200, whether two Scheduled appointments overlap depended on the
    # hour the data was generated (none at 14:00-24:00 UTC on 2026-11-24); with 1,000 there
    # are 23 or more pairs at every hour of that day.
    server = sandbox_factory(customers=1000)
    first, second = _free_slot_pair(server)
    # A technician with nothing else in either window, so only the pair can clash.
    busy = {
        x["technicianId"]
        for a in _dump(server, "appointments")
        if any(a["start"] < w["end"] and w["start"] < a["end"] for w in (first, second))
        for x in a["assignments"]
    }
    tech = next(
        t["id"] for t in _dump(server, "technicians") if t["active"] and t["id"] not in busy
    )
    with v2_client(server.base_url) as http:
        op = tenant_path(DISPATCH, "appointment-assignments/assign-technicians")
        done = http.post(op, json={"jobAppointmentId": first["id"], "technicianIds": [tech]})
        assert done.status_code == 200, done.text
        clash = http.post(op, json={"jobAppointmentId": second["id"], "technicianIds": [tech]})
        assert clash.status_code == 409
        assert clash.json()["data"]["code"] == "double_booking"
        assigned = http.get(
            tenant_path(DISPATCH, "appointment-assignments"),
            params={"appointmentIds": first["id"]},
        ).json()["data"]
        assert tech in {a["technicianId"] for a in assigned}
        off = http.post(
            tenant_path(DISPATCH, "appointment-assignments/unassign-technicians"),
            json={"jobAppointmentId": first["id"], "technicianIds": [tech]},
        )
        assert off.status_code == 200
        assert (
            http.post(
                op, json={"jobAppointmentId": second["id"], "technicianIds": [tech]}
            ).status_code
            == 200
        )


def test_invoice_items_patch_recomputes_totals(sandbox_factory: Any) -> None:
    server = sandbox_factory(customers=40)
    invoice = next(i for i in _dump(server, "invoices") if i["active"])
    with v2_client(server.base_url) as http:
        answer = http.patch(
            tenant_path(ACCOUNTING, f"invoices/{invoice['id']}/items"),
            json={"description": "Extra filter", "quantity": 2, "unitPrice": 10.25},
        )
        assert answer.status_code == 200, answer.text
    after = server.tenant.store.get("invoices", invoice["id"])
    assert after is not None
    assert len(after["items"]) == len(invoice["items"]) + 1
    assert after["items"][-1]["total"] == "20.50"
    assert Decimal(after["subTotal"]) == Decimal(invoice["subTotal"]) + Decimal("20.50")
    paid_before = Decimal(invoice["total"]) - Decimal(invoice["balance"])
    assert Decimal(after["total"]) - Decimal(after["balance"]) == paid_before


def test_lists_honour_sort_and_refuse_other_fields_in_the_official_shape(
    sandbox: SandboxServer,
) -> None:
    def ordered(http: httpx.Client, path: str, sort: str) -> list[dict[str, Any]]:
        answer = http.get(f"{path}?sort={sort}&pageSize=200&active=Any")
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]  # type: ignore[no-any-return]

    with v2_client(sandbox.base_url) as http:
        customers = tenant_path(CRM, "customers")
        newest_first = ordered(http, customers, "-ModifiedOn")
        keys = [(c["modifiedOn"], c["id"]) for c in newest_first]
        assert keys == sorted(keys, reverse=True)
        assert newest_first[0]["modifiedOn"] == max(
            c["modifiedOn"] for c in _dump(sandbox, "customers")
        )
        # "+" percent-encoded, unencoded (a space once decoded), or left out: ascending.
        for sort in ("%2BCreatedOn", "+CreatedOn", "createdOn"):
            keys = [(c["createdOn"], c["id"]) for c in ordered(http, customers, sort)]
            assert keys == sorted(keys)
        ids = [c["id"] for c in ordered(http, customers, "-ID")]
        assert ids == sorted(ids, reverse=True) and ids[0] == max(
            c["id"] for c in _dump(sandbox, "customers")
        )
        # Every list route takes it, the assignments too; paging follows the order.
        jobs = tenant_path(JPM, "jobs")
        second = http.get(f"{jobs}?sort=-Id&page=2&pageSize=10").json()["data"]
        first = http.get(f"{jobs}?sort=-Id&page=1&pageSize=10").json()["data"]
        assert [j["id"] for j in first + second] == sorted(
            (j["id"] for j in first + second), reverse=True
        )
        assignments = ordered(http, tenant_path(DISPATCH, "appointment-assignments"), "-Id")
        assert [a["id"] for a in assignments] == sorted(
            (a["id"] for a in assignments), reverse=True
        )
        refused = http.get(customers, params={"sort": "-Name"})
        assert refused.status_code == 400
        body = refused.json()
        assert set(body) == {"type", "title", "status", "traceId", "errors", "data"}
        assert body["errors"] == {"sort": [body["title"]]} and "Name" in body["title"]
