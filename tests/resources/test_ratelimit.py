"""The client's rate limiter, on a fake clock: pacing just under the limit, one backoff per
burst of 429s, the tenant's Retry-After honoured, recovery to the full rate, a burst of
half a second, and tokens going to the best priority waiting."""

from __future__ import annotations

import pytest

from st_resources.ratelimit import BACKOFF, BURST_SECONDS, HEADROOM, AdaptiveRateLimiter


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


def test_an_idle_client_saves_up_half_a_second_of_requests_not_the_tenants_whole_bucket() -> None:
    limiter, clock = _limiter(60.0)
    clock.now += 60.0  # idle for a minute
    for _ in range(int(60 * HEADROOM * BURST_SECONDS)):
        limiter.acquire()
    assert clock.slept == 0
    limiter.acquire()
    assert clock.slept > 0


def test_a_token_goes_to_the_better_priority_waiting_for_it() -> None:
    limiter, _clock = _limiter(60.0)
    limiter.waiting[0] += 1  # a request of priority 0 is waiting (its thread is asleep)
    assert limiter.tokens >= 1
    assert limiter._take(1) > 0  # priority 1 leaves the free token to it...
    assert limiter._take(0) == 0  # ...which takes it
    limiter.waiting[0] -= 1
    del limiter.waiting[0]
    limiter.waiting[1] += 1
    assert limiter._take(1) == 0  # with none better waiting, priority 1 is served
    assert limiter.waiting == {1: 1}


def test_acquire_counts_a_waiter_only_while_it_waits() -> None:
    limiter, clock = _limiter(2.0)
    for _ in range(5):
        limiter.acquire(priority=3)
    assert clock.slept > 0  # some waited for tokens
    assert not limiter.waiting
