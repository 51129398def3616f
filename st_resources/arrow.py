"""Arrow schemas derived from the entity models, and API records → Arrow tables.

The schema comes from the model, so an empty partition still has every column, and the
types are the warehouse's: ids ``int64``, money ``decimal128(18, 2)``, other decimals
``decimal128(18, 4)``, timestamps ``timestamp[us, UTC]``, enums ``string``, nested models
``struct``. Top-level decimal and timestamp columns are converted column-wise by Arrow
casts; nested values go through a small per-field converter.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from st_contract.catalog import SPEC_DECIMAL
from st_contract.models import Money, UtcDatetime

MONEY = pa.decimal128(18, 2)
DECIMAL = pa.decimal128(18, 4)
# A spec's decimal that no core model names: rates and quantities as well as amounts.
SPEC_DECIMAL_TYPE = pa.decimal128(38, 9)
TIMESTAMP = pa.timestamp("us", tz="UTC")
LOADED_AT = "_loaded_at"
EXTRA = "_extra"
"""The column that keeps, as JSON, every field of a record its model does not know (a
field ServiceTitan added after the spec we generated from): never dropped."""
META_COLUMNS = (EXTRA, LOADED_AT)
_MONEY_META = get_args(Money)[1:]
_UTC_META = get_args(UtcDatetime)[1:]

Convert = Callable[[Any], Any]


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        # ``SomeEnum | str`` (an open enum) is a string column.
        if len(args) > 1 and str in args:
            return str
        if len(args) == 1:
            return args[0]
    return annotation


def _field_type(
    annotation: Any, metadata: Sequence[Any] = ()
) -> tuple[pa.DataType, Convert | None]:
    """The Arrow type of a field and the converter from API values (None: as is)."""
    if get_origin(annotation) is Annotated:
        inner, *meta = get_args(annotation)
        return _field_type(inner, meta)
    annotation = _strip_optional(annotation)
    if get_origin(annotation) is Annotated:
        return _field_type(annotation)
    origin = get_origin(annotation)
    if origin is list:
        item_type, item_convert = _field_type(get_args(annotation)[0])
        if item_convert is None:
            return pa.list_(item_type), None
        return pa.list_(item_type), lambda v: None if v is None else [item_convert(x) for x in v]
    if origin is dict or annotation is dict:
        return pa.string(), lambda v: None if v is None else json.dumps(v, sort_keys=True)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _struct(annotation)
    if annotation is Decimal:
        kind = (
            MONEY
            if any(m in _MONEY_META for m in metadata)
            else SPEC_DECIMAL_TYPE
            if SPEC_DECIMAL in metadata
            else DECIMAL
        )
        return kind, _to_decimal
    if annotation is datetime:
        return TIMESTAMP, _to_datetime
    if annotation is bool:
        return pa.bool_(), None
    if annotation is int:
        return pa.int64(), None
    if annotation is float:
        return pa.float64(), lambda v: None if v is None else float(v)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return pa.string(), None
    return pa.string(), None


@cache
def _struct(model: type[BaseModel]) -> tuple[pa.DataType, Convert | None]:
    fields = []
    converters: list[tuple[str, Convert | None]] = []
    for name, info in model.model_fields.items():
        alias = info.alias or name
        arrow_type, field_convert = _field_type(info.annotation, info.metadata)
        fields.append(pa.field(alias, arrow_type))
        converters.append((alias, field_convert))

    def convert_struct(value: Any) -> Any:
        if value is None:
            return None
        return {
            alias: (fn(value.get(alias)) if fn is not None else value.get(alias))
            for alias, fn in converters
        }

    return pa.struct(fields), convert_struct


def _to_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _to_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@cache
def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The landing schema of an entity: its API fields, ``_extra`` and ``_loaded_at``."""
    struct, _ = _struct(model)
    return pa.schema(
        [
            *(struct.field(i) for i in range(struct.num_fields)),
            pa.field(EXTRA, pa.string()),
            pa.field(LOADED_AT, TIMESTAMP),
        ]
    )


@cache
def _known(model: type[BaseModel]) -> dict[str, Any]:
    """The wire names a model knows, each with the known names of its nested records
    (None for a scalar), to find what a record has beyond them."""
    known: dict[str, Any] = {}
    for info_name, info in model.model_fields.items():
        known[info.alias or info_name] = _nested_model(info.annotation)
    return known


def _nested_model(annotation: Any) -> dict[str, Any] | None:
    annotation = _strip_optional(annotation)
    if get_origin(annotation) is Annotated:
        annotation = _strip_optional(get_args(annotation)[0])
    if get_origin(annotation) is list:
        return _nested_model(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _known(annotation)
    return None


def _unknown(value: Any, known: dict[str, Any], path: str, found: dict[str, Any]) -> None:
    """Every field of ``value`` (a record, or a list of them) that ``known`` lacks, by its
    dotted path (``[]`` marks a list's items)."""
    if isinstance(value, list):
        for item in value:
            _unknown(item, known, path + "[]", found)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key not in known:
            name = f"{path}.{key}" if path else key
            if name in found and path.endswith("[]"):
                continue  # one example per field of a list's items is enough
            found[name] = item
        elif known[key] is not None and item is not None:
            _unknown(item, known[key], f"{path}.{key}" if path else key, found)


def extra_json(model: type[BaseModel], record: dict[str, Any]) -> str | None:
    """The fields of ``record`` its model does not know, as sorted JSON (None: none)."""
    found: dict[str, Any] = {}
    _unknown(record, _known(model), "", found)
    if not found:
        return None
    return json.dumps(found, sort_keys=True, default=str)


@cache
def _columns(model: type[BaseModel]) -> list[tuple[str, pa.DataType, Convert | None]]:
    out = []
    for name, info in model.model_fields.items():
        arrow_type, convert = _field_type(info.annotation, info.metadata)
        out.append((info.alias or name, arrow_type, convert))
    return out


def records_to_table(
    model: type[BaseModel], records: Sequence[dict[str, Any]], loaded_at: datetime | None = None
) -> pa.Table:
    """API records (camelCase dicts) as an Arrow table with the entity's schema."""
    schema = arrow_schema(model)
    arrays = []
    for alias, arrow_type, convert in _columns(model):
        raw = [r.get(alias) for r in records]
        arrays.append(_column(raw, arrow_type, convert, alias))
    arrays.append(pa.array([extra_json(model, r) for r in records], type=pa.string()))
    stamp = loaded_at or datetime.now(UTC)
    arrays.append(pa.array([stamp] * len(records), type=TIMESTAMP))
    return pa.Table.from_arrays(arrays, schema=schema)


def _column(
    raw: list[Any], arrow_type: pa.DataType, convert: Convert | None, name: str
) -> pa.Array:
    try:
        if convert is None:
            return pa.array(raw, type=arrow_type)
        # Column-wise: Arrow parses decimal strings and ISO timestamps itself.
        if (pa.types.is_decimal(arrow_type) or pa.types.is_timestamp(arrow_type)) and all(
            v is None or isinstance(v, str) for v in raw
        ):
            return pc.cast(pa.array(raw, type=pa.string()), arrow_type)
        return pa.array([convert(v) for v in raw], type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(
            f"column {name!r} has a value that does not fit {arrow_type}: {exc}"
        ) from exc
