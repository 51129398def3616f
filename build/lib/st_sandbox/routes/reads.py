"""Reads: ``GET /{resource}`` (pages in (modifiedOn, id) order behind a signed cursor) and
``GET /{resource}/{id}`` for every entity of the catalog, and the change feed
``GET /events`` (docs/api.md, "Reads"). Pages are joined from cached JSON bytes, so the
sandbox is never the bottleneck of a benchmark.

The routes carry comments rather than docstrings: a docstring would become the
operation's description in ``/openapi.json``, where the summary already says it.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from st_contract.entities import ENTITIES
from st_sandbox.clock import to_us
from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import SessionDep, TenantDep, json_response
from st_sandbox.store import TenantStore
from st_sandbox.table import CursorError, PageQuery
from st_sandbox.tenant import Tenant
from st_sandbox.writes.rules import etag

router = APIRouter(tags=["reads"])
IdsQ = Annotated[str | None, Query(max_length=2000, pattern="^[0-9]+(,[0-9]+)*$")]
IncludeQ = Annotated[
    str | None, Query(pattern="^(locations|memberships)(,(locations|memberships))*$")
]


async def latency(tenant: Tenant, records: int) -> None:
    """Wait the configured latency of an answer of ``records`` records."""
    cfg = tenant.config
    delay = cfg.latency_ms / 1000 + records * cfg.latency_per_record_us / 1e6
    if delay > 0:
        await asyncio.sleep(delay)


def utc_us(value: datetime | None, name: str) -> int | None:
    """Epoch µs of a query's timestamp (naive means UTC), or a 422 if out of range."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return to_us(value.astimezone(UTC))
    except (OverflowError, ValueError):
        raise ApiError(422, "validation_error", f"{name} is out of range") from None


def list_route(entity: str) -> Callable[..., Awaitable[Response]]:
    """``GET /{resource}`` of ``entity``."""

    async def list_records(
        current: SessionDep,
        tenant: TenantDep,
        pageSize: Annotated[int, Query(ge=1, le=5000)] = 500,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
        modifiedOnOrAfter: datetime | None = None,
        modifiedBefore: datetime | None = None,
        active: Annotated[str, Query(pattern="^(true|false|any)$")] = "any",
        businessUnitId: Annotated[int | None, Query(ge=1)] = None,
        ids: IdsQ = None,
        include: IncludeQ = None,
    ) -> Response:
        id_list = tuple(int(i) for i in ids.split(",")) if ids else None
        if id_list is not None and len(id_list) > 50:
            raise ApiError(422, "validation_error", "ids takes at most 50 ids; page instead")
        if include and entity != "customers":
            raise ApiError(422, "validation_error", "include is only supported on /customers")
        store = tenant.store
        query = PageQuery(
            entity=entity,
            modified_on_or_after=utc_us(modifiedOnOrAfter, "modifiedOnOrAfter"),
            modified_before=utc_us(modifiedBefore, "modifiedBefore"),
            active=active,
            business_unit_id=businessUnitId,
            ids=id_list,
            scope=store.scope_mask(current.user.business_unit_ids),
            extra=include or "",
        )
        try:
            rows, next_cursor, as_of, _scanned = store.page(query, pageSize, cursor)
        except CursorError as exc:
            raise ApiError(400, "invalid_cursor", str(exc)) from None
        if include:
            rows = nest_customer(store, rows, include.split(","))
        await latency(tenant, len(rows))
        body = (
            b'{"data":['
            + b",".join(rows)
            + b'],"nextCursor":'
            + orjson.dumps(next_cursor)
            + b',"hasMore":'
            + (b"true" if next_cursor else b"false")
            + b',"asOf":"'
            + store.stamp(as_of).encode()
            + b'"}'
        )
        return Response(body, media_type="application/json")

    list_records.__name__ = f"list_{entity}"
    return list_records


def get_route(entity: str) -> Callable[..., Awaitable[Response]]:
    """``GET /{resource}/{id}`` of ``entity`` (appointments with their ``ETag``)."""

    async def get_record(
        current: SessionDep, tenant: TenantDep, record_id: Annotated[int, Path(ge=1, le=2**62)]
    ) -> Response:
        store = tenant.store
        with store.lock:
            record = store.get(entity, record_id)
            visible = record is not None and store.visible(
                entity, record, store.scope_mask(current.user.business_unit_ids)
            )
        if record is None or not visible:
            raise ApiError(404, "not_found", f"{entity} {record_id} does not exist")
        await latency(tenant, 1)
        headers = {"ETag": etag(store, record_id)} if entity == "appointments" else None
        return json_response(record, headers=headers)

    get_record.__name__ = f"get_{entity}"
    return get_record


for _spec in ENTITIES:
    _label = _spec.name.replace("_", " ")
    router.get(_spec.path, summary=f"List {_label}")(list_route(_spec.name))
    router.get(f"{_spec.path}/{{record_id}}", summary=f"Get one of {_label}")(get_route(_spec.name))


# The change feed: events after a position, oldest first.
@router.get("/events", summary="The change feed")
async def events(
    current: SessionDep,
    tenant: TenantDep,
    after: Annotated[str | None, Query(max_length=40, pattern="^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    start = int(after) if after else 0
    chunk, total = tenant.store.events_after(start, limit)
    end = start + len(chunk)
    await latency(tenant, len(chunk))
    return json_response({"data": chunk, "nextCursor": str(end), "hasMore": end < total})


def nest_customer(store: TenantStore, rows: list[bytes], include: list[str]) -> list[bytes]:
    """Nest locations and membership summaries into customer rows (``include=``)."""
    customers = [orjson.loads(r) for r in rows]
    ids = {c["id"] for c in customers}
    with store.lock:
        locations: dict[int, list[Any]] = {}
        memberships: dict[int, list[Any]] = {}
        if "locations" in include:
            for loc in store.tables["locations"].records.values():
                if loc["customerId"] in ids:
                    locations.setdefault(loc["customerId"], []).append(loc)
        if "memberships" in include:
            for m in store.tables["memberships"].records.values():
                if m["customerId"] in ids:
                    memberships.setdefault(m["customerId"], []).append(
                        {
                            "id": m["id"],
                            "membershipTypeId": m["membershipTypeId"],
                            "status": m["status"],
                            "to": m["to"],
                        }
                    )
    for c in customers:
        if "locations" in include:
            c["locations"] = locations.get(c["id"], [])
        if "memberships" in include:
            c["memberships"] = memberships.get(c["id"], [])
    return [orjson.dumps(c) for c in customers]
