"""The code location's dbt manifest is never seen half-written: ``dbt parse`` runs in a
folder of its own and publishes atomically, and each ``dbt build`` gets its own target
folder (issue #18: a run died loading a manifest a build was rewriting)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from st_assets.defs.dbt.assets import build_dbt_assets
from st_assets.defs.dbt.project import (
    KEEP_BUILDS,
    build_target_path,
    dbt_project,
    manifest_is_stale,
    target_root,
)

pytestmark = pytest.mark.e2e


def test_location_loads_while_dbt_parses(dbt_manifest: Path) -> None:
    project = dbt_project()
    cwd = os.getcwd()
    stop = threading.Event()
    loads = 0

    def parse_in_a_process() -> None:
        # Each parse in a process of its own, as runs and `make dbt-manifest` do: dbt's
        # CLI resource changes the working directory while it runs, which threads of one
        # process would share.
        subprocess.run(
            [sys.executable, "-m", "st_assets.defs.dbt.project"], check=True, timeout=300
        )

    def stop_when_done() -> None:
        for parse in parses:
            parse.result()
        stop.set()

    with ThreadPoolExecutor(max_workers=4) as pool:
        parses = [pool.submit(parse_in_a_process) for _ in range(3)]
        pool.submit(stop_when_done)
        while not stop.is_set():
            # What a run's process does on start: read the manifest, build the dbt assets.
            json.loads(dbt_manifest.read_bytes())
            if loads % 10 == 0:
                build_dbt_assets(project)
            loads += 1
        for parse in parses:
            parse.result()
    assert loads > 10
    assert os.getcwd() == cwd, "the test process's working directory is unchanged"
    assert not any((target_root(project) / "parse").iterdir()), "parse folders are removed"
    assert not manifest_is_stale(project)


def test_build_folders_are_private_and_bounded(tmp_path: Path) -> None:
    project = dbt_project()
    made = []
    for i in range(KEEP_BUILDS + 3):
        folder = build_target_path(project, f"test-run-{i}")
        folder.mkdir()
        os.utime(folder, (time.time() + i, time.time() + i))  # a later build is newer
        made.append(folder)
    runs = target_root(project) / "runs"
    assert made[-1].parent == runs and made[-1] != project.manifest_path.parent
    assert len([f for f in runs.iterdir() if f.name.startswith("test-run-")]) <= KEEP_BUILDS
    assert made[-1].exists() and not made[0].exists()
    for folder in made:
        if folder.exists():
            folder.rmdir()
