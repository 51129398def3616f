"""``st-demo`` (``make demo``): start the embedded sandbox tenant, log in with MFA, run
the main job (the reference sets and the whole history of every partitioned entity) and
its checks in a real Dagster instance, build the dbt models and their tests, book,
dispatch and invoice a job through the write-back (``demo_writes``), and print what
landed in ``warehouse.duckdb`` and two of the reports."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import SecretStr

from st_assets.definitions import PROJECT_ROOT, load_defs
from st_assets.defs.dbt.jobs import warehouse_dbt_build
from st_assets.defs.dbt.project import dbt_project, prepare_manifest
from st_assets.defs.ingest.jobs import changing_job, checks_job, reference_job
from st_assets.defs.ingest.partitions import partition_key_for, today
from st_assets.defs.ingest.refresh import changing_partitions
from st_assets.defs.reports.assets import REPORTS_FILE_ENV, REPORTS_JOB
from st_contract.entities import ENTITIES, STREAM_SPECS
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.config import SandboxConfig
from st_sandbox.demo_writes import run_demo_writes
from st_sandbox.server import SandboxProcess
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DEMO_ENV = {
    "ST_USERNAME": "demo",
    "ST_PASSWORD": "demo-password",
    "ST_MFA_METHOD": "totp",
    "ST_TOTP_SECRET": DEMO_TOTP_SECRET,
}


def sandbox_env(base_url: str, backend: str = "session") -> dict[str, str]:
    """The environment that points the project at a sandbox (demo credentials); backend
    ``v2`` reaches it through the official v2 API with the sandbox's demo app."""
    if backend == "v2":
        app = DEMO_APPS[0]
        return {
            "ST_BACKEND": "v2",
            "ST_CLIENT_ID": app.client_id,
            "ST_CLIENT_SECRET": app.client_secret,
            "ST_APP_KEY": app.app_key,
            "ST_TENANT_ID": str(SANDBOX_TENANT_ID),
            "ST_AUTH_URL": base_url,
            "ST_API_URL": base_url,
        }
    return {"ST_BASE_URL": base_url, **DEMO_ENV}


# Dagster settings of the local instance, for this process and the ones it starts (``dg
# dev``, its daemon and run workers): a ranged backfill records its planned partitions as
# one event per asset instead of one per partition (Dagster's own trade-off: a failed
# run's partitions are then not marked failed), and its results in batches.
LOCAL_INSTANCE_ENV = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
}
LOCAL_INSTANCE_HEADER = "# Local instance: SQLite storage in this folder."
LOCAL_INSTANCE_YAML = f"""{LOCAL_INSTANCE_HEADER} See docs/dagster.prod.yaml for production.
# Written by st-demo/st-dev while this header is the first line; edit it away to keep changes.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 4
# A write request should reach the API seconds after it is queued: the run queue is read
# every second instead of every five, and dequeued runs are launched by threads, so the
# batches of a burst start together.
run_queue:
  dequeue_interval_seconds: 1
  dequeue_use_threads: true
  dequeue_num_workers: 4
# Sensors are evaluated in threads: a slow one (dbt, the change feed) never delays the
# write queue's, which ticks on every pass of the loop.
sensors:
  use_threads: true
  num_workers: 4
# That sensor's skipped ticks add up; a day of them is enough to look back on.
retention:
  sensor:
    purge_after_days:
      skipped: 1
"""


def ensure_dagster_home() -> Path:
    """``$DAGSTER_HOME`` (default ``./.dagster_home``) with the local ``dagster.yaml``
    (rewritten while it is still the one these tools wrote), and the local instance's
    settings (``LOCAL_INSTANCE_ENV``) unless already set."""
    for name, value in LOCAL_INSTANCE_ENV.items():
        os.environ.setdefault(name, value)
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text().startswith(LOCAL_INSTANCE_HEADER):
        config.write_text(LOCAL_INSTANCE_YAML)
    return home


