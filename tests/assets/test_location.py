"""The code location as a dg project: ``dg check defs`` and ``dg list defs`` load it from
the ``st_assets/defs`` tree, and what it reads from the environment (the first daily
partition) is read when it loads, not when it is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from st_assets.definitions import load_defs
from st_assets.defs.ingest.partitions import (
    partitions_from,
    partitions_start,
    years_back,
)
from st_assets.defs.names import ENTITY_KEYS, asset_key
from st_sandbox.demo import sandbox_env
from st_sandbox.server import SandboxServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _dg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``dg`` CLI of this interpreter in the project folder."""
    return subprocess.run(
        [sys.executable, "-m", "dagster_dg_cli.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def dg_env(sandbox: SandboxServer, tmp_path: Path) -> dict[str, str]:
    """The environment of ``make dev``: the sandbox's demo user, a fresh instance."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {
        **os.environ,
        **sandbox_env(sandbox.base_url),
        "DAGSTER_HOME": str(home),
        "ST_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "VIRTUAL_ENV": sys.prefix,  # dg warns when the interpreter's venv is not "activated"
        "DAGSTER_DG_UPDATE_CHECK_ENABLED": "false",
    }


def test_dg_check_defs_and_dg_list_defs_load_the_project(dg_env: dict[str, str]) -> None:
    checked = _dg("check", "defs", env=dg_env)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout

    listed = _dg("list", "defs", "--json", env=dg_env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    defs = json.loads(listed.stdout)
    assets = {a["asset_key"] for a in defs["assets"]}
    assert {"servicetitan/jobs", "servicetitan/business_units", "marts/fct_invoices"} <= assets
    assert {a for a in assets if a.startswith("servicetitan/")} == {
        key.to_user_string() for key in ENTITY_KEYS
    }
    assert {"servicetitan_changing", "servicetitan_reference", "servicetitan_checks"} <= {
        j["name"] for j in defs["jobs"]
    }
    assert {
        "ingest_checks_automation",
        "warehouse_models_automation",
        "change_feed",
        "writeback_freshness",
    } <= {s["name"] for s in defs["sensors"]}
    # The write jobs and their sensors are the ``writeback`` location of their own.
    assert not {"writeback_requests", "writeback_redrive"} & {s["name"] for s in defs["sensors"]}
    assert {"recent_partitions", "nightly_reference", "nightly_checks"} <= {
        s["name"] for s in defs["schedules"]
    }


def test_partitions_start_three_years_back_from_today_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ST_PARTITIONS_START", raising=False)
    assert partitions_start(date(2026, 5, 17)) == "2023-05-17"
    assert years_back(date(2024, 2, 29), 3) == date(2021, 2, 28)
    monkeypatch.setenv("ST_PARTITIONS_START", "2024-06-01")
    assert partitions_start(date(2026, 5, 17)) == "2024-06-01"
    with partitions_from("2025-01-01"):
        assert partitions_start() == "2025-01-01"
    assert partitions_start() == "2024-06-01"
    monkeypatch.setenv("ST_PARTITIONS_START", "June 2024")
    with pytest.raises(ValueError, match="ST_PARTITIONS_START='June 2024'"):
        partitions_start()


def _first_partition(defs: dg.Definitions) -> str:
    """The first day landed: the first month's partition holds it, the description says it."""
    assets = defs.get_assets_def(asset_key("jobs"))
    partitions = assets.partitions_def
    assert isinstance(partitions, dg.TimeWindowPartitionsDefinition)
    description = assets.specs_by_key[asset_key("jobs")].description or ""
    first_day = description.split("landed from ")[1][:10]
    assert partitions.get_first_partition_key() == first_day[:7]
    return first_day


def test_the_first_partition_is_read_when_the_location_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The modules are imported already: what the environment says now is what loads."""
    monkeypatch.delenv("ST_PARTITIONS_START", raising=False)
    three_years = years_back(datetime.now(UTC).date(), 3).isoformat()
    assert _first_partition(load_defs("ingest")) == three_years
    monkeypatch.setenv("ST_PARTITIONS_START", "2024-06-01")
    assert _first_partition(load_defs("ingest")) == "2024-06-01"
    assert _first_partition(load_defs("ingest", start_date="2025-02-03")) == "2025-02-03"
