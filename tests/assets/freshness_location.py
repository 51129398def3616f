"""A code location of the ingest definitions for the freshness daemon's test
(``test_automation.py``): the resources point nowhere, since nothing runs."""

from pathlib import Path

import dagster as dg

from st_assets.definitions import ingest_defs
from tests.assets.conftest import resources_for

defs = dg.Definitions.merge(
    ingest_defs("2026-01-01"),
    dg.Definitions(resources=resources_for("http://127.0.0.1:9", Path("/nonexistent"))),
)
