"""The partitions of the changing entities: months of ``modifiedOn`` (UTC), the current
month included, from the month of ``ST_PARTITIONS_START`` (default: three years back).

Why months: a partition is what Dagster records, and it records an event per partition
landed. Daily partitions made a three-year backfill of 11 entities 12,000 events, and
Dagster's event writes, not the API, were most of its time; a month is also exactly one
landing file (``landing/<entity>/YYYY-MM.parquet``). ``docs/architecture.md`` has the
options measured. The recent refresh stays cheap: the schedule, the change feed and the
write-back re-land only the days that changed of the current month (``Refresh``), so
their API calls follow the changes, not the month.

The first day is read when the code location loads (``partitions_start``, called from the
``@dg.definitions`` function of ``assets.py``), never at import: a code server started
today and a test run tomorrow each get their own three years. Days before it, in the first
month, are not landed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import dagster as dg

START_VARIABLE = "ST_PARTITIONS_START"
HISTORY_YEARS = 3
Granularity = Literal["month", "week", "day"]
DEFAULT_GRANULARITY: Granularity = "month"
KEY_FORMATS: dict[Granularity, str] = {"month": "%Y-%m", "week": "%Y-%m-%d", "day": "%Y-%m-%d"}


@dataclass(frozen=True)
class _Requested:
    start: str | None
    granularity: Granularity


# What a caller asked for (``partitions_from``), ahead of the environment: tools and tests
# that land a range of their own load the same definitions with another start, and the
# benchmarks measure the other granularities.
_requested: ContextVar[_Requested | None] = ContextVar("partitions", default=None)
_CONFIGURED = _Requested(None, DEFAULT_GRANULARITY)


def years_back(today: date, years: int) -> date:
    """The same day ``years`` years before ``today`` (29 February: the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def partitions_start(today: date | None = None) -> str:
    """The first day landed (``YYYY-MM-DD``): the one asked for with ``partitions_from``,
    else ``ST_PARTITIONS_START``, else ``HISTORY_YEARS`` years before ``today`` (UTC)."""
    configured = (_requested.get() or _CONFIGURED).start or os.environ.get(START_VARIABLE)
    if configured:
        try:
            return date.fromisoformat(configured).isoformat()
        except ValueError:
            raise ValueError(f"{START_VARIABLE}={configured!r} is not a YYYY-MM-DD date") from None
    return years_back(today or datetime.now(UTC).date(), HISTORY_YEARS).isoformat()


def requested_granularity() -> Granularity:
    """The granularity asked for with ``partitions_from`` (months unless a tool asks)."""
    return (_requested.get() or _CONFIGURED).granularity


@contextmanager
def partitions_from(
    start_date: str | None, granularity: Granularity = DEFAULT_GRANULARITY
) -> Iterator[None]:
    """Definitions loaded inside this block land from ``start_date`` (None: as
    configured), in partitions of ``granularity``."""
    token = _requested.set(_Requested(start_date, granularity))
    try:
        yield
    finally:
        _requested.reset(token)


def history_partitions(
    start_date: str, granularity: Granularity = DEFAULT_GRANULARITY
) -> dg.TimeWindowPartitionsDefinition:
    """Partitions of ``granularity`` covering ``start_date``; ``end_offset=1`` includes the
    current one. A month's key is ``YYYY-MM``, its landing file's name."""
    first = date.fromisoformat(start_date)
    if granularity == "month":
        return dg.MonthlyPartitionsDefinition(
            start_date=f"{first:%Y-%m}", fmt=KEY_FORMATS["month"], end_offset=1, timezone="UTC"
        )
    if granularity == "week":
        monday = first - timedelta(days=first.weekday())
        return dg.WeeklyPartitionsDefinition(
            start_date=monday.isoformat(), day_offset=1, end_offset=1, timezone="UTC"
        )
    return dg.DailyPartitionsDefinition(start_date=start_date, end_offset=1, timezone="UTC")


def today(now: datetime | None = None) -> date:
    """Today (UTC)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date()


def partition_key_for(partitions_def: dg.TimeWindowPartitionsDefinition, day: date) -> str:
    """The key of the partition holding ``day``."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return partitions_def.get_partition_key_for_timestamp(noon.timestamp())


def days_of(partitions_def: dg.TimeWindowPartitionsDefinition, first: str, last: str) -> list[date]:
    """Every day of the partitions ``first`` to ``last`` (keys), in order."""
    start = partitions_def.time_window_for_partition_key(first).start
    end = partitions_def.time_window_for_partition_key(last).end
    return [start.date() + timedelta(days=i) for i in range((end.date() - start.date()).days)]


def by_partition(
    partitions_def: dg.TimeWindowPartitionsDefinition, days: Iterable[date]
) -> dict[str, list[date]]:
    """``days`` grouped by the partition holding each, in order."""
    grouped: dict[str, list[date]] = {}
    for day in sorted(set(days)):
        grouped.setdefault(partition_key_for(partitions_def, day), []).append(day)
    return grouped
