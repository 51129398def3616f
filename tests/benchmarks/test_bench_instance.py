"""The measured processes' Dagster instance: production storage (PostgreSQL) by default,
the local SQLite instance on request."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from benchmarks.harness import PROD_INSTANCE, dagster_instance, drop_bench_databases


def test_workloads_get_the_production_instance_on_a_fresh_database_reused_per_folder_and_dropped(
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
        other = dagster_instance(tmp_path / "other")["DAGSTER_PG_URL"]
        assert other != env["DAGSTER_PG_URL"]
        assert (home / "dagster.yaml").read_text() == PROD_INSTANCE.read_text()
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv("DAGSTER_PG_URL", env["DAGSTER_PG_URL"])
        with dg.DagsterInstance.get() as instance:
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    finally:
        dropped = drop_bench_databases(tmp_path)
    assert sorted(dropped) == sorted([name, other.rsplit("/", 1)[1]])
    admin = psycopg2.connect(postgres_url)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_database WHERE datname = ANY(%s)", (dropped,))
            assert cur.fetchone() == (0,), "a benchmark database was left on the server"
    finally:
        admin.close()


def test_st_bench_storage_sqlite_leaves_the_local_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ST_BENCH_STORAGE", "sqlite")
    assert dagster_instance(tmp_path / "dagster_home") == {}
    assert not (tmp_path / "dagster_home" / "dagster.yaml").exists()
