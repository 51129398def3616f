"""v2 pages as Arrow tables: the byte decoder of the session backend (``page_decode``)
with each v2 envelope (``continueFrom`` for exports, numbered list pages) and the few
fields whose v2 shape differs from the session API's, reshaped column-wise; a page the
decoder cannot take goes through ``to_session_shape`` and ``records_to_table`` instead.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from st_resources.page_decode import PageShape, PageTable, decode_page
from st_resources.transport import Call, Transport

# How a page is continued: numbered list pages, or an export's token.
BY_PAGE = "page"
BY_TOKEN = "from"


def to_session_shape(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """A v2 record in the shape of the session API's (``st_contract.models``)."""
    if entity == "business_units" and isinstance(record.get("trade"), dict):
        record["trade"] = record["trade"].get("name")
    if entity == "payments" and isinstance(record.get("typeId"), str):
        record["typeId"] = int(record["typeId"]) if record["typeId"].isdigit() else None
    return record


def _digits_to_int(name: str, column: pa.Array) -> pa.Array:
    """A v2 id sent as text (``payments.typeId``): its number, null when not digits."""
    digits = pc.match_substring_regex(column, r"^[0-9]+$")
    return pc.cast(pc.if_else(digits, column, pa.scalar(None, pa.string())), pa.int64())


def _trade_name(name: str, column: pa.Array) -> pa.Array:
    """A v2 business unit's ``trade`` object: its name, as the session API sends it."""
    return pc.struct_field(column, "name")


_READ_AS: dict[str, tuple[tuple[tuple[str, pa.DataType], ...], Any]] = {
    "payments": ((("typeId", pa.string()),), _digits_to_int),
    # The spec's whole trade object (``id`` too): a field the reader does not expect
    # would send every page to the Python path.
    "business_units": (
        (("trade", pa.struct([("id", pa.int64()), ("name", pa.string())])),),
        _trade_name,
    ),
}


def page_shape(entity: str, cursor: str | None) -> PageShape:
    """How ``entity``'s v2 pages differ from the session API's (``page_decode``): the
    continuation field (``continueFrom`` for exports, none for numbered lists) and the
    fields ``to_session_shape`` reshapes, done column-wise."""
    read_as, convert = _READ_AS.get(entity, ((), None))
    return PageShape(
        cursor=cursor,
        read_as=read_as,
        convert=convert,
        reshape=functools.partial(to_session_shape, entity),
    )


def table_pages(
    transport: Transport,
    entity: str,
    model: type[BaseModel],
    url: str,
    query: dict[str, Any],
    loaded_at: datetime,
    priority: int = 0,
) -> Iterator[PageTable]:
    """Every page of a list (``query`` has ``page``) or an export (``query`` has
    ``from``) from ``query`` on, decoded from bytes; closing the iterator stops the reads."""
    advance = BY_TOKEN if BY_TOKEN in query else BY_PAGE
    shape = page_shape(entity, "continueFrom" if advance == BY_TOKEN else None)
    while True:
        response = transport.request(Call("GET", url, params=query, priority=priority))
        page = decode_page(model, response.content, loaded_at, shape)
        transport.metrics.add(pages=1, records=page.table.num_rows)
        yield page
        if not page.has_more:
            return
        following = page.next_cursor if advance == BY_TOKEN else int(query[BY_PAGE]) + 1
        query = {**query, advance: following}
