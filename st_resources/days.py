"""Days of daily partitions and the windows that read them: pure helpers of the landing
engine (``st_resources.landing``), with no I/O.

A range of daily partitions is read as a few day-aligned windows (``day_groups``,
``windows_for``); a window's pages become days written a month at a time (``DayWriter``);
a window still reading can hand its later days to an idle thread (``split_day``,
``records_left``). Days are UTC days of ``modifiedOn``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from st_resources.warehouse import modified_day, month_of, split_by_day


def day_range(first: str, last: str) -> list[date]:
    """Every day from ``first`` to ``last`` (ISO dates, as partition keys are), inclusive."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_bounds(days: Sequence[date]) -> tuple[datetime, datetime]:
    """The ``[start, end)`` UTC instants covering ``days``."""
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
    end = datetime(days[-1].year, days[-1].month, days[-1].day, tzinfo=UTC) + timedelta(days=1)
    return start, end


def day_groups(days: Sequence[date], groups: int) -> list[list[date]]:
    """``days`` (ascending, contiguous) cut into at most ``groups`` contiguous runs of
    nearly equal length; every day is in exactly one run. Runs of a month or more are cut
    at the nearest first of a month, so that one window writes each month file whole
    (a month shared by two windows is read back and rewritten by the second)."""
    if not days:
        return []
    groups = max(1, min(groups, len(days)))
    size, extra = divmod(len(days), groups)
    cuts, at = [], 0
    for i in range(groups - 1):
        at += size + (1 if i < extra else 0)
        cuts.append(at)
    if size >= 28:
        firsts = [i for i, day in enumerate(days) if day.day == 1 and i > 0]
        if firsts:
            cuts = sorted({_nearest(firsts, cut) for cut in cuts})
    bounds = [0, *cuts, len(days)]
    return [list(days[a:b]) for a, b in itertools.pairwise(bounds)]


def _nearest(candidates: list[int], target: int) -> int:
    return min(candidates, key=lambda i: abs(i - target))


def windows_for(days: int) -> int:
    """Concurrent windows per entity: one for a day or two; two for longer ranges, since
    several entities already share the rate limit, each window ends on a partial page (more
    windows cost calls) and holds its month in progress in memory. A window left with the
    most records is still split while it is read (``landing.py``)."""
    return min(2, max(1, days // 7 + 1))


class DayWriter:
    """Collects one window's tables and hands its days to ``write`` a month at a time, once
    the month is complete (the window's first and last months may be partial).

    ``write`` receives ``{day: rows}`` for consecutive days, empty days included (a day
    re-landed after its records moved away must be cleared). ``merge`` receives rows that
    arrived for an already written day (a source out of ``modifiedOn`` order).
    """

    def __init__(
        self,
        days: Sequence[date],
        schema: pa.Schema,
        write: Callable[[Mapping[date, pa.Table]], None],
        merge: Callable[[date, pa.Table], None],
    ) -> None:
        self.days = list(days)
        self.schema = schema
        self.write = write
        self.merge = merge
        self.next = 0  # index in ``days`` of the first day not written yet
        self.pending: list[pa.Table] = []
        self.ordered = True

    def add(self, table: pa.Table) -> None:
        """One page of the window."""
        if table.num_rows == 0:
            return
        self.pending.append(table)
        if not self.ordered:
            return
        bounds = pc.min_max(modified_day(table))
        first, last = bounds["min"].as_py(), bounds["max"].as_py()
        if first is None or (self.next < len(self.days) and first < self.days[self.next]):
            # Rows for a day already written: stop streaming, buffer the rest.
            self.ordered = False
            return
        # In order, no later page has rows before this page's last day: every month before
        # that day's is complete.
        self._write_before(month_of(last))

    def _write_before(self, day: date) -> None:
        upto = self.next
        while upto < len(self.days) and self.days[upto] < day:
            upto += 1
        if upto == self.next:
            return
        done = self.days[self.next : upto]
        buffered = pa.concat_tables(self.pending)
        self.write(split_by_day(buffered, done))
        keep = pc.greater_equal(modified_day(buffered), pa.scalar(day, pa.date32()))
        rest = buffered.filter(keep)
        self.pending = [rest] if rest.num_rows else []
        self.next = upto

    def stop_before(self, day: date) -> None:
        """Give up the days from ``day`` on (another window reads them now): they are not
        written here, and rows for them already buffered are dropped."""
        keep = [d for d in self.days if d < day]
        if len(keep) < self.next:
            raise ValueError(f"days from {day} are already written; they cannot be given up")
        self.days = keep
        if self.pending:
            buffered = pa.concat_tables(self.pending)
            kept = buffered.filter(pc.less(modified_day(buffered), pa.scalar(day, pa.date32())))
            self.pending = [kept] if kept.num_rows else []

    def close(self) -> None:
        """The window has no more pages: write every day left."""
        buffered = pa.concat_tables(self.pending) if self.pending else self.schema.empty_table()
        self.pending = []
        if not self.ordered:
            for day, rows in split_by_day(buffered, self.days[: self.next]).items():
                if rows.num_rows:
                    self.merge(day, rows)
        self.write(split_by_day(buffered, self.days[self.next :]))
        self.next = len(self.days)


def split_day(after: date, days: Sequence[date]) -> date | None:
    """Where to cut the days of ``days`` later than ``after`` (the latest day a window has
    read) so that another window takes the second half: their middle, or the first of a
    month nearest it when they span two months or more (each month file then has one
    writer); None when fewer than two days are left."""
    left = [day for day in days if day > after]
    if len(left) < 2:
        return None
    middle = len(left) // 2
    if len(left) >= 56:
        firsts = [i for i, day in enumerate(left) if day.day == 1 and i > 0]
        if firsts:
            middle = _nearest(firsts, middle)
    return left[middle]


def records_left(records: int, first: date, last: date | None, stop: date) -> int:
    """Records a window should still read, at the density of what it has read so far:
    ``records`` over ``first..last``, extended to the days from ``last`` to ``stop``
    (exclusive). 0 before its first page (nothing to go by)."""
    if last is None or records == 0:
        return 0
    read_days = (last - first).days + 1
    return records * max(0, (stop - last).days - 1) // read_days
