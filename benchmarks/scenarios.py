"""The registered scenarios of ``make bench`` (issue 7), in the order they run.

Scenario 3 (``dbt build`` time) and 5 (write-back latency of 100 requests) wait for the
dbt models and the write-back queue; they are listed as pending, and each will be one
more ``@scenario`` function here.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from benchmarks.floor import Floor, backfill_floor, incremental_floor
from benchmarks.harness import PENDING, Bench, Row, scenario
from st_sandbox.server import SandboxProcess

PENDING["dbt_build"] = "scenario 3: waits for the dbt models (branch `dbt`)"
PENDING["writeback_latency"] = "scenario 5: waits for the write-back queue (branch `writeback`)"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _mismatches(landed: dict[str, int], expected: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Entities whose landed rows differ from the sandbox's records: (landed, expected)."""
    return {e: (landed.get(e, 0), n) for e, n in expected.items() if landed.get(e, 0) != n}


def _correctness(landed: dict[str, int], expected: dict[str, int]) -> str:
    wrong = _mismatches(landed, expected)
    if not wrong:
        return "rows = sandbox records"
    return "MISMATCH " + ", ".join(f"{e} {got}≠{want}" for e, (got, want) in wrong.items())


@scenario("backfill", "full backfill of every entity into the landing and the warehouse views")
def backfill(bench: Bench) -> list[Row]:
    """Ours through the real ingest path (reference job + one ranged backfill run), then
    dlt's ``rest_api`` source into DuckDB, against the same sandbox."""
    s = bench.settings
    counts: dict[str, int] = bench.stats()["records"]
    total = sum(counts.values())
    floor = backfill_floor(counts, s.page_size, s.rate_limit, s.latency)
    work = bench.work / "ours"
    ours = bench.workload(
        "ours-backfill", "--first-day", bench.first_day(), "--last-day", _today(), work=work
    )
    # The change-feed sensor starts where the backfill ended (what a deployment does).
    (work / "sensor_cursor").write_text(str(bench.stats()["events"]))
    bench.state["backfill"] = {"work": work, "calls": ours["calls"], "records": total}
    bench.state["backfill_rss"] = ours["peak_rss_mb"]
    rows = [
        Row(
            "1 full backfill",
            "ours",
            ours["seconds"],
            floor,
            ours["calls"],
            sum(ours["rows"].values()),
            ours["peak_rss_mb"],
            _correctness(ours["rows"], counts),
            {"phases": ours["phases"], "client": ours["client"], "rows": ours["rows"]},
        )
    ]
    try:
        peer = bench.workload("dlt-backfill", work=bench.work / "dlt")
    except (RuntimeError, ValueError) as exc:
        rows.append(Row("1 full backfill", "dlt (peer)", 0.0, floor, note=str(exc), failed=True))
        return rows
    time_ratio = peer["seconds"] / ours["seconds"]
    memory_ratio = peer["peak_rss_mb"] / ours["peak_rss_mb"]
    rows.append(
        Row(
            "1 full backfill",
            "dlt (peer)",
            peer["seconds"],
            floor,
            peer["calls"],
            sum(peer["rows"].values()),
            peer["peak_rss_mb"],
            f"{_correctness(peer['rows'], counts)}; dlt/ours: time {time_ratio:.2f}x, "
            f"peak RSS {memory_ratio:.2f}x",
            {"rows": peer["rows"], "time_ratio": time_ratio, "memory_ratio": memory_ratio},
        )
    )
    return rows


