"""The sandbox tenant's HTTP API (FastAPI). docs/api.md is the contract; ``/openapi.json``
describes the same routes.

``create_app`` only assembles: the routers of the session API (``st_sandbox/routes/``)
and of the official v2 surface (``st_sandbox/v2/``), the error handlers and the
middleware. Routes find the tenant in ``app.state.tenant``.
"""

from fastapi import FastAPI

from st_sandbox import attachments_routes
from st_sandbox.attachments import AttachmentService
from st_sandbox.catalog import drift
from st_sandbox.catalog import routes_session as catalog_session
from st_sandbox.catalog import routes_v2 as catalog_v2
from st_sandbox.middleware import SandboxMiddleware
from st_sandbox.routes import reads, sandbox, sessions, writes
from st_sandbox.routes.errors import install_error_handlers
from st_sandbox.tenant import Tenant
from st_sandbox.v2.reporting import router as reporting_router
from st_sandbox.v2.routes import v2_routers
from st_sandbox.v2.state import V2State
from st_sandbox.webhooks import routes as webhooks


def create_app(tenant: Tenant) -> FastAPI:
    """The FastAPI application of one tenant."""
    app = FastAPI(
        title="ServiceTitan sandbox tenant (session API)",
        version="1.0",
        description="A sandbox ServiceTitan tenant; see docs/api.md.",
    )
    app.state.tenant = tenant
    # The v2 surface's apps, tokens and signing key live as long as the app.
    app.state.v2 = V2State.demo(tenant.config.token_ttl)
    app.state.attachments = AttachmentService.of(tenant)
    install_error_handlers(app)
    app.add_middleware(SandboxMiddleware, tenant=tenant)
    # The catalog streams' routes come first: their literal paths must win over the core
    # routes' ``{id}`` paths they sit next to (st_sandbox/catalog/routes_session.py).
    for router in (attachments_routes.v2_router, attachments_routes.router):
        app.include_router(router)
    for router in (catalog_v2.router, catalog_session.router, drift.router):
        app.include_router(router)
    for router in v2_routers():
        app.include_router(router)
    for router in (reporting_router, sessions.router, reads.router, writes.router, sandbox.router):
        app.include_router(router)
    app.include_router(webhooks.router)
    return app
