"""The session API's error answers (``{"error": {...}}``, docs/api.md "Errors") for every
way a request can fail before or inside a route; under a v2 module's prefix, the official
shape instead (``st_sandbox.v2.errors``)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import json_response, request_id
from st_sandbox.v2.errors import is_v2_path, v2_error


def install_error_handlers(app: FastAPI) -> None:
    """Answer ``ApiError``, validation errors, unknown routes and bugs in the API's shape."""
    app.add_exception_handler(ApiError, api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)


async def api_error(request: Request, exc: ApiError) -> Response:
    """An error a route or dependency raised on purpose."""
    return json_response(exc.body(request_id(request)), exc.status, exc.headers)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """400 for a body that is not JSON, 422 for one (or a parameter) that does not validate."""
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
        error = ApiError(422, "validation_error", f"{where}: {first['msg']}", {"errors": errors})
    return json_response(error.body(request_id(request)), error.status)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Unknown routes (404) and methods (405); in the official shape under a v2 prefix."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
    error = ApiError(exc.status_code, code, str(exc.detail))
    if is_v2_path(request.url.path):
        return v2_error(error, request)
    return json_response(error.body(request_id(request)), exc.status_code)


async def unexpected(request: Request, exc: Exception) -> Response:  # pragma: no cover
    """A bug: a 500 in the API's shape, with the traceback in the log."""
    logging.getLogger("st_sandbox").exception("unexpected error")
    error = ApiError(500, "internal_error", "unexpected server error")
    if is_v2_path(request.url.path):
        return v2_error(error, request)
    return json_response(error.body(request_id(request)), 500)
