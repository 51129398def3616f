"""The floor arithmetic of the benchmarks (pure functions)."""

from __future__ import annotations

import math

import pytest

from benchmarks.floor import (
    LOGIN_CALLS,
    LatencyModel,
    backfill_floor,
    chain_seconds,
    floor,
    incremental_floor,
    pages,
)

LATENCY = LatencyModel(per_call_ms=50, per_record_us=20)


def test_pages_count_an_empty_list_as_one_call_and_round_up() -> None:
    assert pages(0, 1000) == 1
    assert pages(1000, 1000) == 1
    assert pages(1001, 1000) == 2
    with pytest.raises(ValueError):
        pages(10, 0)


def test_chain_adds_the_latency_of_every_page_in_sequence() -> None:
    # 2500 records at 1000 a page: two full pages and one of 500.
    expected = 2 * (0.050 + 1000 * 20e-6) + (0.050 + 500 * 20e-6)
    assert chain_seconds(2500, 1000, LATENCY) == pytest.approx(expected)
    assert chain_seconds(0, 1000, LATENCY) == pytest.approx(0.050)


def test_floor_is_the_larger_of_the_rate_bound_and_the_longest_chain() -> None:
    # Rate-bound: 10 independent single pages at 2 requests/s.
    f = floor([100] * 10, 1000, 2.0, LATENCY)
    assert f.calls == 10
    assert f.rate_seconds == pytest.approx(10 / 2 + 0.050 + 100 * 20e-6)
    assert f.seconds == f.rate_seconds and f.bound_by == "rate limit"
    # Chain-bound: one cursor of 50 pages at a high rate limit.
    g = floor([50_000], 1000, 10_000.0, LATENCY)
    assert g.calls == 50
    assert g.seconds == pytest.approx(50 * 0.070) and g.bound_by == "latency chain"
    assert g.ratio(2 * g.seconds) == pytest.approx(2.0)


def test_backfill_floor_counts_every_page_of_every_entity_and_the_login() -> None:
    counts = {"customers": 100_000, "jobs": 250_500, "tax_zones": 5}
    f = backfill_floor(counts, 1000, 60.0, LATENCY)
    assert f.calls == 100 + 251 + 1 + LOGIN_CALLS
    assert f.rate_seconds == pytest.approx(f.calls / 60 + 0.070)
    # Windows split any entity: the chain that must stay sequential is one page.
    assert f.chain_seconds == pytest.approx(0.070)
    assert f.seconds == pytest.approx(354 / 60 + 0.070)


def test_incremental_floor_reads_the_feed_in_sequence_then_the_changed_records() -> None:
    f = incremental_floor(2500, {"jobs": 1200, "invoices": 300}, 1000, 60.0, LATENCY)
    assert f.calls == 3 + 2 + 1
    feed = chain_seconds(2500, 1000, LATENCY)
    assert f.chain_seconds == pytest.approx(feed + LATENCY.seconds(1000))
    assert f.rate_seconds == pytest.approx(6 / 60 + LATENCY.seconds(1000))
    nothing = incremental_floor(0, {}, 1000, 60.0, LATENCY)
    assert nothing.calls == 1 and not math.isinf(nothing.seconds)
