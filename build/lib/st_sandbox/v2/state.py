"""The v2 surface's own state (apps and tokens, the export page size, the key that signs
continuation tokens) and the dependency that checks a v2 caller."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from st_sandbox.routes.deps import TenantDep
from st_sandbox.v2.oauth import DEMO_APPS, AccessToken, OAuthService

MAX_PAGE_SIZE = 5000


@dataclass
class V2State:
    """The v2 surface's own state: apps and tokens, the export page size, the token key."""

    oauth: OAuthService
    export_page_size: int = 5000
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def demo(cls, token_ttl: float) -> "V2State":
        """The state of a sandbox with the demo apps (docs/api.md, "v2 surface")."""
        return cls(OAuthService(DEMO_APPS, token_ttl))


async def get_v2(request: Request) -> V2State:
    """The app's v2 state (``app.state.v2``, set by ``create_app``)."""
    state: V2State = request.app.state.v2
    return state


V2Dep = Annotated[V2State, Depends(get_v2)]


def caller(module: str, write: bool = False) -> Callable[..., AccessToken]:
    """A dependency answering the caller's token if it may read (or ``write``) ``module``
    on the tenant of the path, within the app's rate limit; a 401/403/429 otherwise."""
    scope = f"tn.{module}:{'w' if write else 'r'}"

    def dependency(
        sandbox: TenantDep,
        v2: V2Dep,
        tenant_id: Annotated[int, Path(alias="tenant", ge=1, le=2**62)],
        authorization: Annotated[str | None, Header()] = None,
        st_app_key: Annotated[str | None, Header(alias="ST-App-Key")] = None,
    ) -> AccessToken:
        current = v2.oauth.authenticate(authorization, st_app_key, tenant_id, scope)
        # 60 requests/s per app and tenant, the official limit (configurable here).
        sandbox.limiter.check(f"v2:{current.client.app_key}:{tenant_id}")
        return current

    return dependency
