"""Write-back in the main location: the auto-invoice job and its ``auto_invoice_hourly``
schedule, and the freshness sensor ``writeback_freshness`` (it targets ingest assets). The
write jobs, the queue sensor and the reconciler are the ``writeback`` location of their
own (``st_assets/writes``); the queue and the sender are ``st_resources.writeback``."""
