"""The measured workloads, each run in its own process so that its peak RSS is its own
(the sandbox runs in another process too). Each prints one JSON line, its measurements.

    python -m benchmarks.workloads ours-backfill --base-url URL --work DIR --first-day D --rate R
    python -m benchmarks.workloads ours-incremental --base-url URL --work DIR --rate R
    python -m benchmarks.workloads dlt-backfill --base-url URL --work DIR --rate R
    python -m benchmarks.workloads dbt-build --work DIR
    python -m benchmarks.workloads writeback-latency --base-url URL --work DIR --first-day D \
        --requests FILE --rate R
    python -m benchmarks.workloads load-location
    python -m benchmarks.workloads import-dagster
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Ours reads ST_PAGE_SIZE (the harness sets it); the peer gets the same: both pay the same calls.
PAGE_SIZE = int(os.environ.get("ST_PAGE_SIZE", "5000"))
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB: ``VmHWM``, the high-water mark of
    its own memory since it started. Not ``getrusage``: Linux carries ``ru_maxrss``
    across fork and exec, so a workload would report the harness's peak when larger."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _point_at(base_url: str, work: Path, rate: float) -> None:
    """Environment of the code location: the sandbox, our warehouse and Dagster home."""
    from st_sandbox.demo import ensure_dagster_home, sandbox_env

    os.environ.update(sandbox_env(base_url, os.environ.get("ST_BACKEND") or "session"))
    os.environ["ST_WAREHOUSE_DIR"] = str(work / "warehouse")
    os.environ["DAGSTER_HOME"] = str(work / "dagster_home")
    os.environ["ST_RATE_LIMIT"] = str(rate)
    ensure_dagster_home()


def _definitions(first_day: str, granularity: str = "month") -> Any:
    import dagster as dg

    from st_assets.definitions import ingest_defs
    from st_assets.resources import build_resources

    return dg.Definitions.merge(
        ingest_defs(start_date=first_day, granularity=granularity),  # type: ignore[arg-type]
        dg.Definitions(resources=build_resources()),
    )


def _range_tags(defs: Any, first_day: str, last_day: str) -> dict[str, str]:
    """The tags of one ranged run over the partitions holding ``first_day..last_day``."""
    from datetime import date

    from st_assets.defs.ingest.partitions import partition_key_for
    from st_assets.defs.ingest.refresh import changing_partitions

    partitions_def = changing_partitions(defs.get_repository_def())
    return {
        "dagster/asset_partition_range_start": partition_key_for(
            partitions_def, date.fromisoformat(first_day)
        ),
        "dagster/asset_partition_range_end": partition_key_for(
            partitions_def, date.fromisoformat(last_day)
        ),
    }


def count_rows(database: Path, schema: str, tables: list[str]) -> dict[str, int]:
    """Rows of each ``schema.table`` of a DuckDB file (missing tables count 0)."""
    import duckdb

    out: dict[str, int] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        present = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [schema],
            ).fetchall()
        }
        for table in tables:
            row = (
                con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()
                if table in present
                else None
            )
            out[table] = int(row[0]) if row else 0
    return out


def _client_metrics() -> dict[str, float]:
    """Metrics of the process-wide client the assets used."""
    from st_assets.resources import build_resources

    resource = build_resources()["servicetitan"].process_config_and_initialize()
    return dict(resource.get_backend().metrics.snapshot())


def ours_backfill(
    base_url: str,
    work: Path,
    first_day: str,
    last_day: str,
    rate: float,
    granularity: str = "month",
) -> dict[str, Any]:
    """Every entity through the real ingest path: the reference job, then one ranged
    backfill run of every partitioned entity over ``first_day..last_day``, in partitions of
    ``granularity``."""
    _point_at(base_url, work, rate)
    import dagster as dg

    from st_assets.defs.ingest.selection import selected_streams

    defs = _definitions(first_day, granularity)
    phases: dict[str, float] = {}
    events: dict[str, int] = {}
    cpu_before = sum(os.times()[:2])
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        for job, tags in (
            ("servicetitan_reference", {}),
            ("servicetitan_changing", _range_tags(defs, first_day, last_day)),
        ):
            t0 = time.perf_counter()
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, tags=tags, run_config=QUIET
            )
            if not result.success:
                raise SystemExit(f"{job} failed")
            phases[job] = time.perf_counter() - t0
            phases.update(_step_seconds(instance, result.run_id))
            events[job] = len(instance.all_logs(result.run_id))
    seconds = time.perf_counter() - started
    rows = count_rows(
        work / "warehouse" / "warehouse.duckdb", "raw", [s.name for s in selected_streams()]
    )
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rows": rows,
        "phases": phases,
        "events": events,
        # Our CPU (every thread) over the run: beside ``seconds``, how busy the cores were.
        "cpu_seconds": sum(os.times()[:2]) - cpu_before,
        "client": _client_metrics(),
    }


def _step_seconds(instance: Any, run_id: str) -> dict[str, float]:
    """Seconds of each step of a run (from its event log), keyed ``step:<name>``."""
    import dagster as dg

    starts: dict[str, float] = {}
    out: dict[str, float] = {}
    for record in instance.all_logs(
        run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    ):
        step = record.step_key or "?"
        if record.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            starts[step] = record.timestamp
        elif step in starts:
            out[f"step:{step}"] = record.timestamp - starts[step]
    return out


def ours_incremental(base_url: str, work: Path, first_day: str, rate: float) -> dict[str, Any]:
    """The change-feed sensor, ticked until it has no more changes, and the runs it asks
    for (today's partition of every changed entity), as the daemon would do them."""
    _point_at(base_url, work, rate)
    import dagster as dg

    from st_assets.defs.ingest.sensors import change_feed

    defs = _definitions(first_day)
    cursor_file = work / "sensor_cursor"
    cursor = cursor_file.read_text().strip() if cursor_file.exists() else None
    resources = {"servicetitan": defs.resources["servicetitan"]}
    before = _client_metrics()
    started = time.perf_counter()
    runs = 0
    job = defs.resolve_job_def("servicetitan_changing")
    with dg.DagsterInstance.get() as instance:
        while True:
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources=resources,
                repository_def=defs.get_repository_def(),
            )
            outcome = change_feed(context)
            assert isinstance(outcome, dg.SensorResult)
            cursor = outcome.cursor
            if not outcome.run_requests:
                break
            for request in outcome.run_requests:
                result = job.execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    asset_selection=list(request.asset_selection or []),
                    tags=request.tags,
                    run_config={**QUIET, **request.run_config},
                )
                if not result.success:
                    raise SystemExit("incremental run failed")
                runs += 1
    seconds = time.perf_counter() - started
    if cursor:
        cursor_file.write_text(cursor)
    after = _client_metrics()
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "runs": runs,
        "client": {k: after[k] - before.get(k, 0) for k in after},
    }


