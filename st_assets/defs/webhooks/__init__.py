"""Webhooks in: the ``webhook_events`` sensor turns the events the receiver stored
(``st_resources.webhooks``) into refreshes of the days they touched."""
