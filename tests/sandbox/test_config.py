"""The sandbox's config survives the trip to a subprocess (``st-sandbox serve`` flags)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from datetime import UTC, datetime

from st_sandbox.cli import _add_config_flags, _config
from st_sandbox.config import SandboxConfig


def _round_trip(config: SandboxConfig) -> SandboxConfig:
    parser = argparse.ArgumentParser()
    _add_config_flags(parser)
    return _config(parser.parse_args(config.to_cli_args()))


def test_true_booleans_reach_the_subprocess_warm_json_was_dropped() -> None:
    """Bug: ``to_cli_args`` wrote only ``--no-x`` for False booleans, so a True that is not
    the default (``warm_json``) never reached the subprocess: the benchmark's sandbox
    served cold pages and its first measured tool paid for the cache."""
    config = SandboxConfig(warm_json=True, log_requests=False)
    assert "--warm-json" in config.to_cli_args()
    assert _round_trip(config).warm_json is True
    assert _round_trip(config).log_requests is False


def test_every_field_round_trips_when_not_the_default() -> None:
    changed = SandboxConfig(
        seed=11,
        customers=1234,
        anchor=datetime(2026, 5, 1, 12, tzinfo=UTC),
        history_days=90,
        token_ttl=60.0,
        refresh_ttl=120.0,
        lockout_seconds=5.0,
        max_failed_logins=3,
        rate_limit=7.5,
        latency_ms=12.0,
        latency_per_record_us=3.0,
        fault_rate=0.1,
        drop_rate=0.05,
        slow_rate=0.2,
        slow_ms=40.0,
        fault_seed=3,
        activity_per_minute=30,
        log_requests=False,
        warm_json=True,
        unlicensed_modules=["payroll", "telecom"],
        webhook_retry_scale=0.01,
        webhook_timeout=1.5,
        webhook_shuffle=True,
        webhook_duplicate_rate=0.25,
        attachment_share=0.5,
        large_attachment_mb=3,
        attachment_url_ttl=60.0,
    )
    defaults = SandboxConfig()
    # The test covers every field: a new one must be given a non-default value above.
    assert all(getattr(changed, f.name) != getattr(defaults, f.name) for f in fields(changed))
    assert _round_trip(changed) == changed
