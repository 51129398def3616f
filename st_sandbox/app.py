"""The sandbox tenant's HTTP API (FastAPI). docs/api.md is the contract; ``/openapi.json``
describes the same routes.

Pages are built from cached JSON bytes and returned as raw responses, so the sandbox is
never the bottleneck of a benchmark.
"""

import asyncio
import logging
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from st_contract.entities import ENTITIES
from st_sandbox.activity import ActivityEngine
from st_sandbox.auth import AuthService, Session, demo_users
from st_sandbox.clock import to_us
from st_sandbox.config import SandboxConfig
from st_sandbox.errors import ApiError
from st_sandbox.generate import TenantData, generate
from st_sandbox.limits import FAULT_CODES, FaultInjector, FaultSettings, RateLimiter, TargetedFault
from st_sandbox.store import CursorError, PageQuery, TenantStore
from st_sandbox.v2.routes import mount_v2
from st_sandbox.writes import (
    CreateJobBody,
    DispatchBody,
    IdempotencyStore,
    InvoiceBody,
    WriteService,
    etag,
    fingerprint,
)

log = logging.getLogger("st_sandbox.access")
MAX_BODY = 1024 * 1024
WRITE_ROLES = {
    "create_job": {"admin", "dispatcher"},
    "dispatch": {"admin", "dispatcher"},
    "invoice": {"admin", "accountant"},
}


@dataclass
class Tenant:
    """Everything one running sandbox holds: data, users, limits, faults and counters."""

    config: SandboxConfig
    store: TenantStore
    auth: AuthService
    writes: WriteService
    idempotency: IdempotencyStore
    limiter: RateLimiter
    faults: FaultInjector
    activity: ActivityEngine
    stats: Counter[str] = field(default_factory=Counter)
    stats_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, config: SandboxConfig, data: TenantData | None = None) -> "Tenant":
        """Generate (or take) the data and wire every service of a tenant."""
        if data is None:
            anchor = config.anchor or datetime.now(UTC).replace(microsecond=0)
            data = generate(config.seed, config.customers, anchor, config.history_days)
        store = TenantStore(data)
        if config.warm_json:
            for table in store.tables.values():
                table.warm()
        hvac = [b["id"] for b in data.tables["business_units"] if b.get("trade") == "HVAC"]
        all_bus = sorted(store.tables["business_units"].records)
        auth = AuthService(
            demo_users(hvac),
            all_bus,
            config.token_ttl,
            config.refresh_ttl,
            config.lockout_seconds,
            config.max_failed_logins,
        )
        faults = FaultInjector(
            FaultSettings(
                config.fault_rate,
                config.drop_rate,
                config.slow_rate,
                config.slow_ms,
                config.fault_seed,
            )
        )
        return cls(
            config=config,
            store=store,
            auth=auth,
            writes=WriteService(store),
            idempotency=IdempotencyStore(),
            limiter=RateLimiter(config.rate_limit),
            faults=faults,
            activity=ActivityEngine(store, config.seed + 1),
        )

    def count(self, key: str) -> None:
        with self.stats_lock:
            self.stats[key] += 1


# --- request / response models (documented in /openapi.json) ------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(Strict):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class MfaBody(Strict):
    challengeId: str = Field(min_length=1, max_length=200)
    method: str = Field(pattern="^(totp|sms|email)$")
    code: str = Field(pattern="^[0-9]{6}$")


class MfaSendBody(Strict):
    challengeId: str = Field(min_length=1, max_length=200)
    method: str = Field(pattern="^(sms|email)$")


