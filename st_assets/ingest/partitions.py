"""Daily partitions by ``modifiedOn`` (UTC), today's included."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

DEFAULT_START = "2023-01-01"


def daily_partitions(start_date: str = DEFAULT_START) -> dg.DailyPartitionsDefinition:
    """Daily partitions from ``start_date``; ``end_offset=1`` includes today's partition."""
    return dg.DailyPartitionsDefinition(start_date=start_date, end_offset=1, timezone="UTC")


def today_key(now: datetime | None = None) -> str:
    """Today's partition key (UTC)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date().isoformat()
