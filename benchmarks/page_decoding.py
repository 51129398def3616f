"""How fast list pages turn into Arrow tables: the Python path against the fast path.

python -m benchmarks.page_decoding --customers 10000 30000 --repeat 3

For each scale, a sandbox (``st-sandbox serve``, a subprocess, no rate limit or latency) is
started and every page of every entity is fetched once at the client's default page size
and kept in memory as bytes. Then, per repeat, every page is decoded by each variant:

- ``python``: ``records_to_table(model, json.loads(body)["data"])``, the old client path;
- ``fast``: ``page_decode.fast_page_table`` (Arrow's JSON reader, then a flatten);
- ``python xN`` / ``fast xN``: the same with N threads, as the window workers decode
  (the fast path releases the GIL, so its wall time drops below its CPU time).

Columns: CPU seconds of this process, wall seconds, and MB/s of JSON per wall second;
medians over the repeats. Only decoding is timed, never the fetching. Wall times on a
shared machine depend on what else runs; the load average is printed with each scale.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, SecretStr

from st_contract.entities import ENTITIES
from st_resources.arrow import records_to_table
from st_resources.page_decode import fast_page_table
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_resources.transport import Call
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxProcess

ANCHOR = datetime(2026, 6, 1, tzinfo=UTC)
Pages = list[tuple[type[BaseModel], bytes]]
Decode = Callable[[type[BaseModel], bytes, datetime], Any]


def fetch_pages(base_url: str) -> Pages:
    """Every page of every entity, as response bytes with the entity's model."""
    settings = SessionSettings(
        base_url=base_url,
        username="demo",
        password=SecretStr("demo-password"),
        mfa_method="totp",
        totp_secret=SecretStr(DEMO_TOTP_SECRET),
        rate_limit=1000,
    )
    pages: Pages = []
    with SessionBackend(settings) as backend:
        for spec in ENTITIES:
            query: dict[str, Any] = {"pageSize": settings.page_size}
            while True:
                body = backend.transport.request(Call("GET", spec.path, params=query)).content
                pages.append((spec.model, body))
                envelope = orjson.loads(body)
                if not envelope.get("hasMore") or not envelope.get("nextCursor"):
                    break
                query["cursor"] = envelope["nextCursor"]
    return pages


def decode_python(model: type[BaseModel], body: bytes, loaded_at: datetime) -> Any:
    """The old path: stdlib JSON to dicts, then dicts to Arrow."""
    return records_to_table(model, json.loads(body)["data"], loaded_at)


def decode_fast(model: type[BaseModel], body: bytes, loaded_at: datetime) -> Any:
    """The new path: bytes to Arrow in C++."""
    return fast_page_table(model, body, loaded_at).table


def time_decoding(pages: Pages, decode: Decode, threads: int) -> tuple[float, float]:
    """CPU and wall seconds to decode every page (tables are dropped as they come)."""
    loaded_at = datetime.now(UTC)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if threads <= 1:
        for model, body in pages:
            decode(model, body, loaded_at)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(lambda page: decode(page[0], page[1], loaded_at), pages):
                pass
    return time.process_time() - cpu0, time.perf_counter() - wall0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, nargs="+", default=[10000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant")
    parser.add_argument("--threads", type=int, default=2, help="threads of the xN variants")
    args = parser.parse_args()
    variants: list[tuple[str, Decode, int]] = [
        ("python", decode_python, 1),
        ("fast", decode_fast, 1),
    ]
    if args.threads > 1:
        variants += [
            (f"python x{args.threads}", decode_python, args.threads),
            (f"fast x{args.threads}", decode_fast, args.threads),
        ]
    print(f"{os.cpu_count()} CPUs; medians of {args.repeat} runs; MB/s = JSON MB per wall second")
    for customers in args.customers:
        config = SandboxConfig(
            seed=args.seed, customers=customers, anchor=ANCHOR, rate_limit=0, log_requests=False
        )
        sandbox = SandboxProcess(config).start(timeout=900)
        try:
            pages = fetch_pages(sandbox.base_url)
        finally:
            sandbox.stop()
        megabytes = sum(len(body) for _, body in pages) / 1e6
        print(
            f"\n{customers} customers: {len(pages)} pages, {megabytes:.0f} MB of JSON, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print(f"{'variant':>12} {'CPU s':>8} {'wall s':>8} {'MB/s':>8}   runs (wall s)")
        for name, decode, threads in variants:
            runs = [time_decoding(pages, decode, threads) for _ in range(args.repeat)]
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            walls = " ".join(f"{r[1]:.2f}" for r in runs)
            print(
                f"{name:>12} {cpu:>8.2f} {wall:>8.2f} {megabytes / wall:>8.1f}   {walls}",
                flush=True,
            )


if __name__ == "__main__":
    main()
