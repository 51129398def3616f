"""The sandbox's v2 surface: the official ServiceTitan API's shapes over the same tenant
state as the session API (docs/api.md, "v2 surface").

``POST /connect/token`` issues client-credentials tokens (``token.py``); every other
route lives under ``{prefix}/tenant/{tenant}/`` and needs the bearer token, the app's
``ST-App-Key`` and the module's scope (``state.caller``). Entity lists and exports are in
``reads.py``, dispatch's assignments in ``dispatch.py``, jobs' writes (booking, hold,
cancel) in ``jobs.py``, the other writes in
``writes.py``; all answer errors in the official shape (``errors.V2Route``).
"""

from __future__ import annotations

from fastapi import APIRouter

from st_sandbox.v2 import dispatch, jobs, reads, token, writes


def v2_routers() -> list[APIRouter]:
    """The v2 surface's routers, in the order the app includes them."""
    return [token.router, reads.router, dispatch.router, jobs.router, writes.router]
