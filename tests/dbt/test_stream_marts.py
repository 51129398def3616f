"""The staging generated from the stream catalog, and the marts over the new streams
(labor, margin, campaign conversion, custom fields, tags), compared exactly with the
sandbox tenant's records (``tests/dbt/expected.py`` computes the same numbers).

The expectation is computed over what the warehouse should hold (``expected.held``): the
newest version of each record, and of a stream partitioned by ``modifiedOn`` only the
records last modified on or after the first day landed; streams landed whole (the
business's setup, streams without a cursor) in full.

A stream the sandbox does not serve yet (its dump answers 404 or holds no record) skips
the comparisons that need it: they run as soon as the sandbox has the data and the
landing lands it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import httpx
import orjson
import pytest

from st_contract.entities import SPECS_BY_NAME
from tests.dbt import expected
from tests.dbt.conftest import DbtWarehouse
from tools import generate_dbt

CUSTOM_FIELD_ENTITIES = ("customers", "locations", "jobs")


def _query(warehouse: DbtWarehouse, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        return con.execute(sql).fetchall()


def _dump(warehouse: DbtWarehouse, entity: str) -> list[dict[str, Any]] | None:
    """Every record of ``entity`` in the sandbox, or None when it does not serve it."""
    answer = httpx.get(
        f"{warehouse.sandbox.base_url}/_sandbox/dump", params={"entity": entity}, timeout=60
    )
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return [orjson.loads(line) for line in answer.content.splitlines() if line]


def _held(
    warehouse: DbtWarehouse, entity: str, found: list[dict[str, Any]] | None = None
) -> list[expected.Record]:
    """The records of ``entity`` (``found``, else its dump) the warehouse should hold (see
    the module doc); none when the sandbox does not serve it."""
    return expected.held(
        _dump(warehouse, entity) or [] if found is None else found,
        date.fromisoformat(warehouse.first_day),
        SPECS_BY_NAME[entity].partitioned,
    )


def _require(warehouse: DbtWarehouse, *entities: str) -> dict[str, list[expected.Record]]:
    """The records of ``entities`` the warehouse should hold; skips while the sandbox
    lacks one of them."""
    records = {}
    for entity in entities:
        found = _dump(warehouse, entity)
        if not found:
            pytest.skip(f"the sandbox has no {entity} records yet")
        records[entity] = _held(warehouse, entity, found)
    return records


def test_the_generated_staging_is_up_to_date() -> None:
    assert generate_dbt.stale() == [], "run `python -m tools.generate_dbt`"


def test_the_generator_is_deterministic() -> None:
    assert generate_dbt.render() == generate_dbt.render()
    names = set(generate_dbt.render())
    assert len([n for n in names if n.startswith("stg_")]) == len(
        generate_dbt.generated_streams()
    ) + len(["stg_custom_fields", "stg_tag_assignments"])


def test_every_generated_staging_view_is_built(dbt_warehouse: DbtWarehouse) -> None:
    views = {
        name
        for (name,) in _query(
            dbt_warehouse,
            "select view_name from duckdb_views() where schema_name = 'staging'",
        )
    }
    wanted = {f"stg_{s.name}" for s in generate_dbt.generated_streams()}
    assert wanted <= views


def test_job_labor_equals_the_payroll_in_the_dump(dbt_warehouse: DbtWarehouse) -> None:
    records = _require(dbt_warehouse, "payroll_gross_pay_items", "payroll_jobs_timesheets")
    jobs = _held(dbt_warehouse, "jobs")
    want = expected.job_labor(
        jobs, records["payroll_gross_pay_items"], records["payroll_jobs_timesheets"]
    )
    rows = _query(
        dbt_warehouse,
        "select job_id, labor_cost, paid_hours, on_site_seconds, travel_seconds,"
        " on_site_hours, travel_hours from marts.fct_job_labor",
    )
    got = {row[0]: tuple(row[1:]) for row in rows}
    assert sum(v[0] for v in want.values()) > 0
    assert got == want


def test_job_margin_equals_the_dump(dbt_warehouse: DbtWarehouse) -> None:
    records = _require(
        dbt_warehouse,
        "inventory_purchase_orders",
        "payroll_gross_pay_items",
        "payroll_jobs_timesheets",
    )
    jobs = _held(dbt_warehouse, "jobs")
    invoices = _held(dbt_warehouse, "invoices")
    labor = expected.job_labor(
        jobs, records["payroll_gross_pay_items"], records["payroll_jobs_timesheets"]
    )
    want = expected.job_margin(jobs, invoices, records["inventory_purchase_orders"], labor)
    rows = _query(
        dbt_warehouse,
        "select job_id, revenue, material_cost, labor_cost, gross_margin from marts.fct_job_margin",
    )
    got = {row[0]: tuple(row[1:]) for row in rows}
    assert sum(v[1] for v in want.values()) > 0
    assert got == want


def test_campaign_conversion_equals_the_dump(dbt_warehouse: DbtWarehouse) -> None:
    records = _require(
        dbt_warehouse, "marketing_campaigns", "telecom_calls", "crm_leads", "crm_bookings"
    )
    want = expected.campaign_conversion(
        records["marketing_campaigns"],
        records["telecom_calls"],
        records["crm_leads"],
        records["crm_bookings"],
        _held(dbt_warehouse, "jobs"),
        _held(dbt_warehouse, "invoices"),
    )
    rows = _query(
        dbt_warehouse,
        "select campaign_id, calls, lead_calls, booked_calls, leads, converted_leads,"
        " bookings, jobs, revenue from reports.rpt_campaign_conversion",
    )
    got = {row[0]: tuple(row[1:]) for row in rows}
    assert sum(v[0] for v in want.values()) > 0
    assert got == want


def test_custom_fields_equal_the_tenants_custom_fields(dbt_warehouse: DbtWarehouse) -> None:
    records = {e: _held(dbt_warehouse, e) for e in CUSTOM_FIELD_ENTITIES}
    want = expected.custom_fields(records)
    if not want:
        pytest.skip("the sandbox's customers, locations and jobs have no custom fields yet")
    rows = _query(
        dbt_warehouse,
        "select entity, record_id, field_type_id, field_name, field_value"
        " from staging.stg_custom_fields"
        " where entity in ('customers', 'locations', 'jobs')",
    )
    assert sorted(rows, key=repr) == want


def test_tags_carry_the_names_of_their_tag_types(dbt_warehouse: DbtWarehouse) -> None:
    tag_types = _require(dbt_warehouse, "settings_tag_types")["settings_tag_types"]
    records = {e: _held(dbt_warehouse, e) for e in ("customers", "locations", "jobs")}
    want = expected.tag_assignments(records, tag_types)
    if not want:
        pytest.skip("the sandbox's customers, locations and jobs have no tags yet")
    rows = _query(
        dbt_warehouse,
        "select entity, record_id, tag_type_id, tag_name from marts.fct_tag_assignments"
        " where entity in ('customers', 'locations', 'jobs')",
    )
    assert sorted(rows, key=repr) == want
