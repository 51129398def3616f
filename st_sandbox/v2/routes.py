"""The sandbox's v2 surface: the official ServiceTitan API's shapes over the same tenant
state as the session API (docs/api.md, "v2 surface").

``POST /connect/token`` issues client-credentials tokens; every other route lives under
``/{module}/v2/tenant/{tenant}/`` and needs the bearer token, the app's ``ST-App-Key`` and
the module's scope. List routes page with ``page``/``pageSize``/``includeTotal`` and serve
active records unless ``active=Any``; export routes walk (modifiedOn, id) order from a
signed continuation token (or a date) and include inactive records. Writes go through the
session API's write rules (``st_sandbox/writes.py``), so double booking, invalid status
moves and validation are the same on both surfaces.
"""

import base64
import bisect
import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from st_contract.v2_paths import ASSIGNMENTS
from st_sandbox.clock import to_us
from st_sandbox.errors import ApiError
from st_sandbox.v2.invoices import InvoiceItemUpdate, patch_invoice_items
from st_sandbox.v2.oauth import DEMO_APPS, AccessToken, OAuthService
from st_sandbox.v2.shapes import V2_BY_ENTITY, V2_ENDPOINTS, V2Endpoint, shape, where
from st_sandbox.writes import DispatchBody

if TYPE_CHECKING:
    from st_sandbox.app import Tenant

MAX_PAGE_SIZE = 5000
MAX_IDS = 50
ACTIVE_VALUES = {"true": "true", "false": "false", "any": "any"}
APPOINTMENT_FIELDS = (
    "id",
    "jobId",
    "appointmentNumber",
    "start",
    "end",
    "arrivalWindowStart",
    "arrivalWindowEnd",
    "status",
    "specialInstructions",
    "createdOn",
    "modifiedOn",
)


@dataclass
class V2State:
    """The v2 surface's own state: apps and tokens, the export page size, the token key."""

    oauth: OAuthService
    export_page_size: int = 5000
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


def _v2_error(exc: ApiError, request: Request) -> Response:
    """The official error shape (``ApiErrorResponse``) for an ``ApiError``."""
    errors = {
        ".".join(str(p) for p in e.get("loc", [])) or "request": [str(e.get("msg", ""))]
        for e in exc.details.get("errors", [])
    }
    body = {
        "type": f"https://httpstatuses.io/{exc.status}",
        "title": exc.message,
        "status": exc.status,
        "traceId": str(request.scope.get("state", {}).get("request_id", "req_unknown")),
        "errors": errors,
        "data": {"code": exc.code, **{k: v for k, v in exc.details.items() if k != "errors"}},
    }
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers,
    )


class V2Route(APIRoute):
    """Answers errors of v2 routes in the official shape instead of the session API's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except ApiError as exc:
                return _v2_error(exc, request)
            except RequestValidationError as exc:
                errors = [{"loc": e.get("loc", ()), "msg": e.get("msg", "")} for e in exc.errors()]
                first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
                where = ".".join(str(p) for p in first["loc"])
                error = ApiError(
                    400, "validation_error", f"{where}: {first['msg']}", {"errors": errors}
                )
                return _v2_error(error, request)

        return handler


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RescheduleBody(Strict):
    """``Jpm.V2.AppointmentRescheduleRequest``."""

    start: datetime | None = None
    end: datetime | None = None
    arrivalWindowStart: datetime | None = None
    arrivalWindowEnd: datetime | None = None


class AssignBody(Strict):
    """``Dispatch.V2.AssignTechniciansRequest`` (and the unassign request, same shape)."""

    jobAppointmentId: int = Field(ge=1, le=2**62)
    technicianIds: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(max_length=50)


class ExportPageBody(Strict):
    exportPageSize: int = Field(ge=1, le=MAX_PAGE_SIZE)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _parse_time(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, "validation_error", f"{name} is not a date or date-time: {value!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return to_us(parsed.astimezone(UTC))
    except (OverflowError, ValueError):
        raise ApiError(400, "validation_error", f"{name} is out of range") from None


def _ids(raw: str | None, name: str = "ids") -> set[int] | None:
    if raw is None or raw == "":
        return None
    try:
        ids = {int(i) for i in raw.split(",") if i.strip()}
    except ValueError:
        raise ApiError(400, "validation_error", f"{name} must be comma-separated ids") from None
    if len(ids) > MAX_IDS:
        raise ApiError(400, "validation_error", f"{name} takes at most {MAX_IDS} ids; page instead")
    return ids


@dataclass(frozen=True)
class ListFilter:
    """The filters every v2 list route shares (``ids``, ``active``, date ranges)."""

    ids: set[int] | None
    active: str
    modified_on_or_after: int | None
    modified_before: int | None
    created_on_or_after: int | None
    created_before: int | None

    def matches(self, record: dict[str, Any], modified_us: int) -> bool:
        if self.ids is not None and record["id"] not in self.ids:
            return False
        if self.active != "any" and record.get("active", True) != (self.active == "true"):
            return False
        if self.modified_on_or_after is not None and modified_us < self.modified_on_or_after:
            return False
        if self.modified_before is not None and modified_us >= self.modified_before:
            return False
        if self.created_on_or_after is not None or self.created_before is not None:
            created = _parse_time(record.get("createdOn"), "createdOn") or 0
            if self.created_on_or_after is not None and created < self.created_on_or_after:
                return False
            if self.created_before is not None and created >= self.created_before:
                return False
        return True


T = TypeVar("T")


def _list_page(
    matched: list[T],
    page: int,
    page_size: int,
    include_total: bool,
    render: Callable[[list[T]], list[Any]],
) -> Response:
    """One page of a v2 list answer; only the page's own rows are rendered."""
    skip = (page - 1) * page_size
    body = {
        "page": page,
        "pageSize": page_size,
        "hasMore": skip + page_size < len(matched),
        "totalCount": len(matched) if include_total else None,
        "data": render(matched[skip : skip + page_size]),
    }
    return Response(orjson.dumps(body), media_type="application/json")


