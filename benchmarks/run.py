"""``make bench``: throughput against the rate-limit floor and against dlt (issue 7).

    python -m benchmarks.run                      # 100k customers, 60 requests/s
    python -m benchmarks.run --customers 10000 --scenarios backfill incremental

Writes ``benchmarks/RESULTS.md`` and ``benchmarks/results.json`` (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from benchmarks import partition_scenarios, scenarios  # noqa: F401  (registers the scenarios)
from benchmarks.harness import SCENARIOS, Settings, markdown, run, table
from benchmarks.sections import kept_sections

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.run``."""
    defaults = Settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--rate-limit", type=float, default=defaults.rate_limit)
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms)
    parser.add_argument(
        "--latency-per-record-us", type=float, default=defaults.latency_per_record_us
    )
    parser.add_argument("--history-days", type=int, default=defaults.history_days)
    parser.add_argument("--changes", type=int, nargs="+", default=list(defaults.changes))
    parser.add_argument(
        "--writes", type=int, default=defaults.writes, help="write-back requests (scenario 5)"
    )
    parser.add_argument("--page-size", type=int, default=defaults.page_size)
    parser.add_argument(
        "--backend",
        choices=["session", "v2"],
        default=None,
        help="our backend (ST_BACKEND of the measured processes; default: the environment's)",
    )
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=None)
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder of RESULTS.md and results.json"
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a temp dir)"
    )
    parser.add_argument(
        "--quiet-machine",
        action="store_true",
        help="omit the shared-machine warning (only when nothing else was running)",
    )
    args = parser.parse_args(argv)
    settings = Settings(
        customers=args.customers,
        rate_limit=args.rate_limit,
        latency_ms=args.latency_ms,
        latency_per_record_us=args.latency_per_record_us,
        history_days=args.history_days,
        changes=tuple(args.changes),
        writes=args.writes,
        page_size=args.page_size,
    )
    if args.backend:
        os.environ["ST_BACKEND"] = args.backend
    report = run(settings, args.scenarios, args.work)
    command = "python -m benchmarks.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    results = args.out / "RESULTS.md"
    # The sections other benchmarks own (webhook lag, attachments) survive the rewrite.
    kept = kept_sections(results)
    results.write_text(
        markdown(report, command.strip(), not args.quiet_machine) + ("\n" + kept if kept else "")
    )
    print()
    print(table(report))
    print(f"\nWrote {args.out / 'RESULTS.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
