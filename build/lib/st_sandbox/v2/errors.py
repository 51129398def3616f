"""Errors of v2 routes in the official shape (``ApiErrorResponse``) instead of the session
API's."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from st_sandbox.errors import ApiError


def v2_error(exc: ApiError, request: Request) -> Response:
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