def mount_v2(app: FastAPI, tenant: "Tenant") -> V2State:
    """Add ``/connect/token`` and the ``/{module}/v2/tenant/{tenant}/`` routes to ``app``."""
    state = V2State(OAuthService(DEMO_APPS, tenant.config.token_ttl))
    app.state.v2 = state
    store = tenant.store
    router = APIRouter(route_class=V2Route)

    # --- token --------------------------------------------------------------------------

    @router.post("/connect/token", tags=["v2"], summary="OAuth2 client credentials token")
    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        tenant.count("v2 token")
        return _json(state.oauth.issue(form))

    def caller(module: str, write: bool = False) -> Callable[..., AccessToken]:
        scope = f"tn.{module}:{'w' if write else 'r'}"

        def dependency(
            tenant_id: Annotated[int, Path(alias="tenant", ge=1, le=2**62)],
            authorization: Annotated[str | None, Header()] = None,
            st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
        ) -> AccessToken:
            current = state.oauth.authenticate(authorization, st_app_key, tenant_id, scope)
            # 60 requests/s per app and tenant, the official limit (configurable here).
            tenant.limiter.check(f"v2:{current.client.app_key}:{tenant_id}")
            return current

        return dependency

    # --- export continuation tokens -------------------------------------------------------

    def encode_position(entity: str, position: tuple[int, int]) -> str:
        body = base64.urlsafe_b64encode(orjson.dumps([entity, *position])).decode().rstrip("=")
        sig = hmac.new(state.secret, body.encode(), hashlib.sha256).hexdigest()[:16]
        return f"{body}.{sig}"

    def decode_from(entity: str, raw: str | None) -> tuple[int, int]:
        if raw is None or raw == "":
            return (-1, -1)
        if "." not in raw or raw[:4].isdigit():
            us = _parse_time(raw, "from")
            assert us is not None
            return (us, -1)
        body, _, sig = raw.rpartition(".")
        expected = hmac.new(state.secret, body.encode(), hashlib.sha256).hexdigest()[:16]
        if not hmac.compare_digest(sig, expected):
            raise ApiError(
                400,
                "invalid_continuation_token",
                "from is not a continuation token this tenant issued: start again without it",
            )
        name, us, rid = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if name != entity:
            raise ApiError(
                400,
                "invalid_continuation_token",
                f"from belongs to the {name} export, not {entity}",
            )
        return (int(us), int(rid))

    def export_chunk(
        entity: str, raw_from: str | None
    ) -> tuple[list[dict[str, Any]], tuple[int, int], bool]:
        position = decode_from(entity, raw_from)
        with store.lock:
            table = store.tables[entity]
            start = bisect.bisect_right(table.order, position)
            keys = table.order[start : start + state.export_page_size]
            rows = [orjson.loads(table.json(rid)) for _, rid in keys]
            more = start + len(keys) < len(table.order)
        return rows, (keys[-1] if keys else position), more

    def export_body(rows: list[Any], entity: str, position: tuple[int, int], more: bool) -> bytes:
        return orjson.dumps(
            {"hasMore": more, "continueFrom": encode_position(entity, position), "data": rows}
        )

    # --- entity reads ---------------------------------------------------------------------

    def list_filter(
        ids: str | None,
        active: str | None,
        modified_on_or_after: str | None,
        modified_before: str | None,
        created_on_or_after: str | None,
        created_before: str | None,
    ) -> ListFilter:
        wanted = ACTIVE_VALUES.get((active or "true").lower())
        if wanted is None:
            raise ApiError(400, "validation_error", "active must be True, False or Any")
        return ListFilter(
            _ids(ids),
            wanted,
            _parse_time(modified_on_or_after, "modifiedOnOrAfter"),
            _parse_time(modified_before, "modifiedBefore"),
            _parse_time(created_on_or_after, "createdOnOrAfter"),
            _parse_time(created_before, "createdBefore"),
        )

    PageQ = Annotated[int, Query(ge=1, le=10_000_000)]
    SizeQ = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
    Opt = Annotated[str | None, Query(max_length=2000)]

    def register(endpoint: V2Endpoint) -> None:
        paths = where(endpoint)
        base = f"{paths.prefix}/tenant/{{tenant}}"
        Caller = Annotated[AccessToken, Depends(caller(paths.module))]
        entity = endpoint.entity

        async def list_records(
            current: Caller,
            page: PageQ = 1,
            pageSize: SizeQ = 50,
            includeTotal: bool = False,
            ids: Opt = None,
            active: Opt = None,
            modifiedOnOrAfter: Opt = None,
            modifiedBefore: Opt = None,
            createdOnOrAfter: Opt = None,
            createdBefore: Opt = None,
        ) -> Response:
            flt = list_filter(
                ids, active, modifiedOnOrAfter, modifiedBefore, createdOnOrAfter, createdBefore
            )
            with store.lock:
                table = store.tables[entity]
                matched = [
                    rid for rid, rec in table.records.items() if flt.matches(rec, table.mod_us[rid])
                ]
                return _list_page(
                    matched,
                    page,
                    pageSize,
                    includeTotal,
                    lambda rids: [
                        shape(endpoint, orjson.loads(table.json(rid)), export=False) for rid in rids
                    ],
                )

        async def export_records(
            current: Caller,
            from_: Annotated[str | None, Query(alias="from", max_length=2000)] = None,
            includeRecentChanges: bool = False,
        ) -> Response:
            rows, position, more = export_chunk(entity, from_)
            items = [shape(endpoint, r, export=True) for r in rows]
            return Response(
                export_body(items, entity, position, more), media_type="application/json"
            )

        list_records.__name__ = f"v2_list_{entity}"
        export_records.__name__ = f"v2_export_{entity}"
        router.get(f"{base}/{paths.path}", tags=["v2"])(list_records)
        if paths.export:
            router.get(f"{base}/export/{paths.export}", tags=["v2"])(export_records)

    for endpoint in V2_ENDPOINTS:
        register(endpoint)

    # --- dispatch: appointment assignments --------------------------------------------------

    dispatch_base = f"{ASSIGNMENTS.prefix}/tenant/{{tenant}}"
    DispatchRead = Annotated[AccessToken, Depends(caller(ASSIGNMENTS.module))]
    DispatchWrite = Annotated[AccessToken, Depends(caller(ASSIGNMENTS.module, write=True))]

    def assignments_of(appointments: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for appt in appointments:
            yield from appt["assignments"]

    @router.get(f"{dispatch_base}/appointment-assignments", tags=["v2"])
    async def list_assignments(
        current: DispatchRead,
        page: PageQ = 1,
        pageSize: SizeQ = 50,
        includeTotal: bool = False,
        ids: Opt = None,
        appointmentIds: Opt = None,
        jobId: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        active: Opt = None,
        modifiedOnOrAfter: Opt = None,
        modifiedBefore: Opt = None,
        createdOnOrAfter: Opt = None,
        createdBefore: Opt = None,
    ) -> Response:
        flt = list_filter(
            ids, active, modifiedOnOrAfter, modifiedBefore, createdOnOrAfter, createdBefore
        )
        appt_ids = _ids(appointmentIds, "appointmentIds")
        with store.lock:
            records = store.tables["appointments"].records
            appts: Iterator[dict[str, Any]]
            if appt_ids is not None:
                appts = (records[i] for i in sorted(appt_ids) if i in records)
            elif jobId is not None:
                appts = (records[i] for i in store.job_appointments.get(jobId, []))
            else:
                appts = iter(records.values())
            matched = sorted(
                (
                    dict(a)
                    for a in assignments_of(appts)
                    if flt.matches(a, _parse_time(a["modifiedOn"], "modifiedOn") or 0)
                ),
                key=lambda a: a["id"],
            )
        return _list_page(matched, page, pageSize, includeTotal, list)

    @router.get(f"{dispatch_base}/export/appointment-assignments", tags=["v2"])
    async def export_assignments(
        current: DispatchRead,
        from_: Annotated[str | None, Query(alias="from", max_length=2000)] = None,
        includeRecentChanges: bool = False,
    ) -> Response:
        # Walks appointments in (modifiedOn, id) order: every assignment change bumps its
        # appointment, so the appointment's position is the assignment's continuation point.
        rows, position, more = export_chunk("appointments", from_)
        items = [a for a in assignments_of(iter(rows))]
        return Response(
            export_body(items, "appointments", position, more), media_type="application/json"
        )

    def appointment_or_404(appointment_id: int) -> dict[str, Any]:
        appt = store.get("appointments", appointment_id)
        if appt is None:
            raise ApiError(404, "not_found", f"appointment {appointment_id} does not exist")
        return appt

    def dispatch_write(appt: dict[str, Any], body: DispatchBody, kind: str) -> dict[str, Any]:
        tenant.count(f"write v2 {kind}")
        result = tenant.writes.dispatch(appt["jobId"], body, None)
        return {k: result.get(k) for k in APPOINTMENT_FIELDS}

    @router.post(f"{dispatch_base}/appointment-assignments/assign-technicians", tags=["v2"])
    async def assign_technicians(body: AssignBody, current: DispatchWrite) -> Response:
        with store.lock:
            appt = appointment_or_404(body.jobAppointmentId)
            held = [a["technicianId"] for a in appt["assignments"] if a["active"]]
            techs = held + [t for t in dict.fromkeys(body.technicianIds) if t not in held]
            update = DispatchBody(appointmentId=appt["id"], technicianIds=techs)
            return _json(dispatch_write(appt, update, "assign"))

    @router.post(f"{dispatch_base}/appointment-assignments/unassign-technicians", tags=["v2"])
    async def unassign_technicians(body: AssignBody, current: DispatchWrite) -> Response:
        with store.lock:
            appt = appointment_or_404(body.jobAppointmentId)
            held = [a["technicianId"] for a in appt["assignments"] if a["active"]]
            techs = [t for t in held if t not in set(body.technicianIds)]
            update = DispatchBody(appointmentId=appt["id"], technicianIds=techs)
            return _json(dispatch_write(appt, update, "unassign"))

    JpmWrite = Annotated[AccessToken, Depends(caller("jpm", write=True))]

    @router.patch("/jpm/v2/tenant/{tenant}/appointments/{appointment_id}/reschedule", tags=["v2"])
    async def reschedule(
        appointment_id: Annotated[int, Path(ge=1, le=2**62)],
        body: RescheduleBody,
        current: JpmWrite,
    ) -> Response:
        with store.lock:
            appt = appointment_or_404(appointment_id)
            update = DispatchBody(appointmentId=appointment_id, **body.model_dump())
            tenant.count("write v2 reschedule")
            result = tenant.writes.dispatch(appt["jobId"], update, None)
            return _json(shape(V2_BY_ENTITY["appointments"], result, export=False))

    AccountingWrite = Annotated[AccessToken, Depends(caller("accounting", write=True))]

    @router.patch("/accounting/v2/tenant/{tenant}/invoices/{invoice_id}/items", tags=["v2"])
    async def invoice_items(
        invoice_id: Annotated[int, Path(ge=1, le=2**62)],
        body: InvoiceItemUpdate,
        current: AccountingWrite,
    ) -> Response:
        tenant.count("write v2 invoice items")
        patch_invoice_items(store, invoice_id, body)
        return Response(status_code=200)

    # --- sandbox-only ------------------------------------------------------------------------

    @app.post("/_sandbox/v2/export-page-size", tags=["sandbox"], summary="v2 export page size")
    async def export_page_size(body: ExportPageBody) -> Response:
        state.export_page_size = body.exportPageSize
        return _json({"exportPageSize": state.export_page_size})

    app.include_router(router)
    return state
