"""The sandbox's write rules: job creation, dispatch (assignments, windows, status moves,
no double booking, optimistic concurrency) and invoice creation (no duplicate invoice,
decimal arithmetic from ``money.py``, test payment tokens), plus idempotency keys. Both
surfaces (the session API and v2) write through ``WriteService``, so the rules are the
same on both.
"""
