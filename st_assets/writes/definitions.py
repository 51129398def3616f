"""The ``writeback`` code location (``workspace.yaml``): the write jobs, the queue sensor
and the reconciler, with the resources they use. Nothing is built at import; the
resources are wired from ``ST_*`` variables when Dagster loads the location."""

from __future__ import annotations

import dagster as dg

from st_assets.resources import build_resources
from st_assets.writes.jobs import write_jobs
from st_assets.writes.redrive import writeback_redrive
from st_assets.writes.sensors import writeback_requests

WRITE_RESOURCES = ("servicetitan", "writeback_queue")


def write_defs() -> dg.Definitions:
    """The write jobs and their two sensors, without resources (to merge with others)."""
    return dg.Definitions(jobs=write_jobs, sensors=[writeback_requests, writeback_redrive])


@dg.definitions
def defs() -> dg.Definitions:
    """The location: ``write_defs`` with the API and queue resources from the environment."""
    resources = build_resources()
    return dg.Definitions.merge(
        write_defs(), dg.Definitions(resources={k: resources[k] for k in WRITE_RESOURCES})
    )
