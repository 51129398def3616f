"""What the routes share: the tenant and the session as dependencies, the request id and
JSON answers."""

from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response

from st_sandbox.auth import Session
from st_sandbox.tenant import Tenant


async def get_tenant(request: Request) -> Tenant:
    """The tenant the app serves (``app.state.tenant``, set by ``create_app``)."""
    # async: FastAPI would run a plain function in its thread pool, for a lookup.
    tenant: Tenant = request.app.state.tenant
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]


def session(tenant: TenantDep, authorization: Annotated[str | None, Header()] = None) -> Session:
    """The caller's session (401 without a valid token), within its rate limit (429)."""
    current = tenant.auth.authenticate(authorization)
    tenant.limiter.check(current.id)
    return current


SessionDep = Annotated[Session, Depends(session)]


def request_id(request: Request) -> str:
    """The id ``SandboxMiddleware`` gave the request (``X-Request-Id``)."""
    return str(request.scope.get("state", {}).get("request_id", "req_unknown"))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` as a JSON answer (orjson, so datetimes and the like serialize as the API's)."""
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
