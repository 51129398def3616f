"""Webhooks out: signed notifications of job status changes and invoice payments to the
subscribers registered with ``st-notify``.

- ``tables``: the subscribers, events, outbox, attempt log and seen-state tables, in the
  write-back database (``ST_WRITEBACK_DB_URL``).
- ``store``: their operations (``NotifyStore``).
- ``events``: what changed in the tenant since a cursor, as events (the sensor's side).
- ``signing``: the ``X-ST-Dagster-Signature`` header, made and verified.
- ``worker``: the delivery worker (``st-notify deliver``), its backoff and its clock.
- ``cli``: ``python -m st_resources.notify`` / ``st-notify``.
"""
