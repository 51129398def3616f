"""The generated tenant: valid against the models, deterministic, and consistent."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from st_contract.entities import ENTITIES
from st_sandbox.clock import to_us_from_ts
from st_sandbox.generate import TenantData, generate

ANCHOR = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def data() -> TenantData:
    return generate(seed=11, customers=400, anchor=ANCHOR)


def test_every_entity_is_generated_and_validates_against_its_model(data: TenantData) -> None:
    for spec in ENTITIES:
        rows = data.tables[spec.name]
        assert rows, f"{spec.name} is empty"
        for row in rows:
            spec.model.model_validate(row)


def test_same_seed_same_data_other_seed_other_data(data: TenantData) -> None:
    again = generate(seed=11, customers=400, anchor=ANCHOR)
    assert again.tables == data.tables
    other = generate(seed=12, customers=400, anchor=ANCHOR)
    assert other.tables["jobs"] != data.tables["jobs"]


def test_timestamps_are_ordered_and_never_after_the_anchor(data: TenantData) -> None:
    anchor_us = to_us_from_ts(ANCHOR.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    days = set()
    for spec in ENTITIES:  # the catalog streams' stamps: tests/sandbox/test_catalog_data.py
        name, rows = spec.name, data.tables[spec.name]
        for row in rows:
            created, modified = to_us_from_ts(row["createdOn"]), to_us_from_ts(row["modifiedOn"])
            assert created <= modified <= anchor_us, (name, row["id"])
            days.add(row["modifiedOn"][:10])
    assert len(days) > 300  # spread over the history, so daily partitions are populated


def test_no_technician_is_double_booked(data: TenantData) -> None:
    by_tech: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for appt in data.tables["appointments"]:
        if appt["status"] in ("Canceled", "Done"):
            continue
        for assignment in appt["assignments"]:
            by_tech[assignment["technicianId"]].append((appt["start"], appt["end"]))
    for windows in by_tech.values():
        windows.sort()
        for (_, end), (start, _) in itertools.pairwise(windows):
            assert end <= start


def test_invoices_add_up_and_jobs_have_at_most_one(data: TenantData) -> None:
    applied: dict[int, Decimal] = defaultdict(Decimal)
    for payment in data.tables["payments"]:
        for part in payment["appliedTo"]:
            applied[part["appliedTo"]] += Decimal(part["appliedAmount"])
    per_job: dict[int, int] = defaultdict(int)
    for inv in data.tables["invoices"]:
        sub, disc, tax = (Decimal(inv[k]) for k in ("subTotal", "discountTotal", "salesTax"))
        assert sub - disc + tax == Decimal(inv["total"])
        assert sum(Decimal(i["total"]) for i in inv["items"]) == sub
        assert Decimal(inv["total"]) - applied[inv["id"]] == Decimal(inv["balance"])
        if inv["active"]:
            per_job[inv["job"]["id"]] += 1
    assert per_job and max(per_job.values()) == 1
    jobs = {j["id"]: j for j in data.tables["jobs"]}
    for inv in data.tables["invoices"]:
        if inv["active"]:
            assert jobs[inv["job"]["id"]]["invoiceId"] == inv["id"]
            assert jobs[inv["job"]["id"]]["jobStatus"] == "Completed"


def test_the_tenant_looks_like_a_service_business(data: TenantData) -> None:
    customers = data.tables["customers"]
    commercial = sum(c["type"] == "Commercial" for c in customers) / len(customers)
    assert 0.05 < commercial < 0.3
    assert any(not c["active"] for c in customers)
    statuses = {m["status"] for m in data.tables["memberships"]}
    assert {"Active", "Expired"} <= statuses
    assert {e["status"]["name"] for e in data.tables["estimates"]} == {"Open", "Sold", "Dismissed"}
    assert {p["type"] for p in data.tables["payments"]} == {"Credit Card", "ACH", "Check"}
    assert any(Decimal(i["balance"]) > 0 for i in data.tables["invoices"])  # open AR
    assert {b["trade"] for b in data.tables["business_units"]} == {"HVAC", "Plumbing", "Electrical"}


ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def test_warm_json_caches_every_records_page_bytes_at_start() -> None:
    from st_sandbox.config import SandboxConfig
    from st_sandbox.tenant import Tenant

    cold = Tenant.build(SandboxConfig(customers=50, anchor=ANCHOR))
    warm = Tenant.build(SandboxConfig(customers=50, anchor=ANCHOR, warm_json=True))
    for name, table in warm.store.tables.items():
        assert table.json_cache.keys() == table.records.keys(), name
        assert all(table.json_cache[i] == cold.store.tables[name].json(i) for i in table.records)
    assert all(
        not t.json_cache for t in Tenant.build(SandboxConfig(customers=5)).store.tables.values()
    )


def test_reference_data_changes_over_the_history_and_recently(data: TenantData) -> None:
    """A sync from any recent start date finds reference changes: every reference set
    has records modified in the last days, and the changes spread over the history; all
    were created before the history starts, so nothing refers to a record not yet made."""
    from st_sandbox.clock import US_PER_DAY
    from st_sandbox.generator.reference import REFERENCE_TABLES

    anchor_us = to_us_from_ts(ANCHOR.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    start_us = anchor_us - 1095 * US_PER_DAY
    months = set()
    for name in REFERENCE_TABLES:
        rows = data.tables[name]
        modified = [to_us_from_ts(r["modifiedOn"]) for r in rows]
        assert all(to_us_from_ts(r["createdOn"]) < start_us for r in rows), name
        assert max(modified) >= anchor_us - 3 * US_PER_DAY, name
        months |= {r["modifiedOn"][:7] for r in rows}
    assert len(months) > 12
