"""``POST /connect/token``: OAuth2 client-credentials tokens for the v2 surface."""

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from st_sandbox.routes.deps import TenantDep, json_response
from st_sandbox.v2.errors import V2Route
from st_sandbox.v2.state import V2Dep

router = APIRouter(route_class=V2Route, tags=["v2"])


# A client-credentials token for the form's app (400/401 from OAuthService.issue).
@router.post("/connect/token", summary="OAuth2 client credentials token")
async def token(request: Request, sandbox: TenantDep, v2: V2Dep) -> Response:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    sandbox.count("v2 token")
    return json_response(v2.oauth.issue(form))
