"""How long the sandbox takes to generate a tenant, and how big it is.

python -m benchmarks.sandbox_generation --customers 2000 10000 100000
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime

from st_sandbox.generate import generate
from st_sandbox.store import TenantStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    anchor = datetime.now(UTC).replace(microsecond=0)
    print(
        f"{'customers':>10} {'records':>10} {'generate s':>11} {'index s':>8} {'records/s':>10} {'peak RSS MB':>12}"
    )
    for customers in args.customers:
        started = time.perf_counter()
        data = generate(args.seed, customers, anchor)
        generated = time.perf_counter() - started
        TenantStore(data)
        indexed = time.perf_counter() - started - generated
        records = sum(data.counts().values())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{customers:>10} {records:>10} {generated:>11.1f} {indexed:>8.1f} {records / (generated + indexed):>10.0f} {rss:>12.0f}"
        )


if __name__ == "__main__":
    main()