# How the dlt peer is configured, as dlt's own docs advise for a large REST extraction
# into DuckDB with bounded memory ("Optimizing dlt", the duckdb destination page). Set
# in the environment (dlt's config provider) before dlt is imported; a value already in
# the environment wins, so a variant can be measured without editing this file.
DLT_PEER_ENV = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "RUNTIME__LOG_LEVEL": "WARNING",
    # Extract: rest_api yields whole pages; each resource holds one page at a time and
    # the writer buffers at most this many items per table before appending them to its
    # file (dlt's default, 5000, stated so it is visible). Memory is this times the open
    # tables, whatever the tenant's size.
    "DATA_WRITER__BUFFER_MAX_ITEMS": "5000",
    # Extract files (the ``sources`` section: dlt resolves the extract writer's config
    # there, not under ``extract``) rotate every 100k items, the docs' example: without
    # rotation each table is one file, which only one normalize worker can take.
    "SOURCES__DATA_WRITER__FILE_MAX_ITEMS": "100000",
    # Extract files are gzipped at level 9 by default, a fifth of the extract's CPU at
    # 10k customers; they are local scratch read once by normalize: left uncompressed.
    "SOURCES__DATA_WRITER__DISABLE_COMPRESSION": "true",
    # Normalize is CPU-bound and runs in the main process by default: two worker
    # processes (the machine's cores; the sandbox is idle by then) take the files in
    # parallel. ``spawn``, as the docs require when threads ran before (the parallelized
    # extract's thread pool): ``fork`` may copy a held lock into the child.
    "NORMALIZE__WORKERS": "2",
    "NORMALIZE__START_METHOD": "spawn",
    # Normalized (Parquet) files rotate too, so one large table loads as several COPY
    # jobs and no single file grows with the tenant.
    "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS": "100000",
}


class TreeRss:
    """Peak resident set size of this process and its children together, sampled by a
    thread (dlt's normalize workers are child processes: their memory counts with ours,
    at the moment it is held). ``ru_maxrss`` of this process is folded in, so a spike
    shorter than the sampling interval is still counted for this process."""

    def __init__(self, interval: float = 0.05) -> None:
        import threading

        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_mb = 0.0

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = self._process.memory_info().rss
            for child in self._process.children(recursive=True):
                # A child may exit between the listing and the read.
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self._interval)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, peak_rss_mb())


