"""The dbt project (``dbt_models/``) and its manifest.

Nothing here parses the project at import: ``dbt_project()`` only describes it, and the
manifest is prepared by ``make dbt-manifest`` (``python -m st_assets.defs.dbt.project``), by
``make demo`` and by the tests' fixture, or by ``dagster dev`` on load.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_models"


def dbt_executable() -> str:
    """The ``dbt`` of this environment: ``make`` and ``st-dev`` run without the virtualenv
    on ``PATH``, so look next to the interpreter first."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project, with ``profiles.yml`` next to ``dbt_project.yml``."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_manifest() -> Path:
    """Parse the project into ``target/manifest.json`` (``dbt parse``) and return its path."""
    project = dbt_project()
    cli = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
    cli.cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path


def prepare_if_dev() -> None:
    """Re-parse on load under ``dagster dev``, so edits to the models show up on reload
    (what ``DbtProject.prepare_if_dev`` does, with this environment's ``dbt``)."""
    if os.getenv("DAGSTER_IS_DEV_CLI"):
        prepare_manifest()


def main() -> int:
    """``python -m st_assets.defs.dbt.project``: prepare the manifest (``make dbt-manifest``)."""
    print(f"dbt manifest: {prepare_manifest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
