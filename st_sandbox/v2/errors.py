"""Errors of the v2 surface in the official shape (``ApiErrorResponse``) instead of the
session API's: those of v2 routes (``V2Route``), and of any request under a v2 module's
prefix that no route answers (``is_v2_path``: unknown routes, methods, unlicensed modules)."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from st_contract.catalog import MODULES
from st_sandbox.errors import ApiError

# ``/{module}/v2/...`` (any module, licensed, served or not), and the tenant paths of the
# official prefixes that carry no version (``/telecom/tenant/...``: the session API's
# ``/telecom/{resource}`` paths keep the session shape).
_VERSIONED = re.compile(r"^/[^/]+/v\d+(/|$)")
_PREFIXES = tuple(sorted({m.prefix for m in MODULES.values() if not _VERSIONED.match(m.prefix)}))


def is_v2_path(path: str) -> bool:
    """Whether ``path`` lies under a v2 module's prefix (its errors take the official shape)."""
    return bool(_VERSIONED.match(path)) or any(
        path.startswith(prefix + "/tenant/") for prefix in _PREFIXES
    )


def v2_body(exc: ApiError, request_id: str) -> dict[str, Any]:
    """The official error body (``ApiErrorResponse``) of an ``ApiError``."""
    errors = {
        ".".join(str(p) for p in e.get("loc", [])) or "request": [str(e.get("msg", ""))]
        for e in exc.details.get("errors", [])
    }
    return {
        "type": f"https://httpstatuses.io/{exc.status}",
        "title": exc.message,
        "status": exc.status,
        "traceId": request_id,
        "errors": errors,
        "data": {"code": exc.code, **{k: v for k, v in exc.details.items() if k != "errors"}},
    }


def v2_error(exc: ApiError, request: Request) -> Response:
    """The official error answer (``ApiErrorResponse``) for an ``ApiError``."""
    request_id = str(request.scope.get("state", {}).get("request_id", "req_unknown"))
    return Response(
        orjson.dumps(v2_body(exc, request_id)),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers,
    )


class V2Route(APIRoute):
    """Answers errors of v2 routes in the official shape instead of the session API's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, wrapped to turn errors into ``ApiErrorResponse``."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except ApiError as exc:
                return v2_error(exc, request)
            except RequestValidationError as exc:
                errors = [{"loc": e.get("loc", ()), "msg": e.get("msg", "")} for e in exc.errors()]
                first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
                where = ".".join(str(p) for p in first["loc"])
                error = ApiError(
                    400, "validation_error", f"{where}: {first['msg']}", {"errors": errors}
                )
                return v2_error(error, request)

        return handler
