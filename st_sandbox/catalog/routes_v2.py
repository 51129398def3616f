"""The official v2 read paths of every non-core catalog stream, under its module's prefix
(``{prefix}/tenant/{tenant}/...``), over the same tables as the session API:

- numbered lists (``list_path``): ``page``/``pageSize`` (≤ 5000)/``includeTotal``, the
  filters the stream's spec lists (``ids``, ``active`` — active records only by default
  where the spec has it —, modified and created date ranges) and a required date range
  (``range_params``, e.g. ``fromUtc``/``toUtc``: a 400 when missing) on the record's date;
  the official envelope ``{page, pageSize, hasMore, totalCount, data}``; the items are
  the stored records, less ``LIST_OMITS``, or in another model where the spec says so
  (``list_shapes.LIST_SHAPES``: telecom's call bundles);
- exports (``export_path`` and each alias): (modifiedOn, id) order behind the signed
  continuation tokens of ``v2/export.py``, envelope ``{hasMore, continueFrom, data}``;
- unpaged answers in their spec's shape (``items_key``): ``{data: [...]}``, a JSON array,
  or the one settings object.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from st_contract.catalog import STREAMS, Stream, path_template
from st_sandbox.catalog.list_shapes import LIST_SHAPES
from st_sandbox.catalog.streams import (
    CORE_ROUTED,
    LIST_OMITS,
    SERVED,
    layout,
    module_of,
    top_nodes,
)
from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import TenantDep
from st_sandbox.store import TenantStore
from st_sandbox.table import Table
from st_sandbox.v2 import reads as v2_reads
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.export import export_body, export_chunk
from st_sandbox.v2.oauth import AccessToken
from st_sandbox.v2.params import ListFilter, Opt, PageQ, SizeQ, list_filter, list_page, parse_time
from st_sandbox.v2.state import V2Dep, caller

router = APIRouter(route_class=V2Route, tags=["v2 catalog"])
Handler = Callable[..., Awaitable[Response]]


def _filter(stream: Stream, request: Request) -> ListFilter:
    """The list filter of a request, with only the parameters the stream's spec lists
    (``active`` defaults to true only where it does)."""
    q = request.query_params
    listed = set(stream.list_params)

    def get(name: str) -> str | None:
        return q.get(name) if name in listed else None

    active = get("active") if "active" in listed else "any"
    if "active" in listed and "active" not in top_nodes(stream.name):
        active = "any"  # listed but the records carry no flag: every record is active
    return list_filter(
        get("ids") if layout(stream.name).int_id else None,
        active,
        get("modifiedOnOrAfter"),
        get("modifiedBefore"),
        get("createdOnOrAfter"),
        get("createdBefore"),
    )


def _in_range(stream: Stream, request: Request) -> Callable[[dict[str, Any]], bool]:
    """The required date range of a stream (a 400 when a bound is missing), as a test of
    a record's date; always true for streams without one."""
    if not stream.range_params:
        return lambda record: True
    bounds = []
    for name in stream.range_params:
        raw = request.query_params.get(name)
        if not raw:
            raise ApiError(400, "validation_error", f"{name} is required")
        bounds.append(parse_time(raw, name))
    lo, hi = bounds[0], bounds[-1]
    field = layout(stream.name).range_field
    if field is None:
        return lambda record: True

    def within(record: dict[str, Any]) -> bool:
        value = parse_time(record.get(field), field)
        return value is not None and lo is not None and hi is not None and lo <= value < hi

    return within


def _matched(stream: Stream, table: Table, request: Request) -> list[int]:
    """The keys of the records a list or unpaged request selects, in key order."""
    flt = _filter(stream, request)
    within = _in_range(stream, request)
    int_id = layout(stream.name).int_id
    out = []
    for key in sorted(table.records):
        record = table.records[key]
        if flt.ids is not None and (not int_id or key not in flt.ids):
            continue
        if not within(record):
            continue
        probe = record if int_id else {**record, "id": key}
        if flt.matches(probe, table.mod_us[key]):
            out.append(key)
    return out


def list_route(stream: Stream) -> Handler:
    """The numbered-page list route of a stream."""
    Caller = Annotated[AccessToken, Depends(caller(module_of(stream)))]

    async def list_records(
        current: Caller,
        sandbox: TenantDep,
        request: Request,
        page: PageQ = 1,
        pageSize: SizeQ = 50,
        includeTotal: bool = False,
        ids: Opt = None,
        active: Opt = None,
    ) -> Response:
        store = sandbox.store
        with store.lock:
            matched = _matched(stream, store.tables[stream.name], request)
            return list_page(
                matched, page, pageSize, includeTotal, lambda keys: render(store, keys)
            )

    render = list_renderer(stream)
    list_records.__name__ = f"v2_list_{stream.name}"
    return list_records


