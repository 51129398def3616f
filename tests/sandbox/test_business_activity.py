"""The activity engine on a store holding the business streams: timesheets follow the
appointments, calls, bookings and purchase orders are inserted or changed through the
store (``modifiedOn`` advances, events are written); without those tables it still runs."""

from __future__ import annotations

from collections import Counter

from st_sandbox.activity import ActivityEngine
from st_sandbox.generate import TenantData
from st_sandbox.store import TenantStore
from tests.sandbox.business_support import ANCHOR, tenant_data

BUSINESS = ("telecom_calls", "crm_bookings", "inventory_purchase_orders", "payroll_jobs_timesheets")


def test_activity_changes_the_business_streams() -> None:
    store = TenantStore(tenant_data())
    before = {name: store.tables[name].order[-1] for name in BUSINESS}
    sizes = {name: len(store.tables[name].records) for name in BUSINESS}
    engine = ActivityEngine(store, seed=3)
    assert engine.step(600) > 0
    events = Counter(e["entity"] for e in store.events)
    for name in BUSINESS:
        assert events[name], name
        newest = store.tables[name].order[-1]
        assert newest > before[name], name  # modifiedOn advanced
        rec = store.tables[name].records[newest[1]]
        assert rec["modifiedOn"] > store.stamp(before[name][0])
    assert len(store.tables["telecom_calls"].records) > sizes["telecom_calls"]
    for call in store.tables["telecom_calls"].records.values():
        if call["type"] == "Booked":
            assert call["job"]["id"] in store.tables["jobs"].records
    for po in store.tables["inventory_purchase_orders"].records.values():
        assert abs(po["total"] - sum(i["total"] for i in po["items"])) < 0.005
    for sheet in store.tables["payroll_jobs_timesheets"].records.values():
        stamps = [sheet[k] for k in ("dispatchedOn", "arrivedOn", "doneOn") if sheet[k]]
        assert stamps == sorted(stamps)


def test_activity_without_the_business_tables() -> None:
    data = tenant_data()
    core = {
        n: rows
        for n, rows in data.tables.items()
        if not n.startswith(
            ("payroll", "telecom", "crm_", "inventory", "marketing", "jbce", "settings", "jpm")
        )
    }
    store = TenantStore(TenantData(core, ANCHOR, data.tax_rates, data.stamp_us))
    assert ActivityEngine(store, seed=3).step(200) > 0
    assert "telecom_calls" not in store.tables
