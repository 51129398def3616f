"""The floor: the shortest time any client could take for a workload, given the tenant's
rate limit and latency model. Pure arithmetic, unit-tested in tests/benchmarks.

Two bounds, and the floor is the larger:

* **rate**: every call needs a token of the rate limit, so ``calls / rate`` seconds pass
  before the last call is sent, and that call still takes one page's latency to answer;
* **chain**: calls that must follow each other (a cursor's next page is only known once
  the previous page arrived) add their latencies; independent chains run side by side,
  so the longest chain is the bound.

Calls are counted at the page size of the run (the same for us and the peer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LOGIN_CALLS = 2  # POST /sessions, then POST /sessions/mfa


@dataclass(frozen=True)
class LatencyModel:
    """The tenant's answer time: a fixed cost per call plus a cost per record returned."""

    per_call_ms: float
    per_record_us: float

    def seconds(self, records: int) -> float:
        """The latency of one call returning ``records`` records."""
        return self.per_call_ms / 1000 + records * self.per_record_us / 1e6


@dataclass(frozen=True)
class Floor:
    """The lower bound of a workload and what sets it."""

    calls: int
    rate_seconds: float
    chain_seconds: float
    label: str = ""  # what bounds a floor that is not about API calls

    @property
    def seconds(self) -> float:
        return max(self.rate_seconds, self.chain_seconds)

    @property
    def bound_by(self) -> str:
        if self.label:
            return self.label
        return "rate limit" if self.rate_seconds >= self.chain_seconds else "latency chain"

    def ratio(self, measured_seconds: float) -> float:
        """``measured / floor`` (1.0 is as fast as the tenant allows)."""
        return measured_seconds / self.seconds if self.seconds > 0 else math.inf


def pages(records: int, page_size: int) -> int:
    """Calls to list ``records`` records (an empty list still takes one call)."""
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    return max(1, math.ceil(records / page_size))


def chain_seconds(records: int, page_size: int, latency: LatencyModel) -> float:
    """The latency of paging through ``records`` records one page after the other."""
    full, rest = divmod(records, page_size)
    total = full * latency.seconds(page_size)
    if rest or not full:
        total += latency.seconds(rest)
    return total


def floor(
    chains: Iterable[int],
    page_size: int,
    rate: float,
    latency: LatencyModel,
    extra_calls: int = 0,
) -> Floor:
    """The floor of listing several independent sequences of records.

    ``chains`` holds the record count of each sequence that must be paged sequentially
    (one cursor); sequences are independent of each other. ``extra_calls`` are calls
    outside the listing (the login) that take rate tokens too.
    """
    sizes = list(chains)
    calls = sum(pages(n, page_size) for n in sizes) + extra_calls
    largest_page = min(page_size, max(sizes, default=0))
    rate_bound = calls / rate + latency.seconds(largest_page) if rate > 0 else 0.0
    chain_bound = max((chain_seconds(n, page_size, latency) for n in sizes), default=0.0)
    return Floor(calls=calls, rate_seconds=rate_bound, chain_seconds=chain_bound)


def backfill_floor(
    counts: Mapping[str, int], page_size: int, rate: float, latency: LatencyModel
) -> Floor:
    """The floor of listing every entity once, plus the login (two calls with MFA).

    Every list endpoint takes ``modifiedOn`` ranges, so a client may split an entity
    into concurrent windows: the irreducible sequential chain is one page.
    """
    one_page_chains = [
        min(page_size, n - i * page_size)
        for n in counts.values()
        for i in range(pages(n, page_size))
    ]
    return floor(one_page_chains, page_size, rate, latency, extra_calls=LOGIN_CALLS)


def incremental_floor(
    events: int,
    changed: Mapping[str, int],
    page_size: int,
    rate: float,
    latency: LatencyModel,
    events_page: int = 1000,
) -> Floor:
    """The floor of an incremental sync after ``events`` changes: read the change feed
    (a cursor chain of ``events_page`` events per call), then fetch the ``changed``
    distinct records of each entity (independent of each other, one page at a time)."""
    feed = floor([events], events_page, rate, latency)
    data = backfill_floor(changed, page_size, rate, latency) if changed else None
    calls = feed.calls + (data.calls - LOGIN_CALLS if data else 0)
    largest = min(page_size, max(changed.values(), default=0))
    return Floor(
        calls=calls,
        rate_seconds=calls / rate + latency.seconds(largest) if rate > 0 else 0.0,
        chain_seconds=feed.chain_seconds + (latency.seconds(largest) if changed else 0.0),
    )