def list_renderer(stream: Stream) -> Callable[[TenantStore, list[int]], list[Any]]:
    """The list items of a page of a stream's records (by key): the stored records, less
    the fields only its export carries (``LIST_OMITS``), or the stream's list model
    (``LIST_SHAPES``) where its list answers another one than its export."""
    shape = LIST_SHAPES.get(stream.name)
    if shape is not None:
        items = shape.render

        def shaped(store: TenantStore, keys: list[int]) -> list[Any]:
            records = store.tables[stream.name].records
            return items(store, [records[k] for k in keys])

        return shaped
    omit = LIST_OMITS.get(stream.name, ())

    def stored(store: TenantStore, keys: list[int]) -> list[Any]:
        table = store.tables[stream.name]
        if not omit:
            return [orjson.Fragment(table.json(k)) for k in keys]
        out = []
        for key in keys:
            record = orjson.loads(table.json(key))
            for name in omit:
                record.pop(name, None)
            out.append(record)
        return out

    return stored


def unpaged_route(stream: Stream) -> Handler:
    """The one-answer route of a stream, shaped as its spec says (``items_key``)."""
    Caller = Annotated[AccessToken, Depends(caller(module_of(stream)))]

    async def unpaged(current: Caller, sandbox: TenantDep, request: Request) -> Response:
        store = sandbox.store
        with store.lock:
            table = store.tables[stream.name]
            rows = [table.json(k) for k in _matched(stream, table, request)]
        if stream.items_key == "":
            body = rows[0] if rows else b"{}"
        elif stream.items_key is None:
            body = b"[" + b",".join(rows) + b"]"
        else:
            body = orjson.dumps({stream.items_key: [orjson.Fragment(r) for r in rows]})
        return Response(body, media_type="application/json")

    unpaged.__name__ = f"v2_unpaged_{stream.name}"
    return unpaged


def export_route(stream: Stream, path: str) -> Handler:
    """An export route of a stream (its own export path or an alias)."""
    Caller = Annotated[AccessToken, Depends(caller(module_of(stream)))]

    async def export_records(
        current: Caller,
        sandbox: TenantDep,
        v2: V2Dep,
        from_: Annotated[str | None, Query(alias="from", max_length=2000)] = None,
        includeRecentChanges: bool = False,
    ) -> Response:
        rows, position, more = export_chunk(v2, sandbox.store, stream.name, from_)
        return Response(
            export_body(v2, rows, stream.name, position, more), media_type="application/json"
        )

    export_records.__name__ = f"v2_export_{stream.name}_{path.replace('/', '_')}"
    return export_records


def add_stream(stream: Stream) -> None:
    """Add every official read path of ``stream`` to ``router``."""
    label = stream.name.replace("_", " ")
    if stream.list_path is not None:
        handler = unpaged_route(stream) if stream.read == "unpaged" else list_route(stream)
        _add(stream, stream.list_path, f"List {label}", handler)
    for path in (stream.export_path, *stream.alias_exports):
        if path:
            _add(stream, path, f"Export {label}", export_route(stream, path))


def _add(stream: Stream, path: str, summary: str, handler: Handler) -> None:
    """Route ``path`` of a stream where its spec has it: a versioned path (telecom's
    ``v2/calls``) at ``{prefix}/v2/tenant/{tenant}/calls`` only, as ServiceTitan serves it
    (``Stream.url``); ``{prefix}/tenant/{tenant}/v2/calls`` is a 404 there too."""
    router.get(stream.prefix + path_template(path), summary=summary)(handler)


def add_core_alias(stream: Stream, path: str) -> None:
    """A core entity's alias export (sales ``estimates/export``): its export route's
    handler (``v2/reads.py``) at the alias path too."""
    target = f"{stream.prefix}/tenant/{{tenant}}/{stream.export_path}"
    for route in v2_reads.router.routes:
        if isinstance(route, APIRoute) and route.path == target:
            router.get(
                f"{stream.prefix}/tenant/{{tenant}}/{path}",
                summary=f"Export {stream.name.replace('_', ' ')}",
            )(route.endpoint)


for _stream in SERVED:
    if _stream.name not in CORE_ROUTED:  # the core's routes serve those
        add_stream(_stream)
for _stream in STREAMS:
    if _stream.core:
        for _alias in _stream.alias_exports:
            add_core_alias(_stream, _alias)
