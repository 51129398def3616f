"""The sandbox's settings: scale, seed, token lifetimes, limits, latency and faults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass
class SandboxConfig:
    """Everything that shapes one sandbox tenant. Defaults behave like a real tenant."""

    seed: int = 7
    customers: int = 2000
    anchor: datetime | None = None  # end of generated history; None = now, to the second
    history_days: int = 1095
    token_ttl: float = 900.0
    refresh_ttl: float = 3600.0
    lockout_seconds: float = 300.0
    max_failed_logins: int = 5
    rate_limit: float = 60.0  # requests/s per session; 0 = unlimited
    latency_ms: float = 0.0
    latency_per_record_us: float = 0.0
    fault_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 0.0
    fault_seed: int = 0
    activity_per_minute: int = 0
    log_requests: bool = True
    # Serialize every record's JSON at start instead of on its first read. A benchmark sets
    # it: a tenant's own CPU is not the client's, but the sandbox shares the machine, and the
    # first tool measured would otherwise pay for the cache the second one enjoys.
    warm_json: bool = False
    # Modules the tenant has not licensed (a URL prefix's first segment: ``payroll``,
    # ``telecom``): every request under ``/{module}/`` answers 403, on both surfaces.
    unlicensed_modules: list[str] = field(default_factory=list)
    # Webhook deliveries (st_sandbox/webhooks): the official retry delays (10, 30, 60,
    # 300 s) times this factor (tests use 0.01), the POST timeout, and the out-of-order
    # and duplicate deliveries ServiceTitan allows, made to happen on purpose.
    webhook_retry_scale: float = 1.0
    webhook_timeout: float = 5.0
    webhook_shuffle: bool = False
    webhook_duplicate_rate: float = 0.0
    # Job attachments (st_sandbox/attachments.py): the share of jobs that have some, one
    # large attachment of this many MiB on the first job (0: none), and how long a signed
    # download or upload URL lives.
    attachment_share: float = 0.25
    large_attachment_mb: int = 0
    attachment_url_ttl: float = 900.0

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.customers <= 1_000_000:
            problems.append("customers must be between 1 and 1,000,000")
        for name in ("token_ttl", "refresh_ttl"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0 seconds")
        for name in (
            "fault_rate",
            "drop_rate",
            "slow_rate",
            "webhook_duplicate_rate",
            "attachment_share",
        ):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be between 0 and 1")
        for name in (
            "rate_limit",
            "latency_ms",
            "latency_per_record_us",
            "slow_ms",
            "webhook_retry_scale",
        ):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if not 0 < self.webhook_timeout <= 60:
            problems.append("webhook_timeout must be between 0 and 60 seconds")
        if not 0 <= self.large_attachment_mb <= 1024:
            problems.append("large_attachment_mb must be between 0 and 1024")
        if self.attachment_url_ttl <= 0:
            problems.append("attachment_url_ttl must be > 0 seconds")
        if any(not m or "/" in m or "," in m for m in self.unlicensed_modules):
            problems.append("unlicensed_modules are URL segments such as payroll or telecom")
        if self.anchor is not None and self.anchor.tzinfo is None:
            problems.append("anchor must be timezone-aware (UTC)")
        if problems:
            raise ValueError("invalid sandbox config: " + "; ".join(problems))

    def to_cli_args(self) -> list[str]:
        """The ``st-sandbox serve`` flags that reproduce this config (for subprocesses)."""
        args: list[str] = []
        for f in fields(self):
            value: Any = getattr(self, f.name)
            if value is None:
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else "--no-" + flag[2:])
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            if isinstance(value, list):
                if not value:
                    continue
                value = ",".join(value)
            args += [flag, str(value)]
        return args
