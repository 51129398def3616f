"""The stream catalog against the official specs: current, complete, and the core models
agreeing with the spec types of the fields they share."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from st_assets.defs.ingest.selection import SelectionError, parse_selection
from st_contract.catalog import MODULES, STREAMS, fields
from st_contract.entities import CORE_MODELS, ENTITIES, STREAM_SPECS
from st_resources.arrow import arrow_schema
from tests.sandbox.v2_support import SPEC_DIR, specs_by_prefix
from tools.generate_catalog import main as generate

# Where the session API's contract shapes a field differently from the spec, on purpose.
CONTRACT_SHAPES = {
    ("business_units", "trade"): "the session API sends the trade's name",
    ("payments", "typeId"): "an id: the spec's text, as a number",
    ("estimates", "subtotal"): "money as a decimal string",
    ("estimates", "tax"): "money as a decimal string",
}


def test_the_catalog_is_what_the_specs_say() -> None:
    specs_by_prefix()  # skips (fails under CI) without the specs
    assert generate(["--specs", str(SPEC_DIR), "--check"]) == 0, (
        "run python -m tools.generate_catalog"
    )


def test_every_export_endpoint_and_every_module_has_streams() -> None:
    documents = specs_by_prefix()
    exports = set()
    for prefix, document in documents.items():
        for path, ops in document["paths"].items():
            if "get" in ops and re.findall(r"\{(\w+)\}", path) == ["tenant"] and "export" in path:
                exports.add(prefix + path)
    covered = set()
    for stream in STREAMS:
        for path in (stream.export_path, *stream.alias_exports):
            if path:
                covered.add(stream.prefix + stream.template(path))
    assert covered == exports and len(exports) == 53
    assert len(STREAMS) >= 130
    assert {s.module for s in STREAMS} == set(MODULES) and len(MODULES) == 24


def _kind(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is not None and str(origin) in ("typing.Annotated",):
        return _kind(args[0])
    if args and origin is not list and len(args) >= 1 and origin is not dict:
        if str in args and len(args) > 1:
            return "string"  # an open enum
        return _kind(args[0])
    if origin is list:
        return "list"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "struct"
        if issubclass(annotation, bool):
            return "bool"
        if issubclass(annotation, int):
            return "int64"
        if issubclass(annotation, Decimal | float):
            return "number"
        if issubclass(annotation, datetime):
            return "timestamp"
        if issubclass(annotation, Enum | str):
            return "string"
    return "other"


@pytest.mark.parametrize("entity", sorted(CORE_MODELS))
def test_core_models_agree_with_the_spec(entity: str) -> None:
    spec = {node["name"]: node for node in fields(entity)}
    model = CORE_MODELS[entity]
    for name, info in model.model_fields.items():
        wire = info.alias or name
        if wire not in spec or (entity, wire) in CONTRACT_SHAPES:
            continue
        expected = spec[wire]["type"]
        expected = "number" if expected in ("decimal", "float64") else expected
        expected = "string" if expected == "date" else expected
        kind = _kind(info.annotation)
        # Money the API sends as decimal strings is a Decimal in our models.
        money_text = kind == "number" and expected == "string"
        assert kind in (expected, "other") or money_text, (entity, wire, expected, kind)
    landed = set(arrow_schema(ENTITIES[0].model).names)
    assert {"_extra", "_loaded_at"} <= landed
    # Every spec field lands, named as the spec names it.
    assert set(spec) <= set(
        arrow_schema(next(s for s in STREAM_SPECS if s.name == entity).model).names
    )


def test_every_stream_lands_every_spec_field() -> None:
    for spec in STREAM_SPECS:
        names = set(arrow_schema(spec.model).names)
        assert {node["name"] for node in fields(spec.name)} <= names, spec.name


def test_the_selection_setting() -> None:
    assert len(parse_selection(None)) == len(STREAM_SPECS)
    payroll = parse_selection("payroll")
    assert payroll and {s.module for s in payroll} == {"payroll"}
    some = parse_selection("core,payroll_jobs_timesheets,-technicians")
    names = [s.name for s in some]
    assert "payroll_jobs_timesheets" in names and "technicians" not in names
    assert names[0] == "business_units"  # core entities first
    assert len(parse_selection("all,-telecom")) == len(STREAM_SPECS) - 1
    with pytest.raises(SelectionError, match=r"neither a module nor a stream.*payroll"):
        parse_selection("payrol")
    with pytest.raises(SelectionError, match="selects no stream"):
        parse_selection("telecom,-telecom")
