"""Write-back: the write jobs (one per request kind) and their op, the auto-invoice job,
the queue sensor ``writeback_requests``, the reconciler ``writeback_redrive``, the
freshness sensor ``writeback_freshness`` and the ``auto_invoice_hourly`` schedule. The
queue and the sender are ``st_resources.writeback``."""
