"""The session API's routers (docs/api.md): ``sessions`` (log in, MFA, refresh, log out),
``reads`` (entity lists and records, the change feed), ``writes`` (jobs, dispatch,
invoices) and ``sandbox`` (the ``/_sandbox/*`` controls). The v2 surface's routers are in
``st_sandbox/v2/``. Every route gets the tenant from ``app.state.tenant`` (``deps.py``).
"""
