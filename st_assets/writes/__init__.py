"""The write-back's own code location (``workspace.yaml``: ``writeback``): the write jobs
(one per request kind, one op each, in-process executor), the queue sensor
``writeback_requests`` and the reconciler ``writeback_redrive``.

A location of its own because every write run loads its location in a new process: this
one imports the resources and the queue only, not the ingest assets, the partitions or the
dbt manifest, so a run reaches the API in a fraction of the time, and a ``dbt parse``
rewriting its outputs cannot stop it from loading. The auto-invoice job, its schedule and
the freshness sensor (which targets ingest assets) stay in the main location
(``st_assets/defs/writeback``).
"""
