"""ServiceTitan v2 webhooks in: the receiver (``app.py``, run by
``python -m st_resources.webhooks`` or ``st-webhooks-receiver``) and the store of received
events (``store.py``) that the ``webhook_events`` sensor reads (docs/webhooks.md)."""
