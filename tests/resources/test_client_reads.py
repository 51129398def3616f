"""Reads through the client: token expiry mid-read, faults and 429 storms, windows, memory."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from st_resources.client import ServiceTitanClient, split_windows
from st_resources.settings import ClientSettings
from st_sandbox.server import SandboxServer


def _dump_ids(server: SandboxServer, entity: str) -> list[int]:
    text = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": entity}).content
    return sorted(orjson.loads(line)["id"] for line in text.splitlines() if line)


def test_split_windows_is_disjoint_and_covers_the_range() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=10)
    parts = split_windows(start, end, 3)
    assert parts[0][0] == start and parts[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    assert split_windows(end, start, 3) == []


def test_a_long_read_survives_token_expiry_without_loss_or_duplicates(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., ClientSettings]
) -> None:
    server = sandbox_factory(customers=150, token_ttl=2, latency_ms=80)
    with ServiceTitanClient(settings_for(server.base_url, "readonly", page_size=6)) as client:
        ids = [r["id"] for r in client.iter_records("/jobs")]
        assert len(ids) == len(set(ids))
        assert sorted(ids) == _dump_ids(server, "jobs")
        assert client.metrics.refreshes >= 1
        assert (
            client.metrics.pages
            == client.metrics.calls - client.metrics.logins - client.metrics.refreshes
        )


def test_faults_and_429_storms_give_the_same_result_as_a_clean_read(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., ClientSettings]
) -> None:
    server = sandbox_factory(customers=150, rate_limit=15)
    clean_settings = settings_for(server.base_url, "readonly", page_size=25, rate_limit=10)
    with ServiceTitanClient(clean_settings) as client:
        clean = list(client.iter_records("/invoices"))
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
    # The client allows itself 4x the tenant's limit: a 429 storm it must ride out.
    stormy_settings = settings_for(
        server.base_url, "readonly", page_size=25, rate_limit=60, max_attempts=12
    )
    with ServiceTitanClient(stormy_settings) as client:
        stormy = list(client.iter_records("/invoices"))
        metrics = client.metrics.snapshot()
    httpx.delete(f"{server.base_url}/_sandbox/faults")
    assert stormy == clean
    assert metrics["retries"] > 0 and metrics["errors"] > 0
    injected = httpx.get(f"{server.base_url}/_sandbox/stats").json()["faults"]["injected"]
    assert injected["error"] > 0 and injected["drop"] > 0


def test_concurrent_windows_return_each_record_once(
    sandbox: SandboxServer, settings_for: Callable[..., ClientSettings]
) -> None:
    end = datetime.now(UTC) + timedelta(seconds=1)
    with ServiceTitanClient(settings_for(sandbox.base_url, "readonly", page_size=50)) as client:
        ids = [
            r["id"]
            for p in client.iter_window_pages(
                "/appointments", end - timedelta(days=1200), end, windows=4
            )
            for r in p.records
        ]
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
        from st_resources.client import ServiceTitanClient
        from st_resources.settings import ClientSettings
        client = ServiceTitanClient(ClientSettings(base_url="{server.base_url}", username="readonly",
            password=SecretStr("readonly-password"), mfa_method="none", page_size=1000))
        proc, seen, marks = psutil.Process(), 0, {{}}
        # The same endpoint again and again, so that records have the same shape throughout.
        while seen < 50_000:
            for record in client.iter_records("/jobs"):
                seen += 1
                if seen in (10_000, 50_000):
                    gc.collect()
                    marks[seen] = proc.memory_info().rss
        print(json.dumps({{"seen": seen, **{{str(k): v for k, v in marks.items()}}}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seen"] >= 50_000
    growth_mb = (result["50000"] - result["10000"]) / 2**20
    # 40,000 more records are ~40 MB of JSON: streaming keeps the growth far below that.
    assert growth_mb < 8, growth_mb


def test_a_request_that_waited_its_turn_at_the_limiter_still_gets_its_retries(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., ClientSettings]
) -> None:
    """The retry budget (max_retry_seconds) starts when a request is first sent: a request
    of a low priority can wait longer than that for a token, and used to fail on its
    first 503 with no retry."""
    server = sandbox_factory(customers=50)
    settings = settings_for(server.base_url, "readonly", max_retry_seconds=1)
    with ServiceTitanClient(settings) as client:
        client.login()
        httpx.post(
            f"{server.base_url}/_sandbox/faults",
            json={"targeted": [{"route": "/customers", "nth": 1, "status": 503}]},
        )
        client.limiter.throttled(retry_after=1.5)  # the next token is 1.5 s away
        page = client.get_json("/customers", {"pageSize": 5})
        assert len(page["data"]) == 5
        assert client.metrics.retries == 1 and client.metrics.errors == 1
