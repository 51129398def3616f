"""The v2 list and export routes of every entity the sandbox serves through v2
(``shapes.V2_ENDPOINTS``), under each module's prefix: lists page with
``page``/``pageSize``/``includeTotal`` and serve active records unless ``active=Any``;
exports walk (modifiedOn, id) order and include inactive records."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from st_sandbox.routes.deps import TenantDep
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.export import export_body, export_chunk
from st_sandbox.v2.oauth import AccessToken
from st_sandbox.v2.params import Opt, PageQ, SizeQ, external_filter, list_filter, list_page
from st_sandbox.v2.shapes import V2_ENDPOINTS, V2Endpoint, shape, where
from st_sandbox.v2.state import V2Dep, caller

router = APIRouter(route_class=V2Route, tags=["v2"])


def add_endpoint(endpoint: V2Endpoint) -> None:
    """Add ``endpoint``'s list route (and its export route, if it has one) to ``router``."""
    paths = where(endpoint)
    base = f"{paths.prefix}/tenant/{{tenant}}"
    Caller = Annotated[AccessToken, Depends(caller(paths.module))]
    entity = endpoint.entity

    async def list_records(
        current: Caller,
        sandbox: TenantDep,
        page: PageQ = 1,
        pageSize: SizeQ = 50,
        includeTotal: bool = False,
        ids: Opt = None,
        active: Opt = None,
        modifiedOnOrAfter: Opt = None,
        modifiedBefore: Opt = None,
        createdOnOrAfter: Opt = None,
        createdBefore: Opt = None,
        sort: Opt = None,
        externalDataApplicationGuid: Opt = None,
        externalDataKey: Opt = None,
        externalDataValues: Opt = None,
    ) -> Response:
        flt = list_filter(
            ids, active, modifiedOnOrAfter, modifiedBefore, createdOnOrAfter, createdBefore
        )
        external = external_filter(
            sandbox.writes.external_guids,
            entity,
            externalDataApplicationGuid,
            externalDataKey,
            externalDataValues,
        )
        store = sandbox.store
        with store.lock:
            table = store.tables[entity]
            matched = [
                rid
                for rid, rec in table.records.items()
                if flt.matches(rec, table.mod_us[rid]) and external(rid, rec)
            ]
            return list_page(
                matched,
                page,
                pageSize,
                includeTotal,
                lambda rids: [
                    shape(endpoint, orjson.loads(table.json(rid)), export=False) for rid in rids
                ],
                sort=sort,
                record=table.records.__getitem__,
            )

    async def export_records(
        current: Caller,
        sandbox: TenantDep,
        v2: V2Dep,
        from_: Annotated[str | None, Query(alias="from", max_length=2000)] = None,
        includeRecentChanges: bool = False,
    ) -> Response:
        rows, position, more = export_chunk(v2, sandbox.store, entity, from_)
        items = [shape(endpoint, r, export=True) for r in rows]
        return Response(
            export_body(v2, items, entity, position, more), media_type="application/json"
        )

    list_records.__name__ = f"v2_list_{entity}"
    export_records.__name__ = f"v2_export_{entity}"
    router.get(f"{base}/{paths.path}")(list_records)
    if paths.export:
        router.get(f"{base}/export/{paths.export}")(export_records)


for _endpoint in V2_ENDPOINTS:
    add_endpoint(_endpoint)
