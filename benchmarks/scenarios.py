"""The registered scenarios of ``make bench`` (issue 7), in the order they run."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from benchmarks.floor import Floor, backfill_floor, floor, incremental_floor
from benchmarks.harness import Bench, Row, scenario
from st_sandbox.server import SandboxProcess


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _mismatches(landed: dict[str, int], expected: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Entities whose landed rows differ from the sandbox's records: (landed, expected)."""
    return {e: (landed.get(e, 0), n) for e, n in expected.items() if landed.get(e, 0) != n}


def cpu_note(out: dict[str, Any]) -> str:
    """Our CPU over a run, beside its time: how busy this machine's cores were."""
    cores = os.cpu_count() or 1
    return f"our CPU {out['cpu_seconds']:.1f} s in {out['seconds']:.1f} s on {cores} cores"


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
            f"{_correctness(ours['rows'], counts)}; {cpu_note(ours)}",
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
            {
                "rows": peer["rows"],
                "time_ratio": time_ratio,
                "memory_ratio": memory_ratio,
                # dlt's extract / normalize / load seconds, and its main process's own
                # peak beside the process tree's (``peak_rss_mb``).
                "stages": peer.get("stages", {}),
                "peak_rss_self_mb": peer.get("peak_rss_self_mb"),
            },
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


def _client(bench: Bench, user: str = "readonly") -> Any:
    """A session backend of the harness itself (``readonly``, or ``demo`` to set data up): its
    calls happen outside the measured workloads."""
    from pydantic import SecretStr

    from st_resources.session import SessionBackend
    from st_resources.settings import SessionSettings
    from st_sandbox.auth import DEMO_TOTP_SECRET

    login: dict[str, Any] = (
        {"password": SecretStr("demo-password"), "totp_secret": SecretStr(DEMO_TOTP_SECRET)}
        if user == "demo"
        else {"password": SecretStr("readonly-password"), "mfa_method": "none"}
    )
    settings = SessionSettings(
        base_url=bench.base_url, username=user, rate_limit=bench.settings.rate_limit, **login
    )
    return SessionBackend(settings)


def _changed_records(bench: Bench, after: int) -> Counter[str]:
    """Distinct records changed per entity in the change feed after event ``after``
    (read by the harness as the read-only user: not part of the measured calls)."""
    seen: set[tuple[str, int]] = set()
    cursor: str | None = str(after)
    with _client(bench) as client:
        while True:
            batch = client.change_feed.changes(cursor, limit=1000)
            cursor = batch.cursor
            seen |= {(e.entity, e.id) for e in batch.events}
            if not batch.has_more:
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


@scenario("dbt_build", "dbt build on the warehouse the backfill produced")
def dbt_build(bench: Bench) -> list[Row]:
    """``dbt build`` (parse, every model and test) on the backfill's warehouse, against
    the floor of DuckDB reading the raw data once: no API call is involved."""
    state = bench.state.get("backfill")
    if state is None:
        raise RuntimeError("the dbt_build scenario needs the backfill scenario first")
    out = bench.workload("dbt-build", work=state["work"])
    results: dict[str, dict[str, int]] = out["results"]
    scan = out["scan"]
    bad = {
        status: n
        for statuses in results.values()
        for status, n in statuses.items()
        if status not in ("success", "pass")
    }
    counts = ", ".join(
        f"{sum(statuses.values())} {kind}s ({', '.join(f'{n} {k}' for k, n in sorted(statuses.items()))})"
        for kind, statuses in sorted(results.items())
    )
    verdict = (
        "passed" if out["returncode"] == 0 and not bad else f"NOT PASSED (exit {out['returncode']})"
    )
    return [
        Row(
            "3 dbt build",
            "ours",
            out["seconds"],
            Floor(0, 0.0, scan["seconds"], label="DuckDB scan of raw"),
            out["calls"],
            scan["rows"],
            out["peak_rss_mb"],
            f"{verdict}: {counts}; floor: DuckDB reading the {scan['views']} raw views once "
            f"({scan['seconds']:.2f} s)",
            {"results": results, "returncode": out["returncode"], "scan": scan},
        )
    ]


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


def _dump(bench: Bench, entity: str) -> list[dict[str, Any]]:
    """The sandbox's ground truth for an entity (a sandbox route: not an API call)."""
    text = httpx.get(f"{bench.base_url}/_sandbox/dump", params={"entity": entity}, timeout=600)
    return [json.loads(line) for line in text.text.splitlines() if line]