def print_sample_pages(base_url: str) -> None:
    """Log in with TOTP and fetch one page of each resource, as a first smoke test."""
    settings = SessionSettings(
        base_url=base_url,
        username=DEMO_ENV["ST_USERNAME"],
        password=SecretStr(DEMO_ENV["ST_PASSWORD"]),
        totp_secret=SecretStr(DEMO_TOTP_SECRET),
    )
    with SessionBackend(settings) as client:
        client.login()
        print(f"Logged in to {base_url} as demo with TOTP MFA. One page of each resource:")
        for spec in ENTITIES:
            page = next(client.iter_pages(spec.path, page_size=100))
            more = "+" if page.has_more else ""
            print(f"  {spec.path:28} {len(page.records):>4}{more} records")


REPORTS = {
    "Custom fields, as a long table (staging.stg_custom_fields)": """
        select entity, field_name, count(*) as records, any_value(field_value) as example
        from staging.stg_custom_fields where entity in ('customers', 'locations', 'jobs')
        group by 1, 2 order by 1, 2""",
    "Revenue by business unit, last 7 days (reports.rpt_revenue_by_business_unit_daily)": """
        select business_unit_name, sum(invoice_count) as invoices, sum(revenue) as revenue
        from reports.rpt_revenue_by_business_unit_daily
        where revenue_date > current_date - 7 group by 1 order by revenue desc""",
    "Accounts receivable aging (reports.rpt_ar_aging)": """
        select sum(current_amount) as current, sum(past_due_1_30) as "1-30",
               sum(past_due_31_60) as "31-60", sum(past_due_61_90) as "61-90",
               sum(past_due_over_90) as "90+", sum(total_open_balance) as total_open
        from reports.rpt_ar_aging""",
}


def print_reports(con: duckdb.DuckDBPyConnection) -> None:
    """Two of the dbt reports, as a consumer of the warehouse would query them."""
    for title, sql in REPORTS.items():
        print(f"\n{title}")
        print(con.cursor().sql(sql))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="st-demo", description=__doc__)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument(
        "--days",
        type=int,
        default=None,
        help="land only the last N days (default: the tenant's whole history)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--backend", choices=("session", "v2"), default="session", help="API the project uses"
    )
    return parser.parse_args(argv)


def demo_runs(defs: dg.Definitions) -> list[tuple[str, dict[str, str]]]:
    """The jobs the demo runs, in order, with their tags: the reference sets, the custom
    reports of ``ST_REPORTS_FILE`` (two calls each), one ranged backfill of every
    partition of the changing entities, the checks, dbt."""
    partitions_def = changing_partitions(defs.get_repository_def())
    backfill = {
        "dagster/asset_partition_range_start": partitions_def.get_first_partition_key() or "",
        "dagster/asset_partition_range_end": partition_key_for(partitions_def, today()),
    }
    has_reports = defs.get_repository_def().has_job(REPORTS_JOB)
    reports: list[tuple[str, dict[str, str]]] = [(REPORTS_JOB, {})] if has_reports else []
    return [
        (reference_job.name, {}),
        *reports,
        (changing_job.name, backfill),
        (checks_job.name, {}),
        (warehouse_dbt_build.name, {}),
    ]


def print_checks(job_name: str, result: dg.ExecuteInProcessResult) -> None:
    """How many asset checks of a run passed, and which did not."""
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    passed = sum(1 for e in evaluations if e.passed)
    print(f"Asset checks: {passed} of {len(evaluations)} passed")
    if job_name == warehouse_dbt_build.name and passed < len(evaluations):
        print(
            "  (warnings only: with --days, cross-entity tests miss records last modified "
            "before the window; see dbt_models/README.md)"
        )
    for e in evaluations:
        if not e.passed:
            outcome = "warned" if e.severity == dg.AssetCheckSeverity.WARN else "failed"
            print(f"  {outcome}: {e.asset_key.to_user_string()} {e.check_name}")


