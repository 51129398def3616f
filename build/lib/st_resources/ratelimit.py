"""A client-side rate limiter just under the tenant's limit that backs off when the tenant
says 429 and recovers quickly; shared by every thread of a client.

Requests may carry a priority: a free token goes to the best (lowest) priority waiting.
A backfill of several entities gives each entity its own, so that entities are read one
after another at the full rate (the others fill the gaps between its requests), and each
is recorded while the next is read, rather than all finishing together at the end."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

# Paced at 98 % of the limit. At exactly the limit the tenant's bucket sits empty, and
# requests that reach it closer together than they left (a thread that took a token and
# waited for the GIL, a connection being opened) are refused: a 100k backfill drew several
# 429s a minute that way. The 2 % lets the tenant's bucket refill by a request or so each
# second, enough to absorb that jitter.
HEADROOM = 0.98
# On a 429 the rate drops by a fifth, once per episode: every request in flight when the
# tenant's bucket ran dry comes back 429 at once, and they are one signal, not several.
BACKOFF = 0.8
EPISODE_SECONDS = 1.0
# Growth per second without a 429 (back to the full rate in ~5 s after one backoff).
RECOVERY = 1.05
# Tokens saved up while idle: half a second of requests. The tenant's bucket holds a
# second; a client that spends all of it at once leaves the tenant's bucket empty, and
# then requests that arrive bunched (threads released by the GIL together) draw 429s: a
# 100k backfill drew four, each a fifth off the rate for seconds. Half keeps a cushion on
# the tenant's side and still absorbs the pauses of a busy process (a token not taken
# during a pause longer than the burst is lost).
BURST_SECONDS = 0.5


class AdaptiveRateLimiter:
    """A token bucket paced just under ``rate`` that slows down on a 429 and grows back
    after a clean second; ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        rate: float,
        min_rate: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_rate = rate * HEADROOM
        self.rate = self.max_rate
        self.min_rate = min(min_rate, self.max_rate)
        self.capacity = max(1.0, self.max_rate * BURST_SECONDS)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self.last_throttle = float("-inf")
        self.lock = threading.Lock()
        self.waiting: Counter[int] = Counter()  # priority -> threads waiting with it

    def acquire(self, priority: int = 0) -> None:
        """Block until a request may be sent: a token is free and no request of a better
        (lower) ``priority`` is waiting for it."""
        with self.lock:
            self.waiting[priority] += 1
        try:
            while True:
                with self.lock:
                    wait = self._take(priority)
                if wait <= 0:
                    return
                self.sleep(wait)
        finally:
            with self.lock:
                self.waiting[priority] -= 1
                if not self.waiting[priority]:
                    del self.waiting[priority]

    def _refill(self) -> float:
        now = self.clock()
        elapsed = now - self.updated
        if self.rate < self.max_rate and now - self.last_throttle > EPISODE_SECONDS:
            self.rate = min(self.max_rate, self.rate * RECOVERY**elapsed)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        return now

    def _take(self, priority: int) -> float:
        """Take a token; 0 if one was free for ``priority``, else the seconds to wait."""
        self._refill()
        if min(self.waiting) < priority:
            # A better request is waiting: it takes the next token; look again after it.
            return max(1 - self.tokens, 0.0) / self.rate + 1 / self.rate
        # Within rounding of a whole token: a wait of (1 - tokens) / rate can refill less than
        # it should in floating point, and the wait after it never would.
        if self.tokens >= 1 - 1e-9:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def throttled(self, retry_after: float | None) -> None:
        """The tenant answered 429: slow down (once per episode), and hold every thread
        for ``retry_after``."""
        with self.lock:
            now = self._refill()
            if now - self.last_throttle > EPISODE_SECONDS:
                self.rate = max(self.min_rate, self.rate * BACKOFF)
            self.last_throttle = now
            self.tokens = min(self.tokens, 0.0 - (retry_after or 0.0) * self.rate)
