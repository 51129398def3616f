"""The stream catalog: every stream of a ServiceTitan tenant, generated from the official
v2 specs (``python -m tools.generate_catalog`` writes ``streams.json``; never edit it by
hand).

A stream is one resource: its module and official paths (an export, a numbered list, or
one unpaged answer), its key, its modification cursor and the fields its spec defines.
``landing_model`` turns a stream's fields into the pydantic model the landing schema
comes from; for the core entities, whose hand-written models (``st_contract.models``)
add meaning (money as ``Decimal``, enums, the session API's shapes), it is the core
model plus every spec field the core model does not name, so every field lands either
way. The same holds inside: a core field that nests a model (an address, invoice items,
a SKU...) is retyped to that model plus the spec's nested fields it lacks, recursively,
so the spec's nested fields are typed columns too, never ``_extra``. The core models
themselves are not changed.
"""

from __future__ import annotations

import copy
import functools
import json
import keyword
import operator
import re
import types
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import Field, create_model
from pydantic.fields import FieldInfo

from st_contract.models import StModel, UtcDatetime

Node = dict[str, Any]
"""A field's type in the catalog: ``{"type": "int64" | "float64" | "decimal" | "string" |
"bool" | "timestamp" | "date" | "json" | "list" | "struct", "nullable": bool}`` with
``items`` (lists), ``fields`` (structs) or ``enum`` (strings)."""


@dataclass(frozen=True)
class Stream:
    """One stream as the official API serves it (every value comes from the specs).

    ``read`` is how it is read: ``export`` (continuation tokens), ``list`` (numbered
    pages) or ``unpaged`` (one answer, records under ``items_key``: ``data``/``items``, or
    None when the answer is the list, ``""`` when it is the one record). ``cursor`` is
    the modification field (``modifiedOn``) when the API can read from a point in time;
    such streams are partitioned by it, except the business's setup (``setup``). ``range_params`` are a required date range (the
    deployment's history, filled in when read); ``fixed_params`` other required values.
    """

    name: str
    module: str
    prefix: str
    session_path: str
    list_path: str | None
    export_path: str | None
    alias_exports: tuple[str, ...]
    read: str
    items_key: str | None
    list_params: tuple[str, ...]
    fixed_params: tuple[tuple[str, str], ...]
    range_params: tuple[str, ...]
    key: str | None
    cursor: str | None
    setup: bool
    core: bool
    scope: str | None
    description: str

    @property
    def partitioned(self) -> bool:
        """Whether the stream lands in partitions of its modification cursor: it has one,
        and it is not the business's setup (``setup``: types, codes, templates...), which
        lands whole."""
        return self.cursor is not None and not self.setup

    def template(self, path: str) -> str:
        """The spec's path template of one of this stream's paths (``path_template``)."""
        return path_template(path)

    def url(self, tenant_id: int | str, path: str) -> str:
        """The tenant's URL of one of this stream's paths (``list_path``, ``export_path``)."""
        return self.prefix + self.template(path).replace("{tenant}", str(tenant_id))

    @property
    def read_path(self) -> str:
        """The path (after ``{prefix}/tenant/{tenant}/``) a whole read starts from."""
        path = self.export_path if self.read == "export" else self.list_path
        assert path is not None
        return path


def path_template(path: str) -> str:
    """The spec's template of a catalog path, after the module's prefix:
    ``/tenant/{tenant}/export/jobs``; a version in the path (telecom's ``v2/calls``) comes
    before the tenant, as ServiceTitan serves it (``/v2/tenant/{tenant}/calls``)."""
    version = re.match(r"^(v\d+)/(.*)$", path)
    if version:
        return f"/{version.group(1)}/tenant/{{tenant}}/{version.group(2)}"
    return f"/tenant/{{tenant}}/{path}"


@dataclass(frozen=True)
class Module:
    """One official API module: its URL prefix and the spec file it was generated from."""

    name: str
    prefix: str
    title: str
    spec: str
    sha256: str


@cache
def _document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("streams.json").read_text()
    document: dict[str, Any] = json.loads(text)
    return document


def _stream(raw: dict[str, Any]) -> Stream:
    return Stream(
        name=raw["name"],
        module=raw["module"],
        prefix=raw["prefix"],
        session_path=raw["session_path"],
        list_path=raw["list_path"],
        export_path=raw["export_path"],
        alias_exports=tuple(raw.get("alias_exports", ())),
        read=raw["read"],
        items_key=raw["items_key"],
        list_params=tuple(raw["list_params"]),
        fixed_params=tuple(sorted(raw["fixed_params"].items())),
        range_params=tuple(raw["range_params"]),
        key=raw["key"],
        cursor=raw["cursor"],
        setup=raw["setup"],
        core=raw["core"],
        scope=raw["scope"],
        description=raw["description"],
    )


STREAMS: tuple[Stream, ...] = tuple(_stream(raw) for raw in _document()["streams"])
STREAMS_BY_NAME: dict[str, Stream] = {s.name: s for s in STREAMS}
MODULES: dict[str, Module] = {
    name: Module(name, m["prefix"], m["title"], m["spec"], m["sha256"])
    for name, m in _document()["modules"].items()
}
EXCLUDED: tuple[dict[str, str], ...] = tuple(_document()["excluded"])
"""The collection GETs of the specs that are not streams, each with why."""


