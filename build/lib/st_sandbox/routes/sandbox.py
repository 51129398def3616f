"""``/_sandbox/*``: controls a real tenant does not have, for tests, demos and benchmarks
(docs/api.md, "Sandbox controls"): the SMS/e-mail outbox, activity steps, fault
injection, ground-truth dumps, counters and the v2 export page size. No login: the
sandbox is a local test double.

The routes carry comments rather than docstrings: a docstring would become the
operation's description in ``/openapi.json``, where the summary already says it.
"""

from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from st_sandbox.errors import ApiError
from st_sandbox.limits import FaultSettings, TargetedFault
from st_sandbox.routes.deps import TenantDep, json_response
from st_sandbox.v2.state import MAX_PAGE_SIZE, V2Dep

router = APIRouter(tags=["sandbox"])


# Request bodies refuse unknown fields.
class Strict(BaseModel):
    """Request bodies refuse unknown fields so that a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class ActivityBody(Strict):
    steps: int = Field(default=1, ge=1, le=10_000)


class TargetedFaultBody(Strict):
    route: str = Field(min_length=1, max_length=200)
    nth: int = Field(default=1, ge=1, le=1_000_000)
    status: int | str = 503
    times: int = Field(default=1, ge=1, le=1_000_000)
    method: str | None = None


class FaultsBody(Strict):
    faultRate: float = Field(default=0.0, ge=0, le=1)
    dropRate: float = Field(default=0.0, ge=0, le=1)
    slowRate: float = Field(default=0.0, ge=0, le=1)
    slowMs: float = Field(default=0.0, ge=0, le=60_000)
    seed: int = 0
    targeted: list[TargetedFaultBody] = Field(default_factory=list, max_length=100)


class ExportPageBody(Strict):
    exportPageSize: int = Field(ge=1, le=MAX_PAGE_SIZE)


# The codes the sandbox "sent" by SMS and e-mail, after an id, for one user or all.
@router.get("/_sandbox/outbox", summary="SMS and e-mail codes sent")
async def outbox(
    tenant: TenantDep,
    username: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    rows = [
        m
        for m in tenant.auth.outbox
        if m["id"] > after and (username is None or m["username"] == username)
    ]
    return json_response({"data": rows})


@router.post("/_sandbox/activity", summary="Run activity steps now")
async def activity(body: ActivityBody, tenant: TenantDep) -> Response:
    before = len(tenant.store.events)
    changed = tenant.activity.step(body.steps)
    return json_response({"changed": changed, "events": len(tenant.store.events) - before})


@router.post("/_sandbox/faults", summary="Set fault injection")
async def set_faults(body: FaultsBody, tenant: TenantDep) -> Response:
    tenant.faults.configure(
        FaultSettings(
            body.faultRate,
            body.dropRate,
            body.slowRate,
            body.slowMs,
            body.seed,
            [TargetedFault(t.route, t.nth, t.status, t.times, t.method) for t in body.targeted],
        )
    )
    return json_response(tenant.faults.settings_dict())


@router.delete("/_sandbox/faults", summary="Clear fault injection")
async def clear_faults(tenant: TenantDep) -> Response:
    tenant.faults.configure(FaultSettings())
    return json_response(tenant.faults.settings_dict())


# Every record of an entity as it stands, by id: the ground truth tests compare with.
@router.get("/_sandbox/dump", summary="An entity as it stands, JSONL")
async def dump(tenant: TenantDep, entity: Annotated[str, Query(pattern="^[a-z_]+$")]) -> Response:
    if entity not in tenant.store.tables:
        raise ApiError(404, "not_found", f"unknown entity {entity!r}")
    lines = b"\n".join(orjson.dumps(r) for r in tenant.store.iter_records(entity))
    return Response(lines + b"\n", media_type="application/x-ndjson")


@router.get("/_sandbox/stats", summary="Request counters")
async def stats(tenant: TenantDep) -> Response:
    with tenant.stats_lock:
        counters = dict(tenant.stats)
    return json_response(
        {
            "requests": counters,
            "auth": dict(tenant.auth.stats),
            "throttled": tenant.limiter.throttled,
            "faults": tenant.faults.settings_dict(),
            "events": len(tenant.store.events),
            "records": {name: len(t.records) for name, t in tenant.store.tables.items()},
        }
    )


# Lets tests cover several export pages of a small tenant.
@router.post("/_sandbox/v2/export-page-size", summary="v2 export page size")
async def export_page_size(body: ExportPageBody, v2: V2Dep) -> Response:
    v2.export_page_size = body.exportPageSize
    return json_response({"exportPageSize": v2.export_page_size})
