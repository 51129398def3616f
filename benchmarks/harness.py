"""The benchmark harness: a registry of scenarios run in order against one sandbox
subprocess, each measured workload in its own process, every result set against its
floor, and the report written as ``RESULTS.md`` and JSON.

A scenario is one function ``(Bench) -> list[Row]`` registered with ``@scenario``; it
may read what earlier scenarios left in ``bench.state`` (the incremental sync reuses
the backfill's warehouse). Adding one (``dbt build``, write-back latency) is one
decorated function in ``benchmarks/scenarios.py``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.floor import Floor, LatencyModel
from st_assets.defs.ingest.selection import parse_selection
from st_sandbox.config import SandboxConfig
from st_sandbox.demo import LOCAL_INSTANCE_ENV
from st_sandbox.server import SandboxProcess

# The measured processes have the Dagster settings ``make demo`` and ``make dev`` give the
# local instance (``LOCAL_INSTANCE_ENV``: a ranged backfill records its planned partitions
# as one event per asset and its results in batches; deployments set the same variables,
# RESULTS.md says so), with Python warnings off.
WORKLOAD_ENV = {"PYTHONWARNINGS": "ignore", **LOCAL_INSTANCE_ENV}
# The measured processes run the production instance (docs/dagster.prod.yaml: storage in
# PostgreSQL, a fresh database per benchmark run); ST_BENCH_STORAGE=sqlite measures the
# local SQLite instance of ``make demo`` instead.
PROD_INSTANCE = Path(__file__).resolve().parents[1] / "docs" / "dagster.prod.yaml"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Settings:
    """What the run is measured against (printed with the results)."""

    customers: int = 100_000
    rate_limit: float = 60.0
    latency_ms: float = 50.0
    latency_per_record_us: float = 20.0
    history_days: int = 1095
    changes: tuple[int, ...] = (1000, 4000)
    page_size: int = 5000  # the API's maximum, the resources' default
    seed: int = 7
    writes: int = 100  # write-back requests of the latency scenario
    streams: str = "all"  # ST_STREAMS of the measured processes (and the peer's streams)

    @property
    def latency(self) -> LatencyModel:
        return LatencyModel(self.latency_ms, self.latency_per_record_us)

    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(
            seed=self.seed,
            customers=self.customers,
            history_days=self.history_days,
            rate_limit=self.rate_limit,
            latency_ms=self.latency_ms,
            latency_per_record_us=self.latency_per_record_us,
            log_requests=False,
            # Both tools meet a sandbox whose pages are ready, not only the one measured second.
            warm_json=True,
        )


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    tool: str
    seconds: float
    floor: Floor | None = None
    calls: int | None = None
    records: int | None = None
    peak_rss_mb: float | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    failed: bool = False

    @property
    def records_per_second(self) -> float | None:
        return self.records / self.seconds if self.records and self.seconds > 0 else None

    @property
    def floor_ratio(self) -> float | None:
        return self.floor.ratio(self.seconds) if self.floor else None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["records_per_second"] = self.records_per_second
        out["floor"] = (
            {
                **asdict(self.floor),
                "seconds": self.floor.seconds,
                "bound_by": self.floor.bound_by,
            }
            if self.floor
            else None
        )
        out["floor_ratio"] = self.floor_ratio
        return out


@dataclass
class Bench:
    """One benchmark run: its settings, the sandbox, a scratch folder and shared state."""

    settings: Settings
    base_url: str
    work: Path
    state: dict[str, Any] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        """The sandbox's counters (``GET /_sandbox/stats``: not counted as a request), its
        records counted for the streams measured (``Settings.streams``) only."""
        body: dict[str, Any] = httpx.get(f"{self.base_url}/_sandbox/stats", timeout=60).json()
        measured = {spec.name for spec in parse_selection(self.settings.streams)}
        body["records"] = {k: v for k, v in body["records"].items() if k in measured}
        return body

    def requests(self) -> int:
        """API requests the sandbox answered so far (every status, 429s included); its
        own ``/_sandbox`` routes (these stats, dumps, activity) are not API calls."""
        counters: dict[str, int] = self.stats()["requests"]
        own = sum(n for key, n in counters.items() if key.split(" ")[1:2] == ["_sandbox"])
        return int(counters.get("requests", 0)) - own

    def activity(self, steps: int) -> int:
        """Make ``steps`` business changes in the sandbox; returns the events they wrote."""
        events = 0
        while steps > 0:
            chunk = min(steps, 10_000)
            answer = httpx.post(
                f"{self.base_url}/_sandbox/activity", json={"steps": chunk}, timeout=600
            )
            answer.raise_for_status()
            events += int(answer.json()["events"])
            steps -= chunk
        return events

    def first_day(self) -> str:
        """The first daily partition holding sandbox history."""
        start = datetime.now(UTC) - timedelta(days=self.settings.history_days)
        return start.date().isoformat()

    def workload(
        self,
        name: str,
        *args: str,
        work: Path | None = None,
        local_instance: bool = False,
        backend: str | None = None,
    ) -> dict[str, Any]:
        """Run ``benchmarks.workloads <name>`` in a fresh process; its JSON line, plus the
        sandbox requests it made (``calls``) and its wall time seen from here.
        ``local_instance``: the instance ``make demo`` and ``make dev`` give a user (SQLite
        in the work folder), not the production one. ``backend``:
        the measured process's ``ST_BACKEND`` (default: this process's)."""
        cmd = [sys.executable, "-m", "benchmarks.workloads", name]
        if work is not None:
            work.mkdir(parents=True, exist_ok=True)
            cmd += ["--base-url", self.base_url, "--work", str(work)]
            cmd += ["--rate", f"{self.settings.rate_limit:g}", *args]
        env = {
            **os.environ,
            **WORKLOAD_ENV,
            "ST_PAGE_SIZE": str(self.settings.page_size),
            "ST_STREAMS": self.settings.streams,
        }
        if backend:
            env["ST_BACKEND"] = backend
        if work is not None and name.startswith("ours") and not local_instance:
            env.update(dagster_instance(work / "dagster_home"))
        before = self.requests()
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(failure(name, done.returncode, done.stderr))
        out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        out["calls"] = self.requests() - before
        out["process_seconds"] = wall
        return out


def dagster_storage() -> str:
    """The storage of the measured Dagster instance: ``postgres`` (production) unless
    ``ST_BENCH_STORAGE=sqlite`` asks for the local instance or no PostgreSQL answers."""
    if os.environ.get("ST_BENCH_STORAGE", "postgres") == "sqlite":
        return "sqlite"
    import psycopg2

    try:
        psycopg2.connect(os.environ.get("ST_BENCH_PG_URL", PG_SERVER), connect_timeout=2).close()
    except psycopg2.OperationalError:
        return "sqlite"
    return "postgres"


def dagster_instance(home: Path) -> dict[str, str]:
    """Give ``home`` the production instance (docs/dagster.prod.yaml) on a fresh
    PostgreSQL database, once (later workloads on the same folder reuse it), and return
    the environment that selects it; nothing for SQLite (the workload writes that)."""
    url_file = home / "pg_url"
    if not url_file.exists():
        if dagster_storage() == "sqlite":
            return {}
        import uuid

        import psycopg2

        server = os.environ.get("ST_BENCH_PG_URL", PG_SERVER)
        name = f"st_bench_{uuid.uuid4().hex[:12]}"
        admin = psycopg2.connect(server)
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(PROD_INSTANCE.read_text())
        url_file.write_text(f"{server.rsplit('/', 1)[0]}/{name}")
    return {"DAGSTER_PG_URL": url_file.read_text()}


def drop_bench_databases(work: Path) -> list[str]:
    """Drop the PostgreSQL databases ``dagster_instance`` created under ``work``, so that
    benchmark and smoke-test runs leave nothing behind on the server. Returns their names."""
    urls = [f.read_text().strip() for f in work.glob("**/pg_url")]
    if not urls:
        return []
    import psycopg2

    names = [url.rsplit("/", 1)[1] for url in urls]
    admin = psycopg2.connect(os.environ.get("ST_BENCH_PG_URL", PG_SERVER))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.close()
    return names


def failure(name: str, returncode: int, stderr: str) -> str:
    """One line saying why a workload process failed (a table cell, no newlines)."""
    if returncode == -9:
        why = "killed by SIGKILL (the kernel's OOM killer, if dmesg says so)"
    else:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        why = f"exit {returncode}: {lines[-1] if lines else 'no output'}"
    return f"workload {name} {why}".replace("|", "/")


Scenario = Callable[[Bench], list[Row]]


@dataclass(frozen=True)
class Registered:
    name: str
    title: str
    run: Scenario


SCENARIOS: dict[str, Registered] = {}
# Scenarios of the issue that wait for other work; listed as pending, never faked.
PENDING: dict[str, str] = {}


def scenario(name: str, title: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario; scenarios run in the order they are registered."""

    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = Registered(name, title, fn)
        return fn

    return register


