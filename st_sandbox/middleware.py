"""The sandbox's ASGI middleware: request ids, the body size cap, unlicensed modules,
injected faults (errors, slow answers, dropped connections), the request counters and
one log line per request."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from st_sandbox.attachments import is_attachment_upload
from st_sandbox.errors import ApiError
from st_sandbox.limits import FAULT_CODES
from st_sandbox.tenant import Tenant
from st_sandbox.v2.errors import is_v2_path, v2_body

log = logging.getLogger("st_sandbox.access")
MAX_BODY = 1024 * 1024


class SandboxMiddleware:
    """Request ids, body size cap, fault injection, counters and one log line per request.

    Pure ASGI so that a "dropped connection" can really drop it: the answer announces a
    body it never sends, and the server closes the connection.
    """

    def __init__(self, app: ASGIApp, tenant: Tenant) -> None:
        self.app = app
        self.tenant = tenant
        # Spelled as in URLs (``service-agreements``) or as catalog modules (``_``).
        self.unlicensed = {_module_key(m) for m in tenant.config.unlicensed_modules}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        method, path = scope["method"], scope["path"]
        status_holder = {"status": 0}

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._answer(scope, receive, send, send_wrapped, status_holder)
        self._record(method, path, status_holder["status"], request_id, started)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        send_wrapped: Send,
        status_holder: dict[str, int],
    ) -> None:
        """Refuse an oversized body, inject the fault the injector decides, or pass on."""
        method, path = scope["method"], scope["path"]
        request_id = scope["state"]["request_id"]
        sandbox_route = path.startswith("/_sandbox") or path in ("/openapi.json", "/docs", "/redoc")
        try:
            length = int(dict(scope["headers"]).get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        decision = None if sandbox_route else self.tenant.faults.decide(method, path)
        module = path.split("/", 2)[1] if path.count("/") else ""
        if self.unlicensed and _module_key(module) in self.unlicensed:
            error = ApiError(
                403,
                "module_not_licensed",
                f"the tenant has not licensed the {module} module",
                {"module": module},
            )
            await send_error(send_wrapped, error, request_id, official=is_v2_path(path))
        elif length > MAX_BODY and not is_attachment_upload(method, path):
            error = ApiError(
                413, "payload_too_large", f"the body is over {MAX_BODY} bytes; send less"
            )
            await send_error(send_wrapped, error, request_id)
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
            await send_error(send_wrapped, error, request_id)
        else:
            if decision is not None and decision[0] == "slow":
                await asyncio.sleep(decision[2])
            await self.app(scope, receive, send_wrapped)

    def _record(self, method: str, path: str, status: int, request_id: str, started: float) -> None:
        """Count the request (``GET /_sandbox/stats``) and log it."""
        tenant = self.tenant
        elapsed_ms = (time.perf_counter() - started) * 1000
        tenant.count(f"{method} {path.split('/')[1] if path.count('/') else path} {status}")
        tenant.count("requests")
        if status == 429:
            tenant.count("throttled")
        if tenant.config.log_requests:
            log.info("%s %s %s %s %.1fms", request_id, method, path, status, elapsed_ms)


def _module_key(module: str) -> str:
    return module.lower().replace("-", "_")


async def send_error(send: Send, error: ApiError, request_id: str, official: bool = False) -> None:
    """Answer ``error`` in the session API's shape (the official one if ``official``),
    straight on the ASGI channel."""
    body = orjson.dumps(v2_body(error, request_id) if official else error.body(request_id))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
