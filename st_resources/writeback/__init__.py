"""Write-back: validated write requests (``payloads``), the request queue and its audit
log (``queue``) with its identity (``identity``), the code that sends one request exactly
once (``sender``), stuck requests and their re-drives (``stuck``), the dispatch guard
(``guard``), the auto-invoice builder (``auto_invoice``) and the ``st-writeback`` CLI
(``cli``)."""
