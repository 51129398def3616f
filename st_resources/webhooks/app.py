"""The webhook receiver, a small ASGI app (Starlette).

``POST /servicetitan/webhooks``: the signature (``SIGNATURE_HEADER``) is checked over the
raw body in constant time, missing or wrong → 401 and nothing stored; a body that is not
an event → 400; the event is stored durably before the 200, and a delivery whose event id
is already stored answers 200 without storing it again (ServiceTitan delivers at least
once). ``GET /healthz`` answers 200 while the store is reachable.
"""

from __future__ import annotations

import logging

import anyio.to_thread
import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from st_contract.webhooks import SIGNATURE_HEADER, WebhookEvent, check_hmac_key, verify
from st_resources.webhooks.store import WebhookStore

PATH = "/servicetitan/webhooks"
MAX_BODY = 5_000_000  # bytes; a record is a few KB

log = logging.getLogger("st_resources.webhooks")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _parse(body: bytes) -> WebhookEvent:
    """The event in ``body``; ``ValueError`` naming what is wrong (never the body)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("the body is not a JSON object")
    try:
        return WebhookEvent.model_validate(value)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise ValueError(f"the event has invalid or missing fields: {', '.join(fields)}") from None


def create_app(store: WebhookStore, hmac_key: str) -> Starlette:
    """The receiver storing into ``store``, accepting deliveries signed with ``hmac_key``."""
    key = check_hmac_key(hmac_key)

    async def receive(request: Request) -> Response:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:  # refused before it is read
            return _error(413, f"the body is over {MAX_BODY} bytes")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, f"the body is over {MAX_BODY} bytes")
        if not verify(key, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("webhook refused: missing or invalid %s", SIGNATURE_HEADER)
            return _error(401, f"missing or invalid {SIGNATURE_HEADER}")
        try:
            event = _parse(body)
        except ValueError as exc:
            return _error(400, str(exc))
        # The database call blocks: keep it off the event loop.
        stored = await anyio.to_thread.run_sync(store.add, event, body)
        return JSONResponse({"eventId": event.eventId, "stored": stored})

    async def healthz(_: Request) -> Response:
        count = await anyio.to_thread.run_sync(store.count)
        return JSONResponse({"ok": True, "events": count})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"]), Route("/healthz", healthz)])
