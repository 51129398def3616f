"""The client's rate limiter, on a fake clock: pacing just under the limit, one backoff per
burst of 429s, the tenant's Retry-After honoured, and recovery to the full rate."""

from __future__ import annotations

import pytest

from st_resources.ratelimit import BACKOFF, HEADROOM, AdaptiveRateLimiter


class FakeClock:
    """A monotonic clock that only moves when the limiter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def _limiter(rate: float = 60.0) -> tuple[AdaptiveRateLimiter, FakeClock]:
    clock = FakeClock()
    return AdaptiveRateLimiter(rate, clock=clock, sleep=clock.sleep), clock


def test_sustained_requests_are_paced_just_under_the_limit() -> None:
    limiter, clock = _limiter(60.0)
    for _ in range(int(limiter.capacity)):  # the first second's burst is free
        limiter.acquire()
    assert clock.slept == 0
    start = clock.now
    for _ in range(588):
        limiter.acquire()
    # 588 requests at 58.8/s, less the fraction of a token left from the burst.
    assert clock.now - start == pytest.approx(588 / (60 * HEADROOM), abs=1 / (60 * HEADROOM))


def test_a_burst_of_429s_is_one_backoff_and_holds_every_request_for_retry_after() -> None:
    limiter, clock = _limiter(60.0)
    for _ in range(5):  # five requests in flight all come back 429 at once
        limiter.throttled(retry_after=0.5)
    assert limiter.rate == pytest.approx(60 * HEADROOM * BACKOFF)
    before = clock.now
    limiter.acquire()
    assert clock.now - before >= 0.5


def test_429s_in_separate_episodes_each_slow_down_to_the_floor() -> None:
    limiter, clock = _limiter(4.0)
    for _ in range(40):
        limiter.throttled(retry_after=None)
        clock.now += 1.5
    assert limiter.rate == limiter.min_rate == 0.5


def test_rate_recovers_to_the_paced_maximum_after_clean_seconds() -> None:
    limiter, clock = _limiter(60.0)
    limiter.throttled(retry_after=None)
    clock.now += 10.0
    limiter.acquire()
    assert limiter.rate == pytest.approx(60 * HEADROOM)
