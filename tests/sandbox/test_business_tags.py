"""Custom fields and tags on the core records reference the defined types; the business
streams are deterministic from the seed, keyed from 1 and never after the anchor."""

from __future__ import annotations

from st_sandbox.catalog.streams import layout
from st_sandbox.clock import to_us, to_us_from_ts
from st_sandbox.generator.business import BUILDERS
from st_sandbox.generator.state import Record
from tests.sandbox.business_support import ANCHOR, build, by_id, tenant


def _check_fields(rows: list[Record], types: list[Record]) -> None:
    defined = {t["id"]: t for t in types}
    with_fields = 0
    for row in rows:
        with_fields += bool(row["customFields"])
        for field in row["customFields"]:
            ftype = defined[field["typeId"]]
            assert field["name"] == ftype["name"]
            if ftype["dataTypeOptions"]:
                assert field["value"] in ftype["dataTypeOptions"]
    assert 0.3 < with_fields / len(rows) < 0.7


def test_custom_fields_and_tags_reference_defined_types() -> None:
    t = tenant()
    _check_fields(t["customers"], t["crm_customers_custom_fields"])
    _check_fields(t["locations"], t["crm_locations_custom_fields"])
    _check_fields(t["jobs"], t["jpm_jobs_custom_fields"])
    tags = by_id(t["settings_tag_types"])
    for name in ("customers", "locations", "jobs"):
        for row in t[name]:
            assert set(row["tagTypeIds"]) <= set(tags)
            assert all(e.keys() == {"key", "value"} for e in row["externalData"])
    member = next(i for i, tag in tags.items() if tag["name"] == "Member")
    members = {m["customerId"] for m in t["memberships"]}
    tagged = {c["id"] for c in t["customers"] if member in c["tagTypeIds"]}
    assert tagged and tagged <= members  # current members (memberships.py), not lapsed ones
    assert any(c["externalData"] for c in t["customers"])


def test_business_streams_are_keyed_from_one_and_never_after_the_anchor() -> None:
    t = tenant()
    anchor = to_us(ANCHOR)
    for name in BUILDERS:
        rows = t[name]
        assert rows, name
        if layout(name).int_id:  # report categories are keyed by name, as in the spec
            assert [r["id"] for r in rows] == list(range(1, len(rows) + 1)), name
        for r in rows:
            if "modifiedOn" in r:
                assert to_us_from_ts(r["createdOn"]) <= to_us_from_ts(r["modifiedOn"]) <= anchor


def test_same_seed_same_records_other_seed_other_records() -> None:
    _, first = build(9, 120)
    _, again = build(9, 120)
    _, other = build(10, 120)
    for name in (*BUILDERS, "customers", "jobs"):
        assert first[name] == again[name], name
    assert first["telecom_calls"] != other["telecom_calls"]
    assert first["payroll_gross_pay_items"] != other["payroll_gross_pay_items"]