def dispatch_requests(bench: Bench, count: int) -> list[dict[str, Any]]:
    """``count`` new Scheduled jobs (set up by the harness as ``demo``, outside the
    measurement) and one dispatch payload for each: a technician and a window of its own
    day far ahead, so no two requests compete (every one should succeed)."""
    job_type = _dump(bench, "job_types")[0]
    # The activity of earlier scenarios deletes and merges customers: their locations stay.
    customers = {c["id"] for c in _dump(bench, "customers") if c.get("active", True)}
    locations = [
        loc for loc in _dump(bench, "locations") if loc["active"] and loc["customerId"] in customers
    ][:count]
    technicians = [t["id"] for t in _dump(bench, "technicians") if t["active"]]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    created = today + timedelta(days=200, hours=8)
    payloads = []
    with _client(bench, "demo") as client:
        for i in range(count):
            loc = locations[i % len(locations)]
            job = client.send_write(
                "create_job",
                {
                    "customerId": loc["customerId"],
                    "locationId": loc["id"],
                    "businessUnitId": job_type["businessUnitIds"][0],
                    "jobTypeId": job_type["id"],
                    "summary": f"benchmark job {i}",
                    "appointment": {
                        "start": created.isoformat(),
                        "end": (created + timedelta(hours=2)).isoformat(),
                    },
                },
                idempotency_key=str(uuid.uuid4()),
            )
            start = today + timedelta(days=300 + i, hours=9)
            window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
            payloads.append(
                {
                    "job_id": job.body["id"],
                    "technician_ids": [technicians[i % len(technicians)]],
                    **window,
                    "arrival_start": window["start"],
                    "arrival_end": window["end"],
                    "status": "Dispatched",
                }
            )
    return payloads


def _dispatched_as_asked(bench: Bench, payloads: list[dict[str, Any]]) -> int:
    """How many of the jobs' appointments the sandbox now holds exactly as requested."""
    wanted = {p["job_id"]: p for p in payloads}
    matched = 0
    for appointment in _dump(bench, "appointments"):
        ask = wanted.get(appointment["jobId"])
        if ask is None:
            continue
        techs = [a["technicianId"] for a in appointment["assignments"]]
        same_start = datetime.fromisoformat(appointment["start"]) == datetime.fromisoformat(
            ask["start"]
        )
        matched += (
            appointment["status"] == "Dispatched" and techs == ask["technician_ids"] and same_start
        )
    return matched


@scenario("writeback_latency", "write-back latency from submit to API answer, under a daemon")
def writeback_latency(bench: Bench) -> list[Row]:
    """Dispatch requests under a real ``dagster-daemon`` (``workspace.yaml``, the default
    run launcher, the local instance of ``make dev``): a warm-up, ``SINGLE_REQUESTS``
    single requests one after another (submit → API answer), then ``writes`` at once
    (time until the queue is empty)."""
    from benchmarks.writeback_daemon import singles_for

    s = bench.settings
    work = bench.work / "writeback"
    work.mkdir(parents=True, exist_ok=True)
    singles = singles_for(s.writes)
    payloads = dispatch_requests(bench, 1 + singles + s.writes)
    requests_file = work / "requests.json"
    requests_file.write_text(json.dumps([["dispatch", p] for p in payloads]))
    before = bench.stats()["requests"]
    out = bench.workload(
        "writeback-latency",
        *("--first-day", bench.first_day(), "--requests", str(requests_file)),
        *("--singles", str(singles)),
        work=work,
    )
    after = bench.stats()["requests"]
    writes = sum(  # counters are keyed "METHOD first-path-segment status"
        n - before.get(key, 0)
        for key, n in after.items()
        if len(parts := key.split(" ")) == 3
        and parts[0] in ("POST", "PATCH", "PUT")
        and parts[1] not in ("sessions", "_sandbox")
    )
    matched = _dispatched_as_asked(bench, payloads)
    # Every write is one call answering one record; they are independent of each other.
    write_floor = floor([1] * s.writes, 1, s.rate_limit, s.latency)
    one, burst = out["single"], out["burst"]
    statuses = ", ".join(f"{n} {k}" for k, n in sorted(burst["statuses"].items()))
    return [
        Row(
            f"5 write-back, {s.writes} requests at once",
            "ours",
            burst["seconds_to_empty"],
            write_floor,
            out["calls"],
            s.writes,
            out["peak_rss_mb"],
            f"single request (n={one['count']}) p50 {one['p50']:.2f} s, p95 {one['p95']:.2f} s, "
            f"max {one['max']:.2f} s; {s.writes} at once: empty after "
            f"{burst['seconds_to_empty']:.1f} s, {statuses}, {burst['audit_rows']} audit rows; "
            f"{writes} writes sent, {matched} appointments dispatched as asked; under "
            f"dagster-daemon ({out['workspace']} workspace, default run launcher, batches "
            "per run)",
            {**out, "writes_sent": writes, "dispatched_as_asked": matched},
        )
    ]
