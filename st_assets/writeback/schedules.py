"""Hourly auto-invoice pass."""

from __future__ import annotations

import dagster as dg

auto_invoice_hourly = dg.ScheduleDefinition(
    name="auto_invoice_hourly",
    job_name="auto_invoice",
    cron_schedule="10 * * * *",
    execution_timezone="UTC",
    description="Queue invoice requests for completed jobs with a sold estimate.",
)
