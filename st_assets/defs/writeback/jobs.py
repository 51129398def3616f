"""The auto-invoice job (the write jobs are the ``writeback`` location, ``st_assets/writes``)."""

from __future__ import annotations

import dagster as dg

from st_assets.defs.writeback.ops import submit_auto_invoices


@dg.job(description="Queue invoice requests for completed jobs with a sold estimate.")
def auto_invoice() -> None:
    """Queue invoice requests for completed jobs with a sold estimate."""
    submit_auto_invoices()
