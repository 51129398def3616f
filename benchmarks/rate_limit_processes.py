"""429s seen by 1, 2 and 4 concurrent processes reading one tenant, with and without a
shared budget (each process takes 1/N of the rate limit: ``rate_limit_share``).

    python -m benchmarks.rate_limit_processes --tenant-limit 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import httpx
from pydantic import SecretStr

from st_contract.entities import ENTITIES_BY_NAME
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxProcess


def _read(
    base_url: str, limit: float, share: int, cache: str, out: multiprocessing.Queue[tuple[int, int]]
) -> None:
    from pathlib import Path

    settings = SessionSettings(
        base_url=base_url,
        username="readonly",
        password=SecretStr("readonly-password"),
        mfa_method="none",
        rate_limit=limit,
        rate_limit_share=share,
        page_size=50,
        token_cache_dir=Path(cache),
    )
    with SessionBackend(settings) as backend:
        records = sum(1 for _ in backend.iter_records(ENTITIES_BY_NAME["jobs"]))
        out.put((records, backend.metrics.throttled))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant-limit", type=float, default=20.0)
    parser.add_argument("--customers", type=int, default=1500)
    args = parser.parse_args()
    import tempfile

    # Every process logs in as the same user: one session through the shared token
    # cache, so the tenant's per-session bucket is the budget they share.
    print(f"tenant limit {args.tenant_limit:g}/s; each process reads all jobs (page size 50)")
    print(f"{'processes':>9} {'share':>6} {'429s':>6} {'seconds':>8}")
    with SandboxProcess(
        SandboxConfig(customers=args.customers, rate_limit=args.tenant_limit)
    ) as sandbox:
        for processes in (1, 2, 4):
            for share in (1, processes) if processes > 1 else (1,):
                cache = tempfile.mkdtemp()
                ctx = multiprocessing.get_context("spawn")
                out: multiprocessing.Queue[tuple[int, int]] = ctx.Queue()
                started = time.perf_counter()
                procs = [
                    ctx.Process(
                        target=_read, args=(sandbox.base_url, args.tenant_limit, share, cache, out)
                    )
                    for _ in range(processes)
                ]
                for p in procs:
                    p.start()
                results = [out.get(timeout=600) for _ in procs]
                for p in procs:
                    p.join()
                throttled = sum(r[1] for r in results)
                print(
                    f"{processes:>9} {share:>6} {throttled:>6} {time.perf_counter() - started:>8.1f}"
                )
        httpx.get(f"{sandbox.base_url}/_sandbox/stats")


if __name__ == "__main__":
    main()
