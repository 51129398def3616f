"""One running sandbox tenant: its data, users, write rules, limits, faults and counters.

The HTTP layer (``st_sandbox/app.py`` and its routers) reads the tenant from
``app.state.tenant``; nothing here knows about HTTP.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from st_sandbox.activity import ActivityEngine
from st_sandbox.auth import AuthService, demo_users
from st_sandbox.config import SandboxConfig
from st_sandbox.generate import TenantData, generate
from st_sandbox.limits import FaultInjector, FaultSettings, RateLimiter
from st_sandbox.store import TenantStore
from st_sandbox.webhooks.hub import WebhookHub
from st_sandbox.writes.idempotency import IdempotencyStore
from st_sandbox.writes.service import WriteService


@dataclass
class Tenant:
    """Everything one running sandbox holds: data, users, limits, faults and counters."""

    config: SandboxConfig
    store: TenantStore
    auth: AuthService
    writes: WriteService
    idempotency: IdempotencyStore
    limiter: RateLimiter
    faults: FaultInjector
    activity: ActivityEngine
    webhooks: WebhookHub
    stats: Counter[str] = field(default_factory=Counter)
    stats_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, config: SandboxConfig, data: TenantData | None = None) -> Tenant:
        """Generate (or take) the data and wire every service of a tenant."""
        if data is None:
            anchor = config.anchor or datetime.now(UTC).replace(microsecond=0)
            data = generate(config.seed, config.customers, anchor, config.history_days)
        store = TenantStore(data)
        if config.warm_json:
            for table in store.tables.values():
                table.warm()
        hvac = [b["id"] for b in data.tables["business_units"] if b.get("trade") == "HVAC"]
        all_bus = sorted(store.tables["business_units"].records)
        auth = AuthService(
            demo_users(hvac),
            all_bus,
            config.token_ttl,
            config.refresh_ttl,
            config.lockout_seconds,
            config.max_failed_logins,
        )
        faults = FaultInjector(
            FaultSettings(
                config.fault_rate,
                config.drop_rate,
                config.slow_rate,
                config.slow_ms,
                config.fault_seed,
            )
        )
        return cls(
            config=config,
            store=store,
            auth=auth,
            writes=WriteService(store),
            idempotency=IdempotencyStore(),
            limiter=RateLimiter(config.rate_limit),
            faults=faults,
            activity=ActivityEngine(store, config.seed + 1),
            webhooks=WebhookHub(store, config),
        )

    def count(self, key: str) -> None:
        """Add one to the request counter ``key`` (``GET /_sandbox/stats``)."""
        with self.stats_lock:
            self.stats[key] += 1