class RefreshBody(Strict):
    refreshToken: str = Field(min_length=1, max_length=1000)


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


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _utc_us(value: datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return to_us(value.astimezone(UTC))
    except (OverflowError, ValueError):
        raise ApiError(422, "validation_error", f"{name} is out of range") from None


class SandboxMiddleware:
    """Request ids, body size cap, fault injection, counters and one log line per request.

    Pure ASGI so that a "dropped connection" can really drop it: the answer announces a
    body it never sends, and the server closes the connection.
    """

    def __init__(self, app: ASGIApp, tenant: Tenant) -> None:
        self.app = app
        self.tenant = tenant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        method, path = scope["method"], scope["path"]
        status_holder = {"status": 0}
        tenant = self.tenant
        sandbox_route = path.startswith("/_sandbox") or path in ("/openapi.json", "/docs", "/redoc")

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            length = int(dict(scope["headers"]).get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        decision = None if sandbox_route else tenant.faults.decide(method, path)
        if length > MAX_BODY:
            error = ApiError(
                413, "payload_too_large", f"the body is over {MAX_BODY} bytes; send less"
            )
            await _send_error(send_wrapped, error, request_id)
        elif decision is not None and decision[0] == "drop":
            status_holder["status"] = -1
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"4096")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"data": [', "more_body": False})
        elif decision is not None and decision[0] == "error":
            status = decision[1]
            error = ApiError(
                status, FAULT_CODES.get(status, "internal_error"), "injected fault: retry later"
            )
            await _send_error(send_wrapped, error, request_id)
        else:
            if decision is not None and decision[0] == "slow":
                await asyncio.sleep(decision[2])
            await self.app(scope, receive, send_wrapped)
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = status_holder["status"]
        tenant.count(f"{method} {path.split('/')[1] if path.count('/') else path} {status}")
        tenant.count("requests")
        if status == 429:
            tenant.count("throttled")
        if tenant.config.log_requests:
            log.info("%s %s %s %s %.1fms", request_id, method, path, status, elapsed_ms)


async def _send_error(send: Send, error: ApiError, request_id: str) -> None:
    body = orjson.dumps(error.body(request_id))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(tenant: Tenant) -> FastAPI:
    """The FastAPI application of one tenant."""
    app = FastAPI(
        title="ServiceTitan sandbox tenant (session API)",
        version="1.0",
        description="A sandbox ServiceTitan tenant; see docs/api.md.",
    )
    app.state.tenant = tenant

    def request_id(request: Request) -> str:
        return str(request.scope.get("state", {}).get("request_id", "req_unknown"))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _json(exc.body(request_id(request)), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            error = ApiError(400, "invalid_json", "the body is not valid JSON", {"errors": errors})
        else:
            first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
            where = ".".join(first["loc"])
            error = ApiError(
                422, "validation_error", f"{where}: {first['msg']}", {"errors": errors}
            )
        return _json(error.body(request_id(request)), error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        error = ApiError(exc.status_code, code, str(exc.detail))
        return _json(error.body(request_id(request)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:  # pragma: no cover
        logging.getLogger("st_sandbox").exception("unexpected error")
        error = ApiError(500, "internal_error", "unexpected server error")
        return _json(error.body(request_id(request)), 500)

    app.add_middleware(SandboxMiddleware, tenant=tenant)
    mount_v2(app, tenant)  # the official v2 surface over the same state (st_sandbox/v2/)

    # --- auth -----------------------------------------------------------------------------

    def session(authorization: Annotated[str | None, Header()] = None) -> Session:
        current = tenant.auth.authenticate(authorization)
        tenant.limiter.check(current.id)
        return current

    SessionDep = Annotated[Session, Depends(session)]

    @app.post("/sessions", tags=["sessions"], summary="Log in with username and password")
    async def login(body: LoginBody) -> Response:
        status, payload = tenant.auth.login(body.username, body.password)
        return _json(payload, status)

    @app.post("/sessions/mfa", tags=["sessions"], summary="Complete an MFA challenge")
    async def mfa(body: MfaBody) -> Response:
        return _json(tenant.auth.verify_mfa(body.challengeId, body.method, body.code))

    @app.post("/sessions/mfa/send", tags=["sessions"], summary="Send an SMS or e-mail code again")
    async def mfa_send(body: MfaSendBody) -> Response:
        tenant.auth.send_code(body.challengeId, body.method)
        return _json({"sent": True})

    @app.post("/sessions/refresh", tags=["sessions"], summary="Rotate the token pair")
    async def refresh(body: RefreshBody) -> Response:
        return _json(tenant.auth.refresh(body.refreshToken))

    @app.delete("/sessions", tags=["sessions"], summary="Log out (revoke the session)")
    async def logout(authorization: Annotated[str | None, Header()] = None) -> Response:
        tenant.auth.authenticate(authorization)
        _, _, token = (authorization or "").partition(" ")
        tenant.auth.logout(token.strip())
        return Response(status_code=204)

    # --- reads ----------------------------------------------------------------------------

    async def latency(records: int) -> None:
        cfg = tenant.config
        delay = cfg.latency_ms / 1000 + records * cfg.latency_per_record_us / 1e6
        if delay > 0:
            await asyncio.sleep(delay)

    def register_list(entity: str, path: str) -> None:
        async def list_records(
            current: SessionDep,
            pageSize: Annotated[int, Query(ge=1, le=5000)] = 500,
            cursor: Annotated[str | None, Query(max_length=2000)] = None,
            modifiedOnOrAfter: datetime | None = None,
            modifiedBefore: datetime | None = None,
            active: Annotated[str, Query(pattern="^(true|false|any)$")] = "any",
            businessUnitId: Annotated[int | None, Query(ge=1)] = None,
            ids: Annotated[str | None, Query(max_length=2000, pattern="^[0-9]+(,[0-9]+)*$")] = None,
            include: Annotated[
                str | None, Query(pattern="^(locations|memberships)(,(locations|memberships))*$")
            ] = None,
        ) -> Response:
            id_list = tuple(int(i) for i in ids.split(",")) if ids else None
            if id_list is not None and len(id_list) > 50:
                raise ApiError(422, "validation_error", "ids takes at most 50 ids; page instead")
            if include and entity != "customers":
                raise ApiError(422, "validation_error", "include is only supported on /customers")
            query = PageQuery(
                entity=entity,
                modified_on_or_after=_utc_us(modifiedOnOrAfter, "modifiedOnOrAfter"),
                modified_before=_utc_us(modifiedBefore, "modifiedBefore"),
                active=active,
                business_unit_id=businessUnitId,
                ids=id_list,
                scope=tenant.store.scope_mask(current.user.business_unit_ids),
                extra=include or "",
            )
            try:
                rows, next_cursor, as_of, _scanned = tenant.store.page(query, pageSize, cursor)
            except CursorError as exc:
                raise ApiError(400, "invalid_cursor", str(exc)) from None
            if include:
                rows = _nest_customer(tenant.store, rows, include.split(","))
            await latency(len(rows))
            body = (
                b'{"data":['
                + b",".join(rows)
                + b'],"nextCursor":'
                + orjson.dumps(next_cursor)
                + b',"hasMore":'
                + (b"true" if next_cursor else b"false")
                + b',"asOf":"'
                + tenant.store.stamp(as_of).encode()
                + b'"}'
            )
            return Response(body, media_type="application/json")

        async def get_record(
            current: SessionDep, record_id: Annotated[int, Path(ge=1, le=2**62)]
        ) -> Response:
            store = tenant.store
            with store.lock:
                record = store.get(entity, record_id)
                visible = record is not None and store.visible(
                    entity, record, store.scope_mask(current.user.business_unit_ids)
                )
            if record is None or not visible:
                raise ApiError(404, "not_found", f"{entity} {record_id} does not exist")
            await latency(1)
            headers = {"ETag": etag(store, record_id)} if entity == "appointments" else None
            return _json(record, headers=headers)

        list_records.__name__ = f"list_{entity}"
        get_record.__name__ = f"get_{entity}"
        app.get(path, tags=["reads"], summary=f"List {entity.replace('_', ' ')}")(list_records)
        app.get(
            f"{path}/{{record_id}}",
            tags=["reads"],
            summary=f"Get one of {entity.replace('_', ' ')}",
        )(get_record)

    for spec in ENTITIES:
        register_list(spec.name, spec.path)

    @app.get("/events", tags=["reads"], summary="The change feed")
    async def events(
        current: SessionDep,
        after: Annotated[str | None, Query(max_length=40, pattern="^[0-9]+$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> Response:
        start = int(after) if after else 0
        chunk, total = tenant.store.events_after(start, limit)
        end = start + len(chunk)
        await latency(len(chunk))
        return _json({"data": chunk, "nextCursor": str(end), "hasMore": end < total})

    # --- writes ---------------------------------------------------------------------------

    async def idempotent(
        request: Request, current: Session, kind: str, key: str | None, action: Any
    ) -> Response:
        if not current.user.roles or not (set(current.user.roles) & WRITE_ROLES[kind]):
            raise ApiError(
                403, "forbidden", f"user {current.user.username!r} may not {kind.replace('_', ' ')}"
            )
        if key is not None and not 1 <= len(key) <= 200:
            raise ApiError(422, "validation_error", "Idempotency-Key must be 1 to 200 characters")
        tenant.count(f"write {kind}")
        rid = request_id(request)
        if key is None:
            status, body = _run_write(action, rid)
            return _json(body, status)
        raw = await request.body()
        fp = fingerprint(request.method, request.url.path, raw)
        scope = current.user.username
        with tenant.idempotency.key_lock(scope, key):
            replay = tenant.idempotency.lookup(scope, key, fp)
            if replay is not None:
                return _json(replay[1], replay[0], {"Idempotent-Replayed": "true"})
            status, body = _run_write(action, rid)
            if status < 500:
                tenant.idempotency.remember(scope, key, fp, status, body)
            tenant.count(f"write {kind} applied" if status < 300 else f"write {kind} refused")
        return _json(body, status)

    def _run_write(action: Any, rid: str) -> tuple[int, dict[str, Any]]:
        try:
            status, body = action()
        except ApiError as exc:
            return exc.status, exc.body(rid)
        return status, body

    IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key")]

    @app.post(
        "/jobs", tags=["writes"], status_code=201, summary="Create a job with its first appointment"
    )
    async def create_job(
        request: Request,
        body: CreateJobBody,
        current: SessionDep,
        idempotency_key: IdemHeader = None,
    ) -> Response:
        return await idempotent(
            request,
            current,
            "create_job",
            idempotency_key,
            lambda: (201, tenant.writes.create_job(body)),
        )

    @app.patch(
        "/jobs/{job_id}/dispatch",
        tags=["writes"],
        summary="Assign technicians, move windows, change status",
    )
    async def dispatch(
        request: Request,
        job_id: Annotated[int, Path(ge=1, le=2**62)],
        body: DispatchBody,
        current: SessionDep,
        idempotency_key: IdemHeader = None,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> Response:

        def act() -> tuple[int, dict[str, Any]]:
            result = tenant.writes.dispatch(job_id, body, if_match)
            return 200, result

        response = await idempotent(request, current, "dispatch", idempotency_key, act)
        if response.status_code == 200:
            appointment_id = orjson.loads(response.body)["id"]
            response.headers["ETag"] = etag(tenant.store, appointment_id)
        return response

    @app.post(
        "/jobs/{job_id}/invoices",
        tags=["writes"],
        status_code=201,
        summary="Invoice a completed job",
    )
    async def create_invoice(
        request: Request,
        job_id: Annotated[int, Path(ge=1, le=2**62)],
        body: InvoiceBody,
        current: SessionDep,
        idempotency_key: IdemHeader = None,
    ) -> Response:
        return await idempotent(
            request,
            current,
            "invoice",
            idempotency_key,
            lambda: (201, tenant.writes.create_invoice(job_id, body)),
        )

    # --- sandbox-only routes --------------------------------------------------------------

    @app.get("/_sandbox/outbox", tags=["sandbox"], summary="SMS and e-mail codes sent")
    async def outbox(
        username: Annotated[str | None, Query(max_length=200)] = None,
        after: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        rows = [
            m
            for m in tenant.auth.outbox
            if m["id"] > after and (username is None or m["username"] == username)
        ]
        return _json({"data": rows})

    @app.post("/_sandbox/activity", tags=["sandbox"], summary="Run activity steps now")
    async def activity(body: ActivityBody) -> Response:
        before = len(tenant.store.events)
        changed = tenant.activity.step(body.steps)
        return _json({"changed": changed, "events": len(tenant.store.events) - before})

    @app.post("/_sandbox/faults", tags=["sandbox"], summary="Set fault injection")
    async def set_faults(body: FaultsBody) -> Response:
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
        return _json(tenant.faults.settings_dict())

    @app.delete("/_sandbox/faults", tags=["sandbox"], summary="Clear fault injection")
    async def clear_faults() -> Response:
        tenant.faults.configure(FaultSettings())
        return _json(tenant.faults.settings_dict())

    @app.get("/_sandbox/dump", tags=["sandbox"], summary="An entity as it stands, JSONL")
    async def dump(entity: Annotated[str, Query(pattern="^[a-z_]+$")]) -> Response:
        if entity not in tenant.store.tables:
            raise ApiError(404, "not_found", f"unknown entity {entity!r}")
        lines = b"\n".join(orjson.dumps(r) for r in tenant.store.iter_records(entity))
        return Response(lines + b"\n", media_type="application/x-ndjson")

    @app.get("/_sandbox/stats", tags=["sandbox"], summary="Request counters")
    async def stats() -> Response:
        with tenant.stats_lock:
            counters = dict(tenant.stats)
        return _json(
            {
                "requests": counters,
                "auth": dict(tenant.auth.stats),
                "throttled": tenant.limiter.throttled,
                "faults": tenant.faults.settings_dict(),
                "events": len(tenant.store.events),
                "records": {name: len(t.records) for name, t in tenant.store.tables.items()},
            }
        )

    return app


def _nest_customer(store: TenantStore, rows: list[bytes], include: list[str]) -> list[bytes]:
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
