"""``/sessions``: log in with a password, complete the MFA challenge, rotate the token
pair, log out (docs/api.md, "Sessions")."""

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from st_sandbox.routes.deps import TenantDep, json_response

router = APIRouter(tags=["sessions"])
# The routes' docstrings would be their descriptions in /openapi.json, which the
# summaries already give, so the routes (and the body models) carry comments.


# Request bodies refuse unknown fields.
class Strict(BaseModel):
    """Request bodies refuse unknown fields so that a typo is an error, not a no-op."""

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


# A session, or an MFA challenge to complete.
@router.post("/sessions", summary="Log in with username and password")
async def login(body: LoginBody, tenant: TenantDep) -> Response:
    status, payload = tenant.auth.login(body.username, body.password)
    return json_response(payload, status)


# The session once the challenge's code is right.
@router.post("/sessions/mfa", summary="Complete an MFA challenge")
async def mfa(body: MfaBody, tenant: TenantDep) -> Response:
    return json_response(tenant.auth.verify_mfa(body.challengeId, body.method, body.code))


# A new code for the challenge (tests read it from GET /_sandbox/outbox).
@router.post("/sessions/mfa/send", summary="Send an SMS or e-mail code again")
async def mfa_send(body: MfaSendBody, tenant: TenantDep) -> Response:
    tenant.auth.send_code(body.challengeId, body.method)
    return json_response({"sent": True})


# A new access and refresh token for a valid refresh token (the old pair is spent).
@router.post("/sessions/refresh", summary="Rotate the token pair")
async def refresh(body: RefreshBody, tenant: TenantDep) -> Response:
    return json_response(tenant.auth.refresh(body.refreshToken))


# Revokes the session of the bearer token.
@router.delete("/sessions", summary="Log out (revoke the session)")
async def logout(
    tenant: TenantDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    tenant.auth.authenticate(authorization)
    _, _, token = (authorization or "").partition(" ")
    tenant.auth.logout(token.strip())
    return Response(status_code=204)