def dlt_backfill(base_url: str, work: Path, rate: float) -> dict[str, Any]:
    """The peer: dlt's ``rest_api`` source over every entity into DuckDB, logged in as the
    same user (the login is one call pair; the bearer token is handed to dlt), configured
    as ``DLT_PEER_ENV`` says. Peak RSS is this process and dlt's worker processes
    together (``TreeRss``); each stage's seconds are reported too."""
    for key, value in DLT_PEER_ENV.items():
        os.environ.setdefault(key, value)
    with TreeRss() as rss:
        out = _dlt_backfill(base_url, work, rate)
    out["peak_rss_self_mb"] = peak_rss_mb()
    out["peak_rss_mb"] = max(rss.peak_mb, out["peak_rss_self_mb"])
    # The largest child process alone (reaped children only), for reference.
    out["peak_rss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out


def _dlt_backfill(base_url: str, work: Path, rate: float) -> dict[str, Any]:
    import dlt
    from dlt.sources.rest_api import rest_api_source
    from pydantic import SecretStr

    from st_assets.defs.ingest.selection import selected_streams
    from st_resources.session import SessionBackend
    from st_resources.settings import SessionSettings
    from st_sandbox.auth import DEMO_TOTP_SECRET

    started = time.perf_counter()
    settings = SessionSettings(
        base_url=base_url,
        username="demo",
        password=SecretStr("demo-password"),
        totp_secret=SecretStr(DEMO_TOTP_SECRET),
        rate_limit=rate,
    )
    with SessionBackend(settings) as backend:
        token = backend.transport.auth.token()
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "auth": {"type": "bearer", "token": token},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "nextCursor",
                    "cursor_param": "cursor",
                },
            },
            "resource_defaults": {
                "write_disposition": "replace",
                # Each resource's pages are requested in a thread of the extract pool
                # (5 threads, dlt's default), so the 20 entities' latencies overlap
                # instead of adding up; a resource still holds one page at a time.
                "parallelized": True,
                "endpoint": {"params": {"pageSize": PAGE_SIZE}, "data_selector": "data"},
            },
            "resources": [
                {"name": spec.name, "endpoint": {"path": spec.path}} for spec in selected_streams()
            ],
        }
    )
    # Nested lists and objects stay in their record's row as JSON columns, one row per
    # record as in our landing (whose nested fields are Arrow lists and structs), instead
    # of dlt's default child tables: less normalize work for the peer, the same data.
    source.max_table_nesting = 0
    database = work / "dlt.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="st_peer",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="raw",
        pipelines_dir=str(work / "dlt_pipelines"),
    )
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    # Parquet, not the duckdb destination's default ``insert_values``: dlt's duckdb page
    # advises it when pyarrow is installed. DuckDB then loads each file with one COPY;
    # ``insert_values`` sends 16 MB INSERT statements from 20 load threads, which DuckDB
    # parses into gigabytes (5.7 GB peak at 10k customers; killed at 15 GB at 100k).
    pipeline.extract(source, loader_file_format="parquet")
    stages["extract"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipeline.normalize()
    stages["normalize"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipeline.load(raise_on_failed_jobs=True)
    stages["load"] = time.perf_counter() - t0
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "stages": stages,
        "rows": count_rows(database, "raw", [s.name for s in selected_streams()]),
    }


def scan_raw(database: Path) -> dict[str, Any]:
    """DuckDB reading every raw view once into memory (the floor of ``dbt build``: any
    model over the raw data reads it at least once); seconds and rows read."""
    import duckdb

    started = time.perf_counter()
    rows = 0
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{database}' AS wh (READ_ONLY)")
        views = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'wh' AND table_schema = 'raw' ORDER BY 1"
            ).fetchall()
        ]
        for view in views:
            con.execute(f"CREATE TABLE scan_{view} AS SELECT * FROM wh.raw.{view}")
            row = con.execute(f"SELECT count(*) FROM scan_{view}").fetchone()
            rows += int(row[0]) if row else 0
            con.execute(f"DROP TABLE scan_{view}")
    return {"seconds": time.perf_counter() - started, "views": len(views), "rows": rows}


