"""Write-back: validated write requests (``payloads``), the request queue and its audit
log (``queue``), the code that sends one request exactly once (``sender``), the dispatch
guard (``guard``), the auto-invoice builder (``auto_invoice``) and the ``st-writeback``
CLI (``cli``)."""
