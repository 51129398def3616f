"""The code location: every definition of the ``st_assets/defs`` tree, loaded by convention
(``dg.load_from_defs_folder``; the project's ``[tool.dg]`` settings are in pyproject.toml).

Nothing is built at import: ``defs`` runs when Dagster loads the location, and the
modules of the tree read ``ST_PARTITIONS_START``, the resources' settings and the dbt
manifest then. ``load_defs`` builds part of the tree the same way, for tools and tests
that run jobs in process (``st-demo``, the benchmarks).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

from st_assets.defs.ingest.partitions import DEFAULT_GRANULARITY, Granularity, partitions_from

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Dagster copies a sensor to bind it to the job object it targets and passes its (empty)
# owners again, which warns that the ``owners`` parameter is in beta; no definition here
# has owners.
warnings.filterwarnings(
    "ignore", r"Parameter `owners` of initializer `(Sensor|Schedule)Definition", dg.BetaWarning
)


@dg.definitions
def defs() -> dg.Definitions:
    """Every definition of the code location, with its resources."""
    return load_defs()


def load_defs(
    *folders: str,
    start_date: str | None = None,
    granularity: Granularity = DEFAULT_GRANULARITY,
) -> dg.Definitions:
    """What the location loads from ``folders`` of ``st_assets/defs`` (``"ingest"``,
    ``"dbt"``, ``"resources.py"``...; all of it when none is named), built now. The
    changing entities land from ``start_date`` when one is given, else from
    ``ST_PARTITIONS_START``, in partitions of ``granularity`` (months; the benchmarks
    measure the others)."""
    with partitions_from(start_date, granularity), warnings.catch_warnings():
        # Dagster's own loader reads modules without ``@dg.definitions`` through a function
        # it marks as preview, and warns about itself once per module.
        warnings.filterwarnings(
            "ignore", "Function `load_definitions_from_module", dg.PreviewWarning
        )
        if not folders:
            return dg.load_from_defs_folder(path_within_project=PROJECT_ROOT)
        # What load_from_defs_folder does, for some folders of the tree only.
        tree = dg.ComponentTree.for_project(PROJECT_ROOT)
        return dg.Definitions.merge(*(tree.build_defs(Path(folder)) for folder in folders))


def ingest_defs(
    start_date: str | None = None, granularity: Granularity = DEFAULT_GRANULARITY
) -> dg.Definitions:
    """The ingest definitions (assets, checks, jobs, schedules, sensors), landing from
    ``start_date`` (else ``ST_PARTITIONS_START``) in partitions of ``granularity``."""
    return load_defs("ingest", start_date=start_date, granularity=granularity)


def writeback_defs() -> dg.Definitions:
    """The write-back definitions of both locations: the main one's (auto-invoice, the
    freshness sensor, which targets the ingest job) and the ``writeback`` location's
    (write jobs, queue sensor, reconciler; ``st_assets/writes``), without resources."""
    from st_assets.writes.definitions import write_defs

    return dg.Definitions.merge(load_defs("writeback"), write_defs())
