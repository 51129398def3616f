"""The measured processes' Dagster instance: production storage (PostgreSQL) by default,
the local SQLite instance on request."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from benchmarks.harness import PROD_INSTANCE, dagster_instance


def test_workloads_get_the_production_instance_on_a_fresh_database_reused_per_folder(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ST_BENCH_PG_URL", postgres_url)
    monkeypatch.delenv("ST_BENCH_STORAGE", raising=False)
    home = tmp_path / "dagster_home"
    env = dagster_instance(home)
    name = env["DAGSTER_PG_URL"].rsplit("/", 1)[1]
    try:
        assert name.startswith("st_bench_")
        assert dagster_instance(home) == env  # the incremental sync reuses the backfill's
        assert dagster_instance(tmp_path / "other") != env
        assert (home / "dagster.yaml").read_text() == PROD_INSTANCE.read_text()
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv("DAGSTER_PG_URL", env["DAGSTER_PG_URL"])
        with dg.DagsterInstance.get() as instance:
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    finally:
        admin = psycopg2.connect(postgres_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            for url in (env, dagster_instance(tmp_path / "other")):
                cur.execute(f'DROP DATABASE IF EXISTS "{url["DAGSTER_PG_URL"].rsplit("/", 1)[1]}"')
        admin.close()


def test_st_bench_storage_sqlite_leaves_the_local_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ST_BENCH_STORAGE", "sqlite")
    assert dagster_instance(tmp_path / "dagster_home") == {}
    assert not (tmp_path / "dagster_home" / "dagster.yaml").exists()
