"""A client-side rate limiter at the tenant's limit that backs off when the tenant says
429 and recovers slowly; shared by every thread of a client."""

from __future__ import annotations

import threading
import time


class AdaptiveRateLimiter:
    """A token bucket whose rate halves on a 429 and grows back 5 % per clean second."""

    def __init__(self, rate: float, min_rate: float = 0.5) -> None:
        self.max_rate = rate
        self.rate = rate
        self.min_rate = min(min_rate, rate)
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.last_throttle = 0.0
        self.lock = threading.Lock()

    def acquire(self) -> None:
        """Block until a request may be sent."""
        while True:
            with self.lock:
                now = time.monotonic()
                if self.rate < self.max_rate and now - self.last_throttle > 1.0:
                    self.rate = min(self.max_rate, self.rate * (1.05 ** (now - self.updated)))
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)

    def throttled(self, retry_after: float | None) -> None:
        """The tenant answered 429: slow down, and hold every thread for ``retry_after``."""
        with self.lock:
            self.rate = max(self.min_rate, self.rate / 2)
            self.last_throttle = time.monotonic()
            self.tokens = min(self.tokens, 0.0) - (retry_after or 0.0) * self.rate