def machine() -> dict[str, Any]:
    """Where the numbers were taken."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        info["cpu"] = cpu
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        info["memory_gib"] = round(mem_kb / 1024**2, 1)
        info["load_average"] = os.getloadavg()
    except (OSError, StopIteration):
        pass
    return info


def run(
    settings: Settings,
    names: list[str] | None = None,
    work: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start the sandbox, run the scenarios (all by default) and return the report."""
    selected = [SCENARIOS[n] for n in (names or list(SCENARIOS))]
    work = work or Path(tempfile.mkdtemp(prefix="st-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    log(
        f"Starting the sandbox: {settings.customers} customers, {settings.rate_limit:g} requests/s, "
        f"latency {settings.latency_ms:g} ms + {settings.latency_per_record_us:g} µs/record..."
    )
    started = time.perf_counter()
    with SandboxProcess(settings.sandbox_config(), log_file=work / "sandbox.log") as sandbox:
        bench = Bench(settings, sandbox.base_url, work)
        counts = bench.stats()["records"]
        log(
            f"Sandbox ready in {time.perf_counter() - started:.0f} s: "
            f"{sum(counts.values())} records in {len(counts)} entities"
        )
        try:
            for registered in selected:
                log(f"Running {registered.name}: {registered.title}...")
                new = registered.run(bench)
                for row in new:
                    log("  " + one_line(row))
                rows += new
        finally:
            drop_bench_databases(work)
    return {
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": asdict(settings),
        "sandbox_records": counts,
        "dagster_storage": dagster_storage(),
        "rows": [row.as_json() for row in rows],
        "pending": dict(PENDING),
    }


def one_line(row: Row) -> str:
    ratio = f"{row.floor_ratio:.2f}x floor" if row.floor_ratio else "no floor"
    return f"{row.scenario} [{row.tool}] {row.seconds:.1f} s, {ratio}" + (
        f", {row.note}" if row.note else ""
    )


def _fmt(value: float | int | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


TABLE_HEADER = (
    "| scenario | tool | seconds | floor s (bound) | × floor | API calls (floor) | records | records/s | peak RSS MB | note |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def table(report: dict[str, Any]) -> str:
    """The results as a Markdown table (also what ``make bench`` prints)."""
    lines = [TABLE_HEADER]
    for r in report["rows"]:
        floor = r["floor"]
        floor_cell = f"{floor['seconds']:.1f} ({floor['bound_by']})" if floor else "–"
        calls = _fmt(r["calls"], "d")
        if floor:
            calls += f" ({floor['calls']})"
        if r.get("failed"):
            lines.append(
                f"| {r['scenario']} | {r['tool']} | failed | {floor_cell} | – | – | – | – | – | {r['note']} |"
            )
            continue
        lines.append(
            f"| {r['scenario']} | {r['tool']} | {r['seconds']:.2f} | {floor_cell} | "
            f"{_fmt(r['floor_ratio'], '.2f')} | {calls} | {_fmt(r['records'], 'd')} | "
            f"{_fmt(r['records_per_second'], ',.0f')} | {_fmt(r['peak_rss_mb'], '.0f')} | {r['note']} |"
        )
    for name, why in report["pending"].items():
        lines.append(f"| {name} | – | pending | – | – | – | – | – | – | {why} |")
    return "\n".join(lines)


def markdown(report: dict[str, Any], command: str, shared_machine: bool) -> str:
    """``RESULTS.md``: the table, the machine and the settings."""
    s = report["settings"]
    m = report["machine"]
    warning = (
        "\n> Taken on a **shared** machine (other jobs were running): treat times as upper "
        "bounds and re-run `make bench` on a quiet machine for reference numbers.\n"
        if shared_machine
        else ""
    )
    return f"""# Benchmark results

Written by `{command}` at {report["taken_at"]}. Do not edit by hand: re-run it.
{warning}
{table(report)}

- **floor**: the shortest time the tenant allows: `calls ÷ requests/s` plus one answer,
  or the chain of latencies that must follow each other, whichever is longer
  (`benchmarks/floor.py`). `× floor` is our time divided by it (target ≤ 2.0 for the
  full backfill). API calls are counted by the sandbox, 429s included.
- **peak RSS** is the measured process's own peak (the sandbox runs in another process);
  for the dlt peer, its process and its normalize worker processes together, sampled.

## Settings

| setting | value |
|---|---|
| customers | {s["customers"]:,} ({sum(report["sandbox_records"].values()):,} records) |
| streams | `ST_STREAMS={s.get("streams", "all")}`: {len(report["sandbox_records"])} streams |
| rate limit | {s["rate_limit"]:g} requests/s per session |
| latency | {s["latency_ms"]:g} ms per call + {s["latency_per_record_us"]:g} µs per record |
| history | {s["history_days"]} days (monthly partitions) |
| page size | {s["page_size"]} (the API's maximum; ours and the peer) |
| incremental changes N | {", ".join(str(n) for n in s["changes"])} |
| write-back requests | {s.get("writes", "–")} dispatches, submitted at once |
| seed | {s["seed"]} |
| Dagster instance | {report.get("dagster_storage", "sqlite")} (`postgres`: docs/dagster.prod.yaml, a fresh database per run, `DAGSTER_EVENT_BATCH_SIZE={WORKLOAD_ENV["DAGSTER_EVENT_BATCH_SIZE"]}`; `ST_BENCH_STORAGE=sqlite`: the local instance of `make demo`) |
| Dagster environment | {", ".join(f"`{k}={v}`" for k, v in WORKLOAD_ENV.items())}: a single-run (ranged) backfill records one `ASSET_MATERIALIZATION_PLANNED` event per asset holding the partition range, instead of one per partition (Dagster's own trade-off: the partitions of a failed run are then not marked failed); other runs are unaffected; Python warnings off |

## Machine

| | |
|---|---|
| CPU | {m.get("cpu", "?")} × {m.get("cpus", "?")} |
| memory | {m.get("memory_gib", "?")} GiB |
| Python | {m["python"]} on {m["platform"]} |
| load average at the end | {", ".join(f"{x:.2f}" for x in m.get("load_average", ()))} |
"""