@cache
def _fields_by_stream() -> dict[str, list[Node]]:
    return {raw["name"]: raw["fields"] for raw in _document()["streams"]}


def fields(name: str) -> list[Node]:
    """The fields (name plus ``Node``) the spec defines for a stream's records."""
    return _fields_by_stream()[name]


def _python_name(wire: str, taken: set[str]) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]", "_", wire).lstrip("_") or "field"
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    if name[0].isdigit() or keyword.iskeyword(name) or name in ("model_config", "schema"):
        name = f"f_{name}"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


SPEC_DECIMAL = "spec_decimal"
"""Marks a spec's ``number``/``decimal`` (landed wider than the core models' amounts)."""


def _annotation(node: Node, owner: str) -> Any:
    kind = node["type"]
    if kind == "struct":
        return _struct_model(owner, node["fields"])
    if kind == "list":
        return list[_annotation(node["items"], owner + "Item")]  # type: ignore[misc]
    simple: dict[str, Any] = {
        "int64": int,
        "float64": float,
        "bool": bool,
        "string": str,
        "date": str,
        "timestamp": UtcDatetime,
        "json": dict[str, Any],
    }
    if kind == "decimal":
        return Annotated[Decimal, SPEC_DECIMAL]
    return simple[kind]


def _nested_core(annotation: Any) -> tuple[type[StModel], int] | None:
    """The model a core field nests (through ``| None`` and lists) and its list depth."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _nested_core(args[0]) if len(args) == 1 else None
    if get_origin(annotation) is list:
        inner = _nested_core(get_args(annotation)[0])
        return None if inner is None else (inner[0], inner[1] + 1)
    if isinstance(annotation, type) and issubclass(annotation, StModel):
        return annotation, 0
    return None


def _nested_spec(node: Node) -> tuple[list[Node], int] | None:
    """The fields of the struct a spec node holds (through lists) and its list depth."""
    depth = 0
    while node["type"] == "list":
        node, depth = node["items"], depth + 1
    return (node["fields"], depth) if node["type"] == "struct" else None


def _swap_model(annotation: Any, model: type[StModel]) -> Any:
    """``annotation`` with the model it nests replaced by ``model`` (same ``| None``/lists)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return functools.reduce(operator.or_, [_swap_model(a, model) for a in get_args(annotation)])
    if get_origin(annotation) is list:
        return list[_swap_model(get_args(annotation)[0], model)]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, StModel):
        return model
    return annotation


def _extended(owner: str, info: FieldInfo, node: Node) -> tuple[Any, FieldInfo] | None:
    """A core field that nests a model, retyped to that model plus the fields the spec's
    nested struct adds (recursively), so the spec's nested fields land typed too. None
    when the spec adds nothing there, or the shapes differ (the core contract wins:
    ``business_units.trade`` is the trade's name)."""
    core, spec = _nested_core(info.annotation), _nested_spec(node)
    if core is None or spec is None or core[1] != spec[1]:
        return None
    model = _struct_model(owner, spec[0], base=core[0])
    if model is core[0]:
        return None
    # The core field's alias, default and description stay; only the nested type widens.
    return _swap_model(info.annotation, model), copy.copy(info)


def _struct_model(name: str, nodes: list[Node], base: type[StModel] = StModel) -> type[StModel]:
    taken = set(base.model_fields) if base is not StModel else set()
    known = (
        {info.alias or n: n for n, info in base.model_fields.items()} if base is not StModel else {}
    )
    definitions: dict[str, Any] = {}
    for node in nodes:
        owner = name + re.sub(r"[^0-9a-zA-Z]", "", node["name"][:1].upper() + node["name"][1:])
        if node["name"] in known:
            attribute = known[node["name"]]
            extended = _extended(owner, base.model_fields[attribute], node)
            if extended is not None:
                definitions[attribute] = extended
            continue
        annotation = _annotation(node, owner)
        definitions[_python_name(node["name"], taken)] = (
            annotation | None,
            Field(None, alias=node["name"]),
        )
    if not definitions and base is not StModel:
        return base  # the spec adds nothing to a core model: keep it as it is
    model: type[StModel] = create_model(name, __base__=base, **definitions)
    return model


def _class_name(stream: str) -> str:
    return "".join(part.capitalize() for part in stream.split("_"))


@cache
def landing_model(name: str) -> type[StModel]:
    """The model a stream's records land with: its core model plus every spec field the
    core model does not name (nested models widened the same way), or a model of the
    spec's fields."""
    from st_contract.entities import CORE_MODELS

    core = CORE_MODELS.get(name)
    if core is None:
        return _struct_model(_class_name(name), fields(name))
    return _struct_model(core.__name__, fields(name), base=core)


__all__ = [
    "EXCLUDED",
    "MODULES",
    "SPEC_DECIMAL",
    "STREAMS",
    "STREAMS_BY_NAME",
    "Module",
    "Node",
    "Stream",
    "fields",
    "landing_model",
    "path_template",
]
