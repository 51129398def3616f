"""The Reporting API over HTTP (the reports themselves: ``st_sandbox/reports.py``).

- The official paths under ``/reporting/v2/tenant/{tenant}/``: ``report-categories``,
  ``report-category/{report_category}/reports``, ``.../reports/{reportId}`` (the
  description) and ``POST .../reports/{reportId}/data`` (a run: ``{parameters: [{name,
  value}]}``, paged with ``page``/``pageSize`` up to 25,000), with the official scopes
  (``tn.rpr.reportcategories:r``, ``tn.rpr.reports:r``) and error shape.
- The session API's: ``GET /reports``, ``GET /reports/{category}/{reportId}``,
  ``POST /reports/{category}/{reportId}/data`` (docs/api.md, "Reports").
- ``GET /_sandbox/reports`` (every data call seen per report) and
  ``POST /_sandbox/reports/limit`` (a shorter window for tests).

Each call to a report's data counts against ServiceTitan's limit of 5 runs of the same
report a minute, per app and tenant (the session API: per tenant): the sixth is a 429 with
``Retry-After``.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from st_sandbox.errors import ApiError
from st_sandbox.reports import (
    CATEGORIES,
    RUNS_PER_WINDOW,
    WINDOW_SECONDS,
    ReportRunLimiter,
    category_records,
    find_category,
    find_report,
    run_page,
)
from st_sandbox.routes.deps import SessionDep, TenantDep, json_response
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.oauth import AccessToken
from st_sandbox.v2.state import caller

PREFIX = "/reporting/v2/tenant/{tenant}"
MAX_DATA_PAGE_SIZE = 25_000
PageQ = Annotated[int, Query(ge=1, le=10_000_000)]
ListSizeQ = Annotated[int, Query(ge=1, le=5000)]
DataSizeQ = Annotated[int, Query(ge=1, le=MAX_DATA_PAGE_SIZE)]
ReportIdP = Annotated[int, Path(ge=1, le=2**62)]
Categories = Annotated[AccessToken, Depends(caller("rpr.reportcategories"))]
Reports = Annotated[AccessToken, Depends(caller("rpr.reports"))]


async def get_limiter(request: Request) -> ReportRunLimiter:
    """The app's limit of report runs (made on first use; lives as long as the app)."""
    limiter: ReportRunLimiter | None = getattr(request.app.state, "report_limiter", None)
    if limiter is None:
        limiter = request.app.state.report_limiter = ReportRunLimiter()
    return limiter


LimiterDep = Annotated[ReportRunLimiter, Depends(get_limiter)]
v2_router = APIRouter(route_class=V2Route, tags=["v2 reporting"])
session_router = APIRouter(tags=["reports"])


def _page(items: list[Any], page: int, size: int, total: bool) -> dict[str, Any]:
    first = (page - 1) * size
    return {
        "page": page,
        "pageSize": size,
        "hasMore": first + size < len(items),
        "totalCount": len(items) if total else None,
        "data": items[first : first + size],
    }


async def _parameters(request: Request) -> list[Any]:
    """The ``parameters`` of a run's body (none: no parameters), or a 400."""
    raw = await request.body()
    if not raw.strip():
        return []
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "the body is not JSON") from None
    parameters = body.get("parameters", []) if isinstance(body, dict) else None
    if not isinstance(parameters, list):
        raise ApiError(400, "validation_error", "the body must be {parameters: [{name, value}]}")
    return parameters


async def _run(
    request: Request,
    sandbox: TenantDep,
    limiter: ReportRunLimiter,
    who: str,
    category: str,
    report_id: int,
    page: int,
    size: int,
    total: bool,
) -> Response:
    report = find_report(category, report_id)
    values = report.values(await _parameters(request))
    limiter.check(who, report)
    body = run_page(sandbox.store, report, values, page, size)
    if not total:
        body["totalCount"] = None
    return json_response(body)