@scenario("backfill_memory", "peak RSS of our backfill at a tenth of the scale")
def backfill_memory(bench: Bench) -> list[Row]:
    """The same backfill against a sandbox ten times smaller: peak RSS must not grow with
    the tenant (target: the full scale's at most 2x this one)."""
    s = bench.settings
    small = max(100, s.customers // 10)
    config = s.sandbox_config()
    config.customers = small
    with SandboxProcess(config, log_file=bench.work / "sandbox-small.log") as sandbox:
        other = Bench(s, sandbox.base_url, bench.work)
        counts: dict[str, int] = other.stats()["records"]
        floor = backfill_floor(counts, s.page_size, s.rate_limit, s.latency)
        out = other.workload(
            "ours-backfill",
            "--first-day",
            other.first_day(),
            "--last-day",
            _today(),
            work=bench.work / "ours-small",
        )
    note = _correctness(out["rows"], counts)
    full = bench.state.get("backfill_rss")
    if full:
        note += f"; full-scale peak RSS is {full / out['peak_rss_mb']:.2f}x this"
    return [
        Row(
            f"1b full backfill at {small:,} customers",
            "ours",
            out["seconds"],
            floor,
            out["calls"],
            sum(out["rows"].values()),
            out["peak_rss_mb"],
            note,
        )
    ]


def _changed_records(bench: Bench, after: int) -> Counter[str]:
    """Distinct records changed per entity in the change feed after event ``after``
    (read by the harness as the read-only user: not part of the measured calls)."""
    from pydantic import SecretStr

    from st_resources.client import ServiceTitanClient
    from st_resources.settings import ClientSettings

    settings = ClientSettings(
        base_url=bench.base_url,
        username="readonly",
        password=SecretStr("readonly-password"),
        mfa_method="none",
        rate_limit=bench.settings.rate_limit,
    )
    seen: set[tuple[str, int]] = set()
    cursor: str | None = str(after)
    with ServiceTitanClient(settings) as client:
        while True:
            events, cursor, more = client.events(after=cursor, limit=1000)
            seen |= {(e.entity, e.id) for e in events}
            if not more:
                break
    return Counter(entity for entity, _ in seen)


@scenario("incremental", "incremental sync after N changes made by the sandbox's activity")
def incremental(bench: Bench) -> list[Row]:
    """For each N: N activity steps, then the change-feed sensor ticked until quiet and
    the runs it requests. Calls and seconds must follow N, not the table size."""
    s = bench.settings
    state = bench.state.get("backfill")
    if state is None:
        raise RuntimeError("the incremental scenario needs the backfill scenario first")
    rows = []
    for n in s.changes:
        cursor = int((state["work"] / "sensor_cursor").read_text())
        events = bench.activity(n)
        changed = _changed_records(bench, cursor)
        floor = incremental_floor(events, changed, s.page_size, s.rate_limit, s.latency)
        out = bench.workload(
            "ours-incremental", "--first-day", bench.first_day(), work=state["work"]
        )
        fetched = int(out["client"]["records"])
        rows.append(
            Row(
                f"2 incremental, N={n}",
                "ours",
                out["seconds"],
                floor,
                out["calls"],
                fetched,
                out["peak_rss_mb"],
                f"{events} events, {sum(changed.values())} records changed, {out['runs']} run(s); "
                f"{out['calls'] / n * 1000:.1f} calls and {out['seconds'] / n * 1000:.2f} s per 1000 "
                f"changes; full backfill: {state['calls']} calls",
                {"events": events, "changed": dict(changed), "client": out["client"]},
            )
        )
    return rows


@scenario("code_location", "code-location load time (import and build every definition)")
def code_location(bench: Bench) -> list[Row]:
    """Best of three loads of ``st_assets.definitions`` in a fresh interpreter, against
    the floor of importing Dagster alone (also best of three)."""
    loads = [bench.workload("load-location") for _ in range(3)]
    bare = [bench.workload("import-dagster") for _ in range(3)]
    best = min(loads, key=lambda x: x["seconds"])
    floor_seconds = min(b["seconds"] for b in bare)
    details: dict[str, Any] = {"loads": loads, "import_dagster": bare}
    return [
        Row(
            "4 code-location load",
            "ours",
            best["seconds"],
            Floor(0, 0.0, floor_seconds, label="import dagster"),
            0,
            peak_rss_mb=best["peak_rss_mb"],
            note=f"{best['assets']} assets; import {best['import_seconds']:.2f} s, "
            f"build {best['seconds'] - best['import_seconds']:.2f} s",
            details=details,
        )
    ]