def run_jobs(defs: dg.Definitions, home: Path) -> bool:
    """Run the demo's jobs in a real instance; False when one (other than the checks) failed."""
    with dg.DagsterInstance.get() as instance:
        for job_name, tags in demo_runs(defs):
            print(f"Running {job_name}...", flush=True)
            started = time.perf_counter()
            with contextlib.ExitStack() as stack:
                if job_name == warehouse_dbt_build.name:
                    # dbt's own log goes to a file; the summary below says what happened.
                    log = stack.enter_context((home / "dbt.log").open("w"))
                    stack.enter_context(contextlib.redirect_stdout(log))
                    print(f"  dbt log: {home / 'dbt.log'}", file=sys.stderr)
                result = defs.resolve_job_def(job_name).execute_in_process(
                    instance=instance, tags=tags, raise_on_error=False, run_config=QUIET
                )
            if not result.success and job_name != checks_job.name:
                print(
                    f"{job_name} failed; see the Dagster UI (make dev) for the run log",
                    file=sys.stderr,
                )
                return False
            print(f"  done in {time.perf_counter() - started:.1f} s")
            if job_name in (checks_job.name, warehouse_dbt_build.name):
                print_checks(job_name, result)
    return True


def print_landed(con: duckdb.DuckDBPyConnection) -> None:
    """What landed: the core entities one by one, the other streams per module."""
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
    }

    def rows(name: str) -> int:
        return int(con.execute(f"SELECT count(*) FROM raw.{name}").fetchall()[0][0])

    for spec in ENTITIES:
        print(f"  raw.{spec.name:42} {rows(spec.name):>9} rows")
    by_module: dict[str, list[int]] = {}
    for spec in STREAM_SPECS:
        if spec.core is None and spec.name in present:
            by_module.setdefault(spec.module, []).append(rows(spec.name))
    for module, counts in sorted(by_module.items()):
        label = f"{module}: {len(counts)} more stream(s)"
        print(f"  {label:46} {sum(counts):>9} rows")
    others = sorted(present - {s.name for s in STREAM_SPECS})
    for name in others:
        print(f"  raw.{name:42} {rows(name):>9} rows")


def print_warehouse(warehouse_dir: Path) -> Path:
    """What landed, custom fields and two reports; returns the warehouse file."""
    database = warehouse_dir / "warehouse.duckdb"
    print(f"\nWarehouse: {database}  (landing Parquet under {warehouse_dir / 'landing'})")
    with duckdb.connect(str(database), read_only=True) as con:
        print_landed(con)
        print_reports(con)
    return database


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``st-demo``."""
    args = _parse(argv)
    warehouse_dir = Path(os.environ.setdefault("ST_WAREHOUSE_DIR", str(Path("data").resolve())))
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    home = ensure_dagster_home()
    started = time.perf_counter()
    if not dbt_project().manifest_path.exists():
        print("Preparing the dbt manifest (make dbt-manifest)...")
        prepare_manifest()
    print(f"Starting the sandbox tenant ({args.customers} customers, seed {args.seed})...")
    with SandboxProcess(
        SandboxConfig(seed=args.seed, customers=args.customers), log_file=home / "sandbox.log"
    ) as sandbox:
        os.environ.update(sandbox_env(sandbox.base_url, args.backend))
        # Two of the sandbox's custom reports (the Reporting API), unless a file is named.
        os.environ.setdefault(REPORTS_FILE_ENV, str(PROJECT_ROOT / "reports.example.yaml"))
        if args.backend == "session":
            print_sample_pages(sandbox.base_url)
        else:
            print(f"Backend: the official v2 API (client credentials) at {sandbox.base_url}")
        # The tenant's whole history (its first day), or the last --days.
        days = args.days or SandboxConfig().history_days + 1
        first_day = (datetime.now(UTC) - timedelta(days=days - 1)).date().isoformat()
        # The code location as Dagster loads it (resources from the environment just set),
        # landing from first_day.
        if not run_jobs(load_defs(start_date=first_day), home):
            return 1
        # Book, dispatch and invoice one job through the write queue and the backend.
        run_demo_writes(sandbox.base_url, home)
    database = print_warehouse(warehouse_dir)
    print(
        f"\nDone in {time.perf_counter() - started:.0f} s. Try:\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{database}', read_only=True)"
        f".sql('select * from marts.dim_customers limit 5'))\""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
