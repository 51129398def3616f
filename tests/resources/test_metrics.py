"""Per-thread scopes of a client's call metrics."""

from __future__ import annotations

import threading

from st_resources.metrics import CallMetrics


def test_a_scope_counts_only_its_own_threads_calls_and_the_client_counts_all() -> None:
    metrics = CallMetrics()
    seen: dict[str, dict[str, float]] = {}

    def work(name: str, calls: int) -> None:
        with metrics.scope() as scoped:
            for _ in range(calls):
                metrics.add(calls=1, bytes=10)
        seen[name] = scoped.snapshot()

    threads = [threading.Thread(target=work, args=(n, c)) for n, c in (("a", 3), ("b", 5))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    metrics.add(calls=1)  # outside any scope
    assert seen["a"]["calls"] == 3 and seen["a"]["bytes"] == 30
    assert seen["b"]["calls"] == 5
    assert metrics.snapshot()["calls"] == 9


def test_nested_scopes_both_count_and_a_closed_scope_stops_counting() -> None:
    metrics = CallMetrics()
    with metrics.scope() as outer:
        metrics.add(pages=1)
        with metrics.scope() as inner:
            metrics.add(pages=2)
        metrics.add(pages=4)
    metrics.add(pages=8)
    assert outer.snapshot()["pages"] == 7
    assert inner.snapshot()["pages"] == 2
