"""A list page's response bytes → an Arrow table with the entity's landing schema.

The fast path hands the whole body to Arrow's JSON reader (C++, releases the GIL) with an
explicit schema for the page envelope (``data`` as ``list<struct>`` of the model's fields,
``hasMore``, ``nextCursor``; anything else ignored) and flattens ``data``: no Python dict
is ever built. The reader is strict about JSON types (a number where a string is expected,
an object where a list is expected... is an error, never a silent coercion), so whatever it
cannot decode goes to the Python path (``json.loads`` + ``records_to_table``) for that
page: nothing is lost, and real bad data raises the same error as the Python path does.

Where the two paths could disagree, the fast path does what the Python path does:

- top-level timestamp columns are read as strings and cast by Arrow, exactly like
  ``records_to_table`` (so a timestamp without a zone offset fails the same way);
- decimals given as JSON numbers are parsed from their text, never through a float; the
  Python fallback parses them with ``Decimal`` too, so both paths are exact;
- a ``null`` record, a page that is not one JSON object, a missing ``data``: Python path.

Pages of other shapes (the v2 API's) say how they differ in a ``PageShape``: the
envelope's continuation field, fields read as another JSON type and converted
column-wise, and the same reshaping per record for the Python path.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from pydantic import BaseModel

from st_resources.arrow import (
    EXTRA,
    LOADED_AT,
    META_COLUMNS,
    TIMESTAMP,
    arrow_schema,
    records_to_table,
)

log = logging.getLogger("st_resources.page_decode")

# The reader's block must hold the whole page (one JSON object is one row), plus slack.
_MIN_BLOCK = 1 << 20


@dataclass(frozen=True)
class PageShape:
    """How a page differs from the session API's: the envelope's continuation field
    (``None``: the list pages of v2, numbered), top-level fields sent as another JSON
    type (read as ``read_as`` and turned into the model's type by ``convert``), and the
    same reshaping for the Python path, one record at a time (``reshape``)."""

    cursor: str | None = "nextCursor"
    read_as: tuple[tuple[str, pa.DataType], ...] = ()
    convert: Callable[[str, pa.Array], pa.Array] | None = None
    reshape: Callable[[dict[str, Any]], dict[str, Any]] | None = None


SESSION_PAGE = PageShape()


class FastDecodeError(Exception):
    """The fast path cannot decode this page (the Python path must)."""


@dataclass(frozen=True)
class PageTable:
    """One decoded page: its records as a table, and how to get the next page."""

    table: pa.Table
    has_more: bool
    next_cursor: str | None


@cache
def _read_schema(model: type[BaseModel], shape: PageShape) -> pa.Schema:
    """The envelope schema the JSON reader gets for pages of ``model``."""
    fields = [f for f in arrow_schema(model) if f.name not in META_COLUMNS]
    read_as = dict(shape.read_as)
    # Top-level timestamps as strings: the Python path casts those column-wise, and a cast
    # rejects a zone-less timestamp that the reader would take as UTC.
    read_fields = [
        pa.field(f.name, read_as[f.name])
        if f.name in read_as
        else pa.field(f.name, pa.string())
        if pa.types.is_timestamp(f.type)
        else f
        for f in fields
    ]
    envelope = [pa.field("hasMore", pa.bool_())]
    if shape.cursor is not None:
        envelope.append(pa.field(shape.cursor, pa.string()))
    return pa.schema([pa.field("data", pa.list_(pa.struct(read_fields))), *envelope])


def fast_page_table(
    model: type[BaseModel], body: bytes, loaded_at: datetime, shape: PageShape = SESSION_PAGE
) -> PageTable:
    """Decode a page in C++; raises ``FastDecodeError`` for what only Python decodes."""
    read_options = pa_json.ReadOptions(use_threads=False, block_size=max(_MIN_BLOCK, len(body) + 1))
    parse_options = pa_json.ParseOptions(
        explicit_schema=_read_schema(model, shape), unexpected_field_behavior="infer"
    )
    try:
        envelope = pa_json.read_json(
            pa.BufferReader(body), read_options=read_options, parse_options=parse_options
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise FastDecodeError(str(exc)) from None
    if envelope.num_rows != 1:
        raise FastDecodeError(f"the body holds {envelope.num_rows} JSON values, not one object")
    data = envelope.column("data").combine_chunks()
    if data.null_count:
        raise FastDecodeError("the page has no data list")
    if data.type != _read_schema(model, shape).field("data").type:
        # A field the model does not know, at any depth: the Python path keeps it (_extra).
        raise FastDecodeError("the page has fields the model does not know")
    records = data.flatten()
    if records.null_count:
        raise FastDecodeError("a record is null")
    schema = arrow_schema(model)
    arrays: list[pa.Array] = []
    for i, field in enumerate(schema):
        if field.name == LOADED_AT:
            arrays.append(pa.repeat(pa.scalar(loaded_at, TIMESTAMP), len(records)))
            continue
        if field.name == EXTRA:
            arrays.append(pa.nulls(len(records), pa.string()))
            continue
        column = records.field(i)
        if shape.convert is not None and field.name in dict(shape.read_as):
            column = shape.convert(field.name, column)
        if column.type != field.type:
            try:
                column = pc.cast(column, field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise FastDecodeError(f"column {field.name!r}: {exc}") from None
        arrays.append(column)
    has_more = envelope.column("hasMore")[0].as_py()
    next_cursor = envelope.column(shape.cursor)[0].as_py() if shape.cursor else None
    return PageTable(pa.Table.from_arrays(arrays, schema=schema), bool(has_more), next_cursor)


def python_page_table(
    model: type[BaseModel], body: bytes, loaded_at: datetime, shape: PageShape = SESSION_PAGE
) -> PageTable:
    """Decode a page through Python dicts (``records_to_table``); numbers that go to decimal
    columns are parsed as ``Decimal``, so no money passes through a float."""
    payload = json.loads(body, parse_float=Decimal)
    records = payload["data"]
    if shape.reshape is not None:
        records = [shape.reshape(r) for r in records]
    table = records_to_table(model, records, loaded_at)
    cursor = payload.get(shape.cursor) if shape.cursor else None
    return PageTable(table, bool(payload.get("hasMore")), cursor)


_logged: set[str] = set()
_logged_lock = threading.Lock()


def decode_page(
    model: type[BaseModel], body: bytes, loaded_at: datetime, shape: PageShape = SESSION_PAGE
) -> PageTable:
    """A page as an Arrow table: the fast path, else the Python path for this page."""
    try:
        return fast_page_table(model, body, loaded_at, shape)
    except FastDecodeError as exc:
        with _logged_lock:
            first = model.__name__ not in _logged
            _logged.add(model.__name__)
        if first:
            # Once per model: a server that sends one odd shape usually sends it on every page.
            log.debug("decoding %s pages in Python (%.200s)", model.__name__, exc)
    return python_page_table(model, body, loaded_at, shape)
