"""The dbt project (``dbt_models/``) and its manifest.

Nothing here parses the project at import: ``dbt_project()`` only describes it, and the
manifest is prepared by ``make dbt-manifest`` (``python -m st_assets.defs.dbt.project``), by
``make demo`` and by the tests' fixture, or by ``dagster dev`` on load.

dbt never writes the manifest the code location reads. Every ``dbt parse`` and ``dbt build``
writes into a folder of its own under ``target/`` (``target/parse/<id>``,
``target/runs/<run id>``); ``prepare_manifest`` then publishes the parsed manifest to
``target/manifest.json`` atomically (a temporary file in the same folder, then
``os.replace``), so a run starting meanwhile reads the old manifest or the new one, never a
half-written file.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_models"
# What the manifest is parsed from: a newer file under these means it is stale.
SOURCES = ("models", "macros", "tests", "seeds", "snapshots", "analyses", "dbt_project.yml")
PUBLISHED = ("manifest.json", "partial_parse.msgpack")
KEEP_BUILDS = 5  # per-run build folders kept for inspection (the newest)
STALE_PARSE_SECONDS = 3600  # a parse folder this old belongs to a process that died


def dbt_executable() -> str:
    """The ``dbt`` of this environment: ``make`` and ``st-dev`` run without the virtualenv
    on ``PATH``, so look next to the interpreter first."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project, with ``profiles.yml`` next to ``dbt_project.yml``."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def target_root(project: DbtProject) -> Path:
    """The project's ``target/`` folder (absolute)."""
    return Path(project.project_dir, project.target_path)


def publish(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically: readers see the old file or the new one."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _prune_parse_folders(parse_root: Path) -> None:
    # Parse folders are removed by their own process; these are left by killed ones.
    cutoff = time.time() - STALE_PARSE_SECONDS
    for folder in parse_root.glob("*"):
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def prepare_manifest() -> Path:
    """Parse the project (``dbt parse``) in a private folder, publish its manifest to
    ``target/manifest.json`` atomically and return that path."""
    project = dbt_project()
    root = target_root(project)
    private = root / "parse" / uuid.uuid4().hex
    private.mkdir(parents=True)
    try:
        cached = root / "partial_parse.msgpack"
        if cached.exists():  # seed dbt's partial parsing: a full parse takes seconds
            shutil.copyfile(cached, private / cached.name)
        cli = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
        cli.cli(["parse", "--quiet"], target_path=private).wait()
        for name in PUBLISHED:  # the manifest last: its mtime marks the parse as done
            if (private / name).exists():
                publish(private / name, root / name)
    finally:
        shutil.rmtree(private, ignore_errors=True)
        _prune_parse_folders(root / "parse")
    return project.manifest_path


def build_target_path(project: DbtProject, run_id: str) -> Path:
    """A fresh folder for one run's ``dbt build``, after pruning older ones to the newest
    ``KEEP_BUILDS``. Call it holding the warehouse lock: builds never run side by side,
    so no folder still in use is pruned."""
    runs = target_root(project) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    folders = sorted(
        (f for f in runs.iterdir() if f.is_dir()), key=lambda f: f.stat().st_mtime, reverse=True
    )
    for old in folders[KEEP_BUILDS - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    return runs / f"{run_id}-{uuid.uuid4().hex[:8]}"


def manifest_is_stale(project: DbtProject) -> bool:
    """Whether a model, macro, test or ``dbt_project.yml`` changed since the last parse."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    parsed = manifest.stat().st_mtime
    for name in SOURCES:
        path = Path(project.project_dir, name)
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        if any(f.stat().st_mtime > parsed for f in files):
            return True
    return False


def prepare_if_dev() -> None:
    """Re-parse on load under ``dagster dev`` when the models changed, so edits show up on
    reload (what ``DbtProject.prepare_if_dev`` does, with this environment's ``dbt``).
    Every run's process loads the location too: an unchanged project is not parsed again."""
    if os.getenv("DAGSTER_IS_DEV_CLI") and manifest_is_stale(dbt_project()):
        prepare_manifest()


def main() -> int:
    """``python -m st_assets.defs.dbt.project``: prepare the manifest (``make dbt-manifest``)."""
    print(f"dbt manifest: {prepare_manifest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
