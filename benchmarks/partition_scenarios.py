"""Scenarios of the partition design (issue 17): a full history on the instance a user
gets from ``make demo`` and ``make dev`` (SQLite, Dagster's defaults), at 2,000 and
20,000 customers, and the granularities the design chose between (days, weeks, months)
on that instance, each against its rate-limit floor at the API's maximum page size."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.floor import Floor, backfill_floor
from benchmarks.harness import Bench, Row, scenario
from benchmarks.scenarios import _correctness, cpu_note
from st_sandbox.server import SandboxProcess

DEFAULT_SCALES = (2_000, 20_000)
OPTIONS_SCALE = 20_000
GRANULARITIES = ("day", "week", "month")


def _backfill_at(
    bench: Bench,
    customers: int,
    work: Path,
    *extra: str,
    local_instance: bool = False,
    backend: str | None = None,
) -> tuple[dict[str, Any], dict[str, int], Floor]:
    """Our full backfill against a sandbox of ``customers`` of its own: what the workload
    measured, the sandbox's records per entity and the floor."""
    s = bench.settings
    config = s.sandbox_config()
    config.customers = customers
    work.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(config, log_file=work / "sandbox.log") as sandbox:
        other = Bench(s, sandbox.base_url, work)
        counts: dict[str, int] = other.stats()["records"]
        floor = backfill_floor(counts, s.page_size, s.rate_limit, s.latency)
        out = other.workload(
            "ours-backfill",
            *("--first-day", other.first_day()),
            *("--last-day", datetime.now(UTC).date().isoformat()),
            *extra,
            work=work / "ours",
            local_instance=local_instance,
            backend=backend,
        )
    return out, counts, floor


def _row(
    label: str,
    out: dict[str, Any],
    counts: dict[str, int],
    floor: Floor,
    note: str,
    details: dict[str, Any],
) -> Row:
    """The row of one of our backfills: its numbers, whether it landed the sandbox's
    records, then ``note``."""
    return Row(
        label,
        "ours",
        out["seconds"],
        floor,
        out["calls"],
        sum(out["rows"].values()),
        out["peak_rss_mb"],
        f"{_correctness(out['rows'], counts)}; {note}",
        details,
    )


def _local_backfill(bench: Bench, customers: int, granularity: str, label: str, work: Path) -> Row:
    """One full history at ``customers`` on a fresh local instance, in ``granularity``."""
    out, counts, floor = _backfill_at(
        bench, customers, work, "--granularity", granularity, local_instance=True
    )
    events = sum(out["events"].values())
    note = f"{granularity} partitions, {events:,} Dagster events; local SQLite instance"
    details = {"phases": out["phases"], "events": out["events"], "granularity": granularity}
    return _row(label, out, counts, floor, note, details)


@scenario("default_instance", "full history on the local instance of make demo / make dev")
def default_instance(bench: Bench) -> list[Row]:
    """The whole history at 2,000 and 20,000 customers on a fresh SQLite instance with the
    settings ``make demo`` and ``make dev`` give it: what a user's first run costs (target
    at 20k: 20 s)."""
    return [
        _local_backfill(
            bench,
            customers,
            "month",
            f"6 full history, local instance, {customers:,} customers",
            bench.work / f"local-{customers}",
        )
        for customers in DEFAULT_SCALES
    ]


@scenario("partition_options", "the partition granularities on the local instance")
def partition_options(bench: Bench) -> list[Row]:
    """The same full history at 20,000 customers in daily, weekly and monthly partitions:
    what the choice of partitions costs in Dagster's recording."""
    return [
        _local_backfill(
            bench,
            OPTIONS_SCALE,
            granularity,
            f"7 partitions by {granularity}, {OPTIONS_SCALE:,} customers",
            bench.work / f"options-{granularity}",
        )
        for granularity in GRANULARITIES
    ]


CURVE_SCALES = (10_000, 50_000, 100_000, 150_000)


@scenario("cost_curve", "the production backfill as the tenant grows toward 10M records")
def cost_curve(bench: Bench) -> list[Row]:
    """The full backfill on the production instance at growing scales (the sandbox holds
    up to 1M customers, about 10M records; this machine's memory sets the largest scale
    run here): time, peak RSS and where the time goes (the step reading and writing
    against Dagster's recording around it)."""
    rows = []
    for customers in CURVE_SCALES:
        out, counts, floor = _backfill_at(bench, customers, bench.work / f"curve-{customers}")
        phases = out["phases"]
        step = phases.get("step:servicetitan_changing_entities", 0.0)
        run = phases.get("servicetitan_changing", 0.0)
        note = (
            f"changing run {run:.1f} s, of which its step {step:.1f} s (reads and writes) "
            f"and {run - step:.1f} s Dagster around it; {cpu_note(out)}"
        )
        label = f"8 cost curve, {customers:,} customers"
        rows.append(
            _row(label, out, counts, floor, note, {"phases": phases, "events": out["events"]})
        )
    return rows


@scenario("backfill_v2", "the production backfill through the official v2 API")
def backfill_v2(bench: Bench) -> list[Row]:
    """The full backfill of scenario 1 against the same sandbox, through the v2 backend
    (client credentials, exports): the same target, 2x the floor."""
    s = bench.settings
    counts: dict[str, int] = bench.stats()["records"]
    floor = backfill_floor(counts, s.page_size, s.rate_limit, s.latency)
    out = bench.workload(
        "ours-backfill",
        *("--first-day", bench.first_day()),
        *("--last-day", datetime.now(UTC).date().isoformat()),
        work=bench.work / "ours-v2",
        backend="v2",
    )
    details = {"phases": out["phases"], "client": out["client"]}
    return [_row("1c full backfill, v2 backend", out, counts, floor, cpu_note(out), details)]