def dbt_build(work: Path) -> dict[str, Any]:
    """``dbt build`` of ``dbt_models/`` on the warehouse in ``work/warehouse``, as the
    ``dbt`` CLI (parse included: a fresh target folder); peak RSS is dbt's process."""
    from st_assets.defs.dbt.project import DBT_PROJECT_DIR, dbt_executable
    from st_resources.warehouse import WarehouseResource

    warehouse = work / "warehouse"
    scan = scan_raw(warehouse / "warehouse.duckdb")
    # What the dbt asset does first: an empty raw table for each stream not landed.
    WarehouseResource(warehouse_dir=str(warehouse)).ensure_views()
    target = work / "dbt_target"
    project = str(DBT_PROJECT_DIR)
    cmd = [dbt_executable(), "build", "--project-dir", project, "--profiles-dir", project]
    cmd += ["--target-path", str(target), "--log-path", str(work / "dbt_logs")]
    started = time.perf_counter()
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "ST_WAREHOUSE_DIR": str(warehouse),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
    )
    seconds = time.perf_counter() - started
    results_file = target / "run_results.json"
    if not results_file.exists():
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise SystemExit(f"dbt build wrote no run_results.json: {' / '.join(tail)}")
    results = json.loads(results_file.read_text())["results"]
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        kind = result["unique_id"].split(".", 1)[0]  # model, test, seed, snapshot
        statuses = counts.setdefault(kind, {})
        statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    return {
        "seconds": seconds,
        "returncode": done.returncode,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "results": counts,
        "scan": scan,
    }


def _quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (inclusive method; the one value of a list of one)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def writeback_latency(
    base_url: str, work: Path, first_day: str, requests_file: Path, rate: float, singles: int
) -> dict[str, Any]:
    """The write requests of ``requests_file`` (a JSON list of ``[kind, payload]``) under a
    real Dagster daemon: a warm-up, single requests one after another, then the rest at
    once (``benchmarks.writeback_daemon``)."""
    from benchmarks.writeback_daemon import measure
    from st_resources.writeback.queue import WriteQueue
    from st_sandbox.cli import outbox_code_command

    _point_at(base_url, work, rate)
    # Dispatches are sent as the dispatcher (the SMS code read from the sandbox's outbox
    # by its code command), as in a deployment; the harness sets the jobs up as ``demo``,
    # whose TOTP code a second login within the same 30 s would find already used.
    os.environ.pop("ST_TOTP_SECRET", None)
    env = {
        "ST_USERNAME": "dispatcher",
        "ST_PASSWORD": "dispatch-password",
        "ST_MFA_METHOD": "sms",
        "ST_MFA_CODE_COMMAND": outbox_code_command(base_url),
        "ST_WRITEBACK_DB_URL": f"sqlite:///{work / 'queue.sqlite'}",
        "ST_PARTITIONS_START": first_day,
    }
    os.environ.update(env)
    wanted = [(kind, payload) for kind, payload in json.loads(requests_file.read_text())]
    home = Path(os.environ["DAGSTER_HOME"])
    queue = WriteQueue(env["ST_WRITEBACK_DB_URL"])
    out = measure(dict(os.environ), home, queue, wanted, singles)
    return {**out, "seconds": out["burst"]["seconds_to_empty"], "peak_rss_mb": peak_rss_mb()}


def load_location() -> dict[str, Any]:
    """Import the code location and build its definitions, as a code server does."""
    started = time.perf_counter()
    import st_assets.definitions as location

    imported = time.perf_counter() - started
    defs = location.defs()
    repo = defs.get_repository_def()
    repo.load_all_definitions()
    return {
        "seconds": time.perf_counter() - started,
        "import_seconds": imported,
        "assets": len(list(repo.asset_graph.get_all_asset_keys())),
        "peak_rss_mb": peak_rss_mb(),
    }


def import_dagster() -> dict[str, Any]:
    """The floor of loading any code location: importing Dagster itself."""
    started = time.perf_counter()
    import dagster  # noqa: F401

    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "workload",
        choices=[
            "ours-backfill",
            "ours-incremental",
            "dlt-backfill",
            "dbt-build",
            "writeback-latency",
            "load-location",
            "import-dagster",
        ],
    )
    parser.add_argument("--base-url")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--first-day")
    parser.add_argument("--last-day")
    parser.add_argument("--rate", type=float, default=60.0)
    parser.add_argument(
        "--granularity", choices=("month", "week", "day"), default="month", help="partitions"
    )
    parser.add_argument(
        "--requests", type=Path, help="writeback-latency: JSON [kind, payload] list"
    )
    parser.add_argument("--singles", type=int, default=10, help="writeback-latency: singles")
    args = parser.parse_args(argv)
    if args.workload == "ours-backfill":
        out = ours_backfill(
            args.base_url, args.work, args.first_day, args.last_day, args.rate, args.granularity
        )
    elif args.workload == "ours-incremental":
        out = ours_incremental(args.base_url, args.work, args.first_day, args.rate)
    elif args.workload == "dlt-backfill":
        out = dlt_backfill(args.base_url, args.work, args.rate)
    elif args.workload == "dbt-build":
        out = dbt_build(args.work)
    elif args.workload == "writeback-latency":
        out = writeback_latency(
            args.base_url, args.work, args.first_day, args.requests, args.rate, args.singles
        )
    elif args.workload == "load-location":
        out = load_location()
    else:
        out = import_dagster()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
