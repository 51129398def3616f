"""Webhooks out: the ``notify_events`` sensor (detects job status changes and invoice
payments and enqueues them; it never delivers), the delivery-log asset
``notify/webhook_deliveries`` and the ``notify_deliveries_export`` sensor that
refreshes it after new delivery attempts. The worker is ``st-notify deliver --forever``
(``st_resources/notify``)."""
