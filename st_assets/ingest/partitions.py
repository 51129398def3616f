"""Daily partitions by ``modifiedOn`` (UTC), today's included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg

DEFAULT_START = "2023-01-01"


def daily_partitions(start_date: str = DEFAULT_START) -> dg.DailyPartitionsDefinition:
    """Daily partitions from ``start_date``; ``end_offset=1`` includes today's partition."""
    return dg.DailyPartitionsDefinition(start_date=start_date, end_offset=1, timezone="UTC")


def day_range(first: str, last: str) -> list[date]:
    """Every day from ``first`` to ``last`` (partition keys, inclusive)."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_bounds(days: list[date]) -> tuple[datetime, datetime]:
    """The ``[start, end)`` UTC instants covering ``days``."""
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
    end = datetime(days[-1].year, days[-1].month, days[-1].day, tzinfo=UTC) + timedelta(days=1)
    return start, end


def today_key(now: datetime | None = None) -> str:
    """Today's partition key (UTC)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date().isoformat()
