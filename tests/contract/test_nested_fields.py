"""Every field a stream's spec defines, nested ones included, is a typed column of its
landing schema: the core streams' nested models (addresses, invoice and estimate items,
SKUs, categories, tax rates...) are widened with the spec's nested fields, so none of
them lands in ``_extra``; the core models themselves stay as they are."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from st_contract import models as m
from st_contract.catalog import Node, fields
from st_contract.entities import ENTITIES, STREAM_SPECS
from st_resources.arrow import MONEY, arrow_schema

# Where the session API's contract gives a field another shape than the spec's (and the
# v2 backend reshapes it, st_resources/v2_pages.py): a business unit's trade is its name.
CONTRACT_EXCEPTIONS = {"business_units": {"trade.id", "trade.name"}}


def spec_paths(nodes: list[Node], prefix: str = "") -> Iterator[str]:
    """Every field path of a spec's nodes (``[]`` marks a list's items)."""
    for node in nodes:
        path = prefix + node["name"]
        yield path
        suffix = ""
        while node["type"] == "list":
            node, suffix = node["items"], suffix + "[]"
        if node["type"] == "struct":
            yield from spec_paths(node["fields"], path + suffix + ".")


def column_paths(arrow_fields: list[pa.Field], prefix: str = "") -> Iterator[str]:
    """Every column path of an Arrow schema, named like ``spec_paths``."""
    for field in arrow_fields:
        path, kind, suffix = prefix + field.name, field.type, ""
        yield path
        while pa.types.is_list(kind):
            kind, suffix = kind.value_type, suffix + "[]"
        if pa.types.is_struct(kind):
            yield from column_paths(list(kind), path + suffix + ".")


def test_every_spec_field_path_is_a_typed_column() -> None:
    for spec in STREAM_SPECS:
        columns = set(column_paths(list(arrow_schema(spec.model))))
        missing = set(spec_paths(fields(spec.name))) - columns
        assert missing == CONTRACT_EXCEPTIONS.get(spec.name, set()), spec.name


def _landing(name: str) -> pa.Schema:
    return arrow_schema(next(s for s in ENTITIES if s.name == name).model)


def test_nested_core_models_are_widened_not_changed() -> None:
    address = _landing("business_units").field("address").type
    assert {"isMilitary", "isManualCoordinates", "street"} <= {f.name for f in address}
    assert "isMilitary" not in m.Address.model_fields  # the core model is untouched
    assert "isChargeable" not in m.InvoiceItem.model_fields
    item = _landing("invoices").field("items").type.value_type
    # The core's money keeps its type; the spec's other fields are typed too.
    assert item.field("price").type == MONEY
    assert pa.types.is_boolean(item.field("isChargeable").type)
    assert pa.types.is_struct(item.field("generalLedgerAccount").type)
    rate = _landing("tax_zones").field("rates").type.value_type
    assert {"taxName", "taxRate", "taxBaseType"} <= {f.name for f in rate}
    sku = _landing("estimates").field("items").type.value_type.field("sku").type
    assert pa.types.is_timestamp(sku.field("modifiedOn").type)