# --- the official v2 paths ----------------------------------------------------------------


@v2_router.get(f"{PREFIX}/report-categories", summary="Report categories")
async def v2_categories(
    current: Categories, page: PageQ = 1, pageSize: ListSizeQ = 50, includeTotal: bool = False
) -> Response:
    return json_response(_page(category_records(), page, pageSize, includeTotal))


@v2_router.get(f"{PREFIX}/report-category/{{report_category}}/reports", summary="Reports")
async def v2_reports(
    current: Reports,
    report_category: str,
    page: PageQ = 1,
    pageSize: ListSizeQ = 50,
    includeTotal: bool = False,
) -> Response:
    items = [
        {"id": r.id, "name": r.name, "description": r.description}
        for r in find_category(report_category)
    ]
    return json_response(_page(items, page, pageSize, includeTotal))


@v2_router.get(
    f"{PREFIX}/report-category/{{report_category}}/reports/{{reportId}}",
    summary="A report's description",
)
async def v2_report(current: Reports, report_category: str, reportId: ReportIdP) -> Response:
    return json_response(find_report(report_category, reportId).describe())


@v2_router.post(
    f"{PREFIX}/report-category/{{report_category}}/reports/{{reportId}}/data",
    summary="Run a report",
)
async def v2_report_data(
    request: Request,
    current: Reports,
    sandbox: TenantDep,
    limiter: LimiterDep,
    report_category: str,
    reportId: ReportIdP,
    tenant: Annotated[int, Path(ge=1, le=2**62)],
    page: PageQ = 1,
    pageSize: DataSizeQ = 1000,
    includeTotal: bool = False,
) -> Response:
    who = f"v2:{current.client.app_key}:{tenant}"
    return await _run(
        request, sandbox, limiter, who, report_category, reportId, page, pageSize, includeTotal
    )


# --- the session API ----------------------------------------------------------------------


@session_router.get("/reports", summary="Report categories and their reports")
async def session_catalog(current: SessionDep) -> Response:
    return json_response(
        {
            "data": [
                {
                    "id": cid,
                    "name": name,
                    "reports": [
                        {"id": r.id, "name": r.name, "description": r.description}
                        for r in find_category(cid)
                    ],
                }
                for cid, name in CATEGORIES.items()
            ]
        }
    )


@session_router.get("/reports/{category}/{report_id}", summary="A report's description")
async def session_report(current: SessionDep, category: str, report_id: ReportIdP) -> Response:
    return json_response(find_report(category, report_id).describe())


@session_router.post("/reports/{category}/{report_id}/data", summary="Run a report")
async def session_report_data(
    request: Request,
    current: SessionDep,
    sandbox: TenantDep,
    limiter: LimiterDep,
    category: str,
    report_id: ReportIdP,
    page: PageQ = 1,
    pageSize: DataSizeQ = 1000,
) -> Response:
    return await _run(
        request, sandbox, limiter, "session", category, report_id, page, pageSize, True
    )


# --- sandbox-only -------------------------------------------------------------------------


class LimitBody(BaseModel):
    runsPerWindow: int = Field(default=RUNS_PER_WINDOW, ge=1, le=1000)
    windowSeconds: float = Field(default=WINDOW_SECONDS, gt=0, le=3600)


@session_router.get("/_sandbox/reports", summary="Report data calls seen")
async def sandbox_report_calls(limiter: LimiterDep) -> Response:
    return json_response(limiter.stats())


# Lets tests run the limit in a short window (the default stays 5 runs per 60 s).
@session_router.post("/_sandbox/reports/limit", summary="Report run limit")
async def sandbox_report_limit(body: LimitBody, limiter: LimiterDep) -> Response:
    limiter.configure(body.runsPerWindow, body.windowSeconds)
    return json_response(limiter.stats())


router = APIRouter()
router.include_router(v2_router)
router.include_router(session_router)
