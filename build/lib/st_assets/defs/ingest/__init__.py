"""Ingest: the ServiceTitan entities as assets (``assets.py``), their checks, jobs,
schedules (``recent_partitions``, ``nightly_reference``, ``nightly_checks``) and the
change-feed sensor. The landing itself is ``st_resources.landing``."""
