"""Reads through the session backend: token expiry mid-read, faults and 429 storms,
concurrent windows, memory, retries after waiting at the limiter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from st_contract.entities import ENTITIES_BY_NAME
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_sandbox.server import SandboxServer

JOBS = ENTITIES_BY_NAME["jobs"]


def _dump_ids(server: SandboxServer, entity: str) -> list[int]:
    text = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": entity}).content
    return sorted(orjson.loads(line)["id"] for line in text.splitlines() if line)


def test_a_long_read_survives_token_expiry_without_loss_or_duplicates(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., SessionSettings]
) -> None:
    server = sandbox_factory(customers=150, token_ttl=2, latency_ms=80)
    with SessionBackend(settings_for(server.base_url, "readonly", page_size=6)) as backend:
        ids = [r["id"] for r in backend.iter_records(JOBS)]
        assert len(ids) == len(set(ids))
        assert sorted(ids) == _dump_ids(server, "jobs")
        m = backend.metrics
        assert m.refreshes >= 1
        assert m.pages == m.calls - m.logins - m.refreshes - m.token_retries


def test_faults_and_429_storms_give_the_same_result_as_a_clean_read(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., SessionSettings]
) -> None:
    server = sandbox_factory(customers=150, rate_limit=15)
    clean_settings = settings_for(server.base_url, "readonly", page_size=25, rate_limit=10)
    invoices = ENTITIES_BY_NAME["invoices"]
    with SessionBackend(clean_settings) as backend:
        clean = list(backend.iter_records(invoices))
    # Random faults on a seeded schedule, plus one certain drop and one certain 503, so
    # the test never depends on how many requests the schedule happens to cover.
    faults = {
        "faultRate": 0.15,
        "dropRate": 0.08,
        "seed": 3,
        "targeted": [
            {"route": "/invoices", "nth": 2, "status": "drop"},
            {"route": "/invoices", "nth": 4, "status": 503},
        ],
    }
    httpx.post(f"{server.base_url}/_sandbox/faults", json=faults)
    # The backend allows itself 4x the tenant's limit: a 429 storm it must ride out.
    stormy_settings = settings_for(
        server.base_url, "readonly", page_size=25, rate_limit=60, max_attempts=12
    )
    with SessionBackend(stormy_settings) as backend:
        stormy = list(backend.iter_records(invoices))
        metrics = backend.metrics.snapshot()
    httpx.delete(f"{server.base_url}/_sandbox/faults")
    assert stormy == clean
    assert metrics["retries"] > 0 and metrics["errors"] > 0
    injected = httpx.get(f"{server.base_url}/_sandbox/stats").json()["faults"]["injected"]
    assert injected["error"] > 0 and injected["drop"] > 0


def test_concurrent_windows_return_each_record_once(
    sandbox: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    # Concurrency is the caller's (the landing engine's): one window per thread.
    end = datetime.now(UTC) + timedelta(seconds=1)
    step = timedelta(days=300)
    spec = ENTITIES_BY_NAME["appointments"]
    with SessionBackend(settings_for(sandbox.base_url, "readonly", page_size=50)) as backend:

        def read(i: int) -> list[int]:
            lo, hi = end - step * (4 - i), end - step * (3 - i)
            tables = backend.iter_window_tables(spec, lo, hi, datetime.now(UTC))
            return [i for t in tables for i in t.column("id").to_pylist()]

        with ThreadPoolExecutor(4) as pool:
            ids = [i for window in pool.map(read, range(4)) for i in window]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == _dump_ids(sandbox, "appointments")


def test_streaming_memory_does_not_grow_with_the_record_count(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(customers=3000)
    script = textwrap.dedent(
        f"""
        import gc, json, psutil
        from pydantic import SecretStr
        from st_contract.entities import ENTITIES_BY_NAME
        from st_resources.session import SessionBackend
        from st_resources.settings import SessionSettings
        backend = SessionBackend(SessionSettings(base_url="{server.base_url}", username="readonly",
            password=SecretStr("readonly-password"), mfa_method="none", page_size=1000))
        proc, seen, marks, between = psutil.Process(), 0, {{}}, 0
        # The same endpoint again and again, so that records have the same shape throughout.
        while seen < 50_000:
            for record in backend.iter_records(ENTITIES_BY_NAME["jobs"]):
                seen += 1
                if 10_000 < seen <= 50_000:
                    between += len(json.dumps(record))
                if seen in (10_000, 50_000):
                    gc.collect()
                    marks[seen] = proc.memory_info().rss
        print(json.dumps({{"seen": seen, "between": between, **{{str(k): v for k, v in marks.items()}}}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seen"] >= 50_000
    growth_mb = (result["50000"] - result["10000"]) / 2**20
    json_mb = result["between"] / 2**20
    # 40,000 more records are tens of MB of JSON: streaming keeps the growth far below that.
    assert json_mb > 20 and growth_mb < json_mb / 3, (growth_mb, json_mb)


def test_a_request_that_waited_its_turn_at_the_limiter_still_gets_its_retries(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., SessionSettings]
) -> None:
    """The retry budget (max_retry_seconds) starts when a request is first sent: a request
    of a low priority can wait longer than that for a token, and used to fail on its
    first 503 with no retry."""
    server = sandbox_factory(customers=50)
    settings = settings_for(server.base_url, "readonly", max_retry_seconds=1)
    with SessionBackend(settings) as backend:
        backend.login()
        httpx.post(
            f"{server.base_url}/_sandbox/faults",
            json={"targeted": [{"route": "/customers", "nth": 1, "status": 503}]},
        )
        backend.transport.limiter.throttled(retry_after=1.5)  # the next token is 1.5 s away
        page = backend.transport.get_json("/customers", {"pageSize": 5})
        assert len(page["data"]) == 5
        assert backend.metrics.retries == 1 and backend.metrics.errors == 1
