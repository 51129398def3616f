"""A client nobody here wrote, ``servicepytan`` (PyPI), reads the sandbox's v2 surface
unchanged and gets exactly the records of the dump: customers, payroll (job timesheets by
export, gross pay items by list) and telecom calls.

servicepytan takes its hosts from the environment name (production or integration); its
connection is a plain dict, so the test points ``auth_root`` and ``api_root`` at the
sandbox. Nothing else in the library is touched.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import servicepytan
from servicepytan.auth import servicepytan_connect

from st_sandbox.catalog.streams import LIST_OMITS
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import SANDBOX_TENANT_ID
from tests.sandbox.v2_support import DEMO_APP


def _connection(base_url: str) -> dict[str, Any]:
    conn = servicepytan_connect(
        api_environment="production",
        app_key=DEMO_APP.app_key,
        tenant_id=str(SANDBOX_TENANT_ID),
        client_id=DEMO_APP.client_id,
        client_secret=DEMO_APP.client_secret,
    )
    conn["auth_root"] = base_url
    conn["api_root"] = base_url
    return conn


def test_servicepytan_reads_the_customers_of_the_dump(sandbox_factory: Any) -> None:
    server: SandboxServer = sandbox_factory(customers=120)
    lines = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": "customers"}).content
    dump = {c["id"]: c for c in map(orjson.loads, lines.splitlines()) if c}
    conn = _connection(server.base_url)

    listed = servicepytan.Endpoint("crm", "customers", conn=conn).get_all(
        {"active": "Any", "pageSize": "50"}
    )
    assert {c["id"] for c in listed} == set(dump)
    assert all(c["name"] == dump[c["id"]]["name"] for c in listed)

    exported = servicepytan.Endpoint("crm", "export", conn=conn).export_all("customers")
    assert {c["id"]: c["modifiedOn"] for c in exported} == {
        i: c["modifiedOn"] for i, c in dump.items()
    }


def test_servicepytan_reads_payroll_and_telecom_streams_equal_to_the_dump(
    sandbox_factory: Any,
) -> None:
    server: SandboxServer = sandbox_factory(customers=80)
    conn = _connection(server.base_url)

    def dump(stream: str) -> dict[int, dict[str, Any]]:
        lines = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": stream}).content
        return {r["id"]: r for r in map(orjson.loads, lines.splitlines()) if r}

    timesheets = dump("payroll_jobs_timesheets")
    exported = servicepytan.Endpoint("payroll", "export", conn=conn).export_all("jobs/timesheets")
    assert timesheets and {t["id"]: t for t in exported} == timesheets

    pay = dump("payroll_gross_pay_items")
    listed = servicepytan.Endpoint("payroll", "gross-pay-items", conn=conn).get_all(
        {"pageSize": "200", "active": "Any"}
    )
    # The numbered list's items lack what only the export's carry (``active``).
    omit = LIST_OMITS.get("payroll_gross_pay_items", ())
    assert omit == ("active",)
    assert pay and {p["id"]: p for p in listed} == {
        i: {k: v for k, v in p.items() if k not in omit} for i, p in pay.items()
    }

    calls = dump("telecom_calls")
    exported_calls = servicepytan.Endpoint("telecom", "export", conn=conn).export_all("calls")
    assert calls and {c["id"]: c for c in exported_calls} == calls
