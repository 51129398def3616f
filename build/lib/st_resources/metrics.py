"""Per-client call metrics that assets put in their materialization metadata."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

# Scopes opened by the current thread: ``add`` counts into them as well, so concurrent
# readers sharing one client (one per entity) each get their own numbers.
_scopes = threading.local()


@dataclass
class CallMetrics:
    """Counters of one client (thread-safe through ``add``)."""

    calls: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0
    bytes: int = 0
    records: int = 0
    pages: int = 0
    logins: int = 0
    refreshes: int = 0
    # Requests sent again with the current token after a 401 for an expired, invalid or
    # revoked one (a token that expired in flight): absorbed, not errors.
    token_retries: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)
        for scope in getattr(_scopes, "open", {}).get(id(self), ()):
            scope.add(**amounts)

    @contextmanager
    def scope(self) -> Iterator[CallMetrics]:
        """Counters of what the current thread does with this client until the block ends
        (the client's own counters keep counting everything)."""
        scoped = CallMetrics()
        opened: dict[int, list[CallMetrics]] = getattr(_scopes, "open", None) or {}
        _scopes.open = opened
        opened.setdefault(id(self), []).append(scoped)
        try:
            yield scoped
        finally:
            opened[id(self)].remove(scoped)

    def snapshot(self) -> dict[str, float]:
        """The counters as a plain dict."""
        with self._lock:
            return {
                f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")
            }

    def reset(self) -> None:
        with self._lock:
            for f in fields(self):
                if not f.name.startswith("_"):
                    setattr(self, f.name, type(getattr(self, f.name))())

    def since(self, before: dict[str, float]) -> dict[str, float]:
        """What changed since an earlier ``snapshot``."""
        now = self.snapshot()
        return {k: round(now[k] - before.get(k, 0), 3) for k in now}


class Stopwatch:
    """Adds the elapsed wall time to ``metrics.seconds``."""

    def __init__(self, metrics: CallMetrics) -> None:
        self.metrics = metrics
        self.started = 0.0

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.metrics.add(seconds=time.perf_counter() - self.started)
