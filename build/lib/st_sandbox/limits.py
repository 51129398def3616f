"""Rate limits and fault injection: the parts of a real tenant that make clients suffer."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from st_sandbox.errors import ApiError


class TokenBucket:
    """A token bucket holding one second of requests; ``rate`` 0 disables it."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take a token; returns 0 when allowed, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per session, as a tenant limits each logged-in client."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.lock = threading.Lock()
        self.buckets: dict[str, TokenBucket] = {}
        self.throttled = 0

    def check(self, session_id: str) -> None:
        """Raise 429 with ``Retry-After`` when the session is over its rate."""
        if self.rate <= 0:
            return
        with self.lock:
            bucket = self.buckets.setdefault(session_id, TokenBucket(self.rate))
            wait = bucket.take()
            if wait > 0:
                self.throttled += 1
                raise ApiError(
                    429,
                    "rate_limited",
                    f"over the rate limit of {self.rate:g} requests/s; retry after {wait:.3f} s",
                    {"limit": self.rate},
                    headers={"Retry-After": f"{wait:.3f}"},
                )


@dataclass
class TargetedFault:
    """Fail the ``nth`` request to ``route`` (and the next ``times - 1`` ones)."""

    route: str
    nth: int
    status: int | str  # an HTTP status, or "drop" to close the connection, or "slow"
    times: int = 1
    method: str | None = None
    seen: int = 0
    fired: int = 0


@dataclass
class FaultSettings:
    """What the fault injector does: random rates, their seed and targeted faults."""

    fault_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 0.0
    seed: int = 0
    targeted: list[TargetedFault] = field(default_factory=list)


class FaultInjector:
    """Decides, per request, whether to answer 5xx, drop the connection or be slow.

    Random faults follow a seeded schedule so that a failing test can be replayed.
    """

    def __init__(self, settings: FaultSettings) -> None:
        self.lock = threading.Lock()
        self.configure(settings)
        self.injected = {"error": 0, "drop": 0, "slow": 0}

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings (and restart the seeded schedule)."""
        with self.lock:
            self.settings = settings
            self.rng = random.Random(settings.seed)

    def settings_dict(self) -> dict[str, Any]:
        """The settings as ``/_sandbox/faults`` and ``/_sandbox/stats`` show them."""
        s = self.settings
        return {
            "faultRate": s.fault_rate,
            "dropRate": s.drop_rate,
            "slowRate": s.slow_rate,
            "slowMs": s.slow_ms,
            "seed": s.seed,
            "targeted": [
                {
                    "route": t.route,
                    "nth": t.nth,
                    "status": t.status,
                    "times": t.times,
                    "fired": t.fired,
                }
                for t in s.targeted
            ],
            "injected": dict(self.injected),
        }

    def decide(self, method: str, path: str) -> tuple[str, int, float] | None:
        """None, or (kind, status, delay seconds) with kind in error/drop/slow."""
        with self.lock:
            for target in self.settings.targeted:
                if target.route != path or (target.method and target.method != method):
                    continue
                target.seen += 1
                if target.seen >= target.nth and target.fired < target.times:
                    target.fired += 1
                    if target.status == "drop":
                        self.injected["drop"] += 1
                        return ("drop", 0, 0.0)
                    if target.status == "slow":
                        self.injected["slow"] += 1
                        return ("slow", 0, self.settings.slow_ms / 1000 or 1.0)
                    self.injected["error"] += 1
                    return ("error", int(target.status), 0.0)
            s = self.settings
            if s.fault_rate == s.drop_rate == s.slow_rate == 0:
                return None
            roll = self.rng.random()
            if roll < s.fault_rate:
                self.injected["error"] += 1
                return ("error", self.rng.choice((500, 502, 503)), 0.0)
            roll -= s.fault_rate
            if roll < s.drop_rate:
                self.injected["drop"] += 1
                return ("drop", 0, 0.0)
            roll -= s.drop_rate
            if roll < s.slow_rate:
                self.injected["slow"] += 1
                return ("slow", 0, s.slow_ms / 1000)
            return None


FAULT_CODES = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}
