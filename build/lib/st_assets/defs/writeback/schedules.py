"""Hourly auto-invoice pass."""

from __future__ import annotations

import dagster as dg

from st_assets.defs.writeback import jobs

auto_invoice_hourly = dg.ScheduleDefinition(
    name="auto_invoice_hourly",
    job=jobs.auto_invoice,
    cron_schedule="10 * * * *",
    execution_timezone="UTC",
    description="Queue invoice requests for completed jobs with a sold estimate.",
)
