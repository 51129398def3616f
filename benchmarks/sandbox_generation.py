"""How long the sandbox takes to be ready to serve a tenant, and how big it gets.

python -m benchmarks.sandbox_generation --customers 2000 10000 100000 --repeat 3

For each scale and repeat, two fresh processes (so one scale's memory never inflates the
next one's peak):

- a phase run: ``generate`` (the seeded records) and ``index`` (``Tenant.build`` on them:
  the store's (modifiedOn, id) order and indexes, users, limits), wall and CPU seconds;
- a ready run: ``st-sandbox serve`` as a subprocess (what the demo and the benchmarks
  start), from launch to the first answer, with that process's CPU seconds and peak RSS.

Wall times on a shared machine depend on what else runs: the CPU columns do much less, and
the load average is printed with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxProcess

ANCHOR = datetime(2026, 6, 1, tzinfo=UTC)


def phase_run(customers: int, seed: int) -> dict[str, float]:
    """Generate and index one tenant in this process; wall and CPU seconds of each phase."""
    from st_sandbox.generate import generate
    from st_sandbox.tenant import Tenant

    config = SandboxConfig(seed=seed, customers=customers, anchor=ANCHOR)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    data = generate(seed, customers, ANCHOR)
    wall1, cpu1 = time.perf_counter(), time.process_time()
    Tenant.build(config, data)
    wall2, cpu2 = time.perf_counter(), time.process_time()
    return {
        "records": sum(data.counts().values()),
        "generate_s": wall1 - wall0,
        "generate_cpu": cpu1 - cpu0,
        "index_s": wall2 - wall1,
        "index_cpu": cpu2 - cpu1,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _proc_cpu_and_peak(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of a live Linux process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(stat[11]) + int(stat[12])) / ticks
        status = Path(f"/proc/{pid}/status").read_text()
        peak_kb = next(int(line.split()[1]) for line in status.splitlines() if "VmHWM" in line)
        return cpu, peak_kb / 1024
    except (OSError, StopIteration, IndexError, ValueError):
        return float("nan"), float("nan")


def ready_run(customers: int, seed: int) -> dict[str, float]:
    """Start ``st-sandbox serve`` and time it until it answers."""
    config = SandboxConfig(seed=seed, customers=customers, anchor=ANCHOR, log_requests=False)
    sandbox = SandboxProcess(config)
    started = time.perf_counter()
    sandbox.start(timeout=600)
    ready = time.perf_counter() - started
    assert sandbox.process is not None
    cpu, peak = _proc_cpu_and_peak(sandbox.process.pid)
    sandbox.stop()
    return {"ready_s": ready, "ready_cpu": cpu, "ready_rss_mb": peak}


def _phases_in_child(customers: int, seed: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.sandbox_generation", "--phase-run", str(customers)]
    cmd += ["--seed", str(seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="runs per scale")
    parser.add_argument("--phase-run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase_run:
        print(json.dumps(phase_run(args.phase_run, args.seed)))
        return
    print(f"{os.cpu_count()} CPUs; wall seconds (CPU seconds); load = 1-minute load average")
    header = (
        f"{'customers':>9} {'records':>9} {'generate s':>12} {'index s':>10} "
        f"{'phases RSS MB':>13} {'ready s':>12} {'ready RSS MB':>12} {'load':>5}"
    )
    print(header)
    for customers in args.customers:
        readies = []
        for _ in range(args.repeat):
            load = os.getloadavg()[0]
            p = _phases_in_child(customers, args.seed)
            r = ready_run(customers, args.seed)
            readies.append(r["ready_s"])
            print(
                f"{customers:>9} {p['records']:>9.0f} "
                f"{p['generate_s']:>5.1f} ({p['generate_cpu']:>4.1f}) "
                f"{p['index_s']:>4.1f} ({p['index_cpu']:>3.1f}) {p['rss_mb']:>13.0f} "
                f"{r['ready_s']:>5.1f} ({r['ready_cpu']:>4.1f}) {r['ready_rss_mb']:>12.0f} "
                f"{load:>5.1f}",
                flush=True,
            )
        if args.repeat > 1:
            print(f"{customers:>9} median ready {statistics.median(readies):.1f} s")


if __name__ == "__main__":
    main()
