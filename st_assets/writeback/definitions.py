"""The write-back definitions: write jobs, the auto-invoice job, sensors and schedule.

The freshness sensor targets the ingest job ``servicetitan_changing``, so these
definitions are merged with the ingest ones (``st_assets/definitions.py``).
"""

from __future__ import annotations

import dagster as dg

from st_assets.writeback.jobs import auto_invoice, build_write_jobs
from st_assets.writeback.schedules import auto_invoice_hourly
from st_assets.writeback.sensors import build_writeback_requests_sensor, writeback_freshness


def defs() -> dg.Definitions:
    """Write-back definitions (resources are bound by the code location)."""
    write_jobs = build_write_jobs()
    return dg.Definitions(
        jobs=[*write_jobs, auto_invoice],
        sensors=[build_writeback_requests_sensor(write_jobs), writeback_freshness],
        schedules=[auto_invoice_hourly],
    )
