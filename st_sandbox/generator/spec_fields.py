"""Every property the official spec defines, on every core record: the builders write
what the sandbox models, and ``fill_spec_fields`` adds each spec property a record lacks
(``st_contract.catalog.fields``), so both surfaces serve every property under its
official name. A property the tenant has no value for is null; where the spec requires
a value, it is the one a tenant that does not use the feature answers (``[]``, ``false``,
``0``, ``""``, the first enum value, or the override below).

One pass at the end of generation (and on every record the store inserts later): a
record's missing keys are found once per distinct key layout, so a million records cost
one dict merge each.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from st_contract.catalog import Node, fields
from st_contract.entities import CORE_MODELS
from st_sandbox.generator.state import ADMIN_USER_ID, Record

# Required values that read better than the type's zero (what the v2 surface always said).
OVERRIDES: dict[str, dict[str, Any]] = {
    "technicians": {"status": "Idle"},
    "jobs": {"notificationsEnabled": True},
    "pricebook_materials": {"chargeableByDefault": True, "createdById": ADMIN_USER_ID},
}


def _phone_settings(record: Record) -> Any:
    # Contacts carry their value in phoneSettings; nobody opted out of texts here.
    return {"phoneNumber": record["value"], "doNotText": False}


# Required values that depend on the record itself: (property, its value for a record).
PER_RECORD: dict[str, tuple[str, Callable[[Record], Any]]] = {
    "contacts": ("phoneSettings", _phone_settings),
    "pricebook_categories": ("position", lambda record: record["id"]),
}
SCALAR_ZERO: dict[str, Any] = {
    "bool": False,
    "int64": 0,
    "float64": 0,
    "decimal": 0,
    "string": "",
    "json": {},
}


def empty_value(node: Node) -> Any:
    """The value of a property the tenant has no value for: null where the spec allows
    it, else the type's empty value (a required struct gets its own fields so)."""
    if node["nullable"]:
        return None
    kind = node["type"]
    if kind == "list":
        return []
    if kind == "struct":
        return {f["name"]: empty_value(f) for f in node["fields"]}
    if node.get("enum"):
        return node["enum"][0]
    return SCALAR_ZERO.get(kind)


@cache
def spec_template(entity: str) -> dict[str, Any]:
    """Every spec property of a core entity with its empty value, in the spec's order."""
    template = {f["name"]: empty_value(f) for f in fields(entity)}
    template.update(OVERRIDES.get(entity, {}))
    if entity in PER_RECORD:
        del template[PER_RECORD[entity][0]]
    return template


def fill_spec_fields(entity: str, rows: list[Record]) -> None:
    """Add to each record (in place, after its own keys) every spec property it lacks.

    Records share the empty values (lists, structs), as they share their references:
    nothing changes a nested object of a record in place.
    """
    if entity not in CORE_MODELS or not rows:
        return
    template = spec_template(entity)
    per_record = PER_RECORD.get(entity)
    # The builders write one key layout per entity (a few at most): the missing keys of a
    # layout are found once, and each record takes them in one C-level update.
    missing_by_layout: dict[tuple[str, ...], dict[str, Any]] = {}
    for record in rows:
        layout = tuple(record)
        missing = missing_by_layout.get(layout)
        if missing is None:
            missing = {k: v for k, v in template.items() if k not in record}
            missing_by_layout[layout] = missing
        if missing:
            record.update(missing)
        if per_record is not None and per_record[0] not in record:
            record[per_record[0]] = per_record[1](record)
