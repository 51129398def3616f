"""Daily partitions by ``modifiedOn`` (UTC), today's included, from ``ST_PARTITIONS_START``
(default: three years back from today).

The first day is read when the code location loads (``partitions_start``, called from the
``@dg.definitions`` function of ``assets.py``), never at import: a code server started
today and a test run tomorrow each get their own three years.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime

import dagster as dg

START_VARIABLE = "ST_PARTITIONS_START"
HISTORY_YEARS = 3

# The first day a caller asked for (``partitions_from``), ahead of the environment: tools
# and tests that land a range of their own load the same definitions with another start.
_requested_start: ContextVar[str | None] = ContextVar("partitions_start", default=None)


def years_back(today: date, years: int) -> date:
    """The same day ``years`` years before ``today`` (29 February: the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def partitions_start(today: date | None = None) -> str:
    """The first daily partition (``YYYY-MM-DD``): the one asked for with
    ``partitions_from``, else ``ST_PARTITIONS_START``, else ``HISTORY_YEARS`` years before
    ``today`` (UTC)."""
    configured = _requested_start.get() or os.environ.get(START_VARIABLE)
    if configured:
        try:
            return date.fromisoformat(configured).isoformat()
        except ValueError:
            raise ValueError(f"{START_VARIABLE}={configured!r} is not a YYYY-MM-DD date") from None
    return years_back(today or datetime.now(UTC).date(), HISTORY_YEARS).isoformat()


@contextmanager
def partitions_from(start_date: str | None) -> Iterator[None]:
    """Definitions loaded inside this block start their partitions at ``start_date``
    (None: as configured)."""
    token = _requested_start.set(start_date)
    try:
        yield
    finally:
        _requested_start.reset(token)


def daily_partitions(start_date: str) -> dg.DailyPartitionsDefinition:
    """Daily partitions from ``start_date``; ``end_offset=1`` includes today's partition."""
    return dg.DailyPartitionsDefinition(start_date=start_date, end_offset=1, timezone="UTC")


def today_key(now: datetime | None = None) -> str:
    """Today's partition key (UTC)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date().isoformat()
