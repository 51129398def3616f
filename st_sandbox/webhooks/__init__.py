"""The sandbox's v2 webhooks: subscriptions, the delivery worker (``hub.py``) and the
``/_sandbox/webhooks/*`` routes (``routes.py``); docs/webhooks.md."""
