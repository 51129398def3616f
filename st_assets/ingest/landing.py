"""Landing entities from the API into the warehouse: several entities at once, each range
read as day-aligned windows whose days are written a month at a time, as soon as the
month is complete.

Why streaming: a backfill of every entity at once would otherwise hold the whole tenant in
memory. The API returns a window's records ordered by ``modifiedOn``, so once a page
reaches a later month, the earlier months of that window are complete and can be written
(the warehouse keeps a file per month, so each is written once); only the month in
progress stays in memory per window. A source that does not keep that order (detected per
page) is buffered instead and nothing is lost.

Why windows are split while they are read: a business's recent months hold most of its
records, so windows of equal days are not equal work, and the last window of a range
would otherwise be read alone, one page after the other, long after the others are done.
A thread whose window is done takes over the later half of the window with the most
records left (the API's (``modifiedOn``, ``id``) order lets that window stop where the
other begins); a split costs about one call.

Each batch of days is reported (``Report``) as soon as its month files are in place, so the
caller knows what landed even when a later window of the entity fails.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from st_assets.ingest.partitions import day_bounds
from st_contract.entities import EntitySpec
from st_resources.arrow import arrow_schema
from st_resources.backend import Backend
from st_resources.warehouse import WarehouseResource, modified_day, month_of, split_by_day

PREVIEW_ROWS = 5

Report = Callable[[Mapping[date, int]], None]
"""Told the record count of each day just landed (called from a landing thread)."""


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
    """Concurrent windows per entity: one for a day or two; up to four for long ranges,
    since several entities already share the rate limit (each window ends on a partial
    page, so more windows cost calls)."""
    return min(4, max(1, days // 7 + 1))


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


class _Window:
    """One query of an entity (a run of days) and the thread reading it. Another thread
    may take its later days over (``_Windows.steal``); ``lock`` guards the hand-over."""

    def __init__(self, writer: DayWriter) -> None:
        self.writer = writer
        self.first = writer.days[0]
        self.lock = threading.Lock()
        self.records = 0
        self.last: date | None = None  # the latest day of a row read so far
        self.reading = True
        self.cut = False  # the later days were handed over

    @property
    def stop(self) -> date:
        """The first day that is not this window's."""
        return self.writer.days[-1] + timedelta(days=1)

    def take(self, table: pa.Table) -> tuple[pa.Table, bool]:
        """A page read: its rows that are still this window's, and whether the reading
        can stop (the page reached the days handed over, in ``modifiedOn`` order)."""
        crossed = False
        if table.num_rows:
            day = modified_day(table)
            if self.cut:
                beyond = pc.greater_equal(day, pa.scalar(self.stop, pa.date32()))
                crossed = bool(pc.any(beyond).as_py())
                if crossed:
                    keep = pc.invert(beyond)
                    table, day = table.filter(keep), day.filter(keep)
            if table.num_rows:
                self.records += table.num_rows
                latest = pc.max(day).as_py()
                self.last = latest if self.last is None else max(self.last, latest)
        self.writer.add(table)
        return table, crossed and self.writer.ordered

    def records_left(self) -> int:
        return records_left(self.records, self.first, self.last, self.stop)


class _Windows:
    """The windows of an entity being read. A thread whose window is done takes over the
    later half of the window with the most records left, so that a skewed range (a
    business's recent months hold most of its records) is not left to one thread's
    chain of pages at the end; it waits for a window worth splitting while any reads."""

    def __init__(self, min_records: int) -> None:
        self.min_records = min_records
        self.changed = threading.Condition()
        self.active: list[_Window] = []
        self.started = 0
        self.failed = False  # a window failed: the entity fails, nothing more is split off

    def start(self, window: _Window) -> None:
        with self.changed:
            self.active.append(window)
            self.started += 1

    def moved(self) -> None:
        """A window read a page (its estimate changed) or finished."""
        with self.changed:
            self.changed.notify_all()

    def finished(self, window: _Window, failed: bool) -> None:
        with self.changed:
            self.active.remove(window)
            self.failed = self.failed or failed
            self.changed.notify_all()

    def steal(self) -> list[date] | None:
        """Days cut from the window with the most records left (at least ``min_records``),
        to be read by the caller; None once no window is reading, or one failed."""
        with self.changed:
            while True:
                if self.failed or not any(w.reading for w in self.active):
                    return None
                days = self._cut_largest()
                if days:
                    return days
                self.changed.wait()

    def _cut_largest(self) -> list[date] | None:
        candidates = sorted(
            (w for w in self.active if w.reading), key=lambda w: w.records_left(), reverse=True
        )
        for window in candidates:
            with window.lock:
                if not window.reading or window.records_left() < self.min_records:
                    continue
                assert window.last is not None  # records_left is 0 before the first page
                split = split_day(window.last, window.writer.days)
                if split is None:
                    continue
                days = [day for day in window.writer.days if day >= split]
                window.writer.stop_before(split)
                window.cut = True
                return days
        return None


@dataclass
class Landed:
    """What landing one entity did (the asset's metadata)."""

    records: int = 0
    partitions: int = 0
    windows: int = 0  # queries read: the first windows and those split off them
    preview: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


class _Tally:
    """Records, partitions, the first rows and each day's records of an entity, shared by
    its windows."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.landed = Landed()
        self.day_records: dict[date, int] = {}

    def page(self, table: pa.Table) -> None:
        with self.lock:
            self.landed.records += table.num_rows
            if len(self.landed.preview) < PREVIEW_ROWS and table.num_rows:
                need = PREVIEW_ROWS - len(self.landed.preview)
                self.landed.preview += table.slice(0, need).to_pylist()

    def written(self, parts: Mapping[date, pa.Table]) -> dict[date, int]:
        """Days written (replaced): their records."""
        with self.lock:
            self.landed.partitions += len(parts)
            records = {day: rows.num_rows for day, rows in parts.items()}
            self.day_records.update(records)
            return records

    def added(self, day: date, rows: pa.Table) -> dict[date, int]:
        """Rows added to a day already written: the day's records now."""
        with self.lock:
            self.day_records[day] = self.day_records.get(day, 0) + rows.num_rows
            return {day: self.day_records[day]}


def land_days(
    backend: Backend,
    warehouse: WarehouseResource,
    spec: EntitySpec,
    days: Sequence[date],
    loaded_at: datetime,
    report: Report | None = None,
    turn: int = 0,
) -> Landed:
    """Land the daily partitions ``days`` of ``spec``: day-aligned windows read
    concurrently, each day written once complete and then told to ``report``; ``turn`` is
    the entity's claim on the rate limit (lower first)."""
    schema = arrow_schema(spec.model)
    tally = _Tally()

    def write(parts: Mapping[date, pa.Table]) -> None:
        warehouse.write_partitions(spec.name, parts)
        records = tally.written(parts)
        if report is not None:
            report(records)

    def merge(day: date, rows: pa.Table) -> None:
        warehouse.add_rows(spec.name, day, rows)
        records = tally.added(day, rows)
        if report is not None:
            report(records)

    windows = _Windows(min_records=2 * backend.page_size)

    def read(group: list[date]) -> None:
        start, end = day_bounds(group)
        window = _Window(DayWriter(group, schema, write, merge))
        windows.start(window)
        pages = backend.iter_window_tables(spec, start, end, loaded_at, priority=turn)
        failed = True
        try:
            for table in pages:
                with window.lock:
                    kept, done = window.take(table)
                    tally.page(kept)
                windows.moved()
                if done:
                    break
            with window.lock:
                window.reading = False
                window.writer.close()
            failed = False
        finally:
            pages.close()
            windows.finished(window, failed)

    def worker(group: list[date]) -> dict[str, float]:
        with backend.metrics.scope() as scoped:
            todo: list[date] | None = group
            while todo:
                read(todo)
                todo = windows.steal()
        return scoped.snapshot()

    groups = day_groups(days, windows_for(len(days)))
    totals: dict[str, float] = {}
    with ThreadPoolExecutor(len(groups), thread_name_prefix=f"st-{spec.name}") as pool:
        for numbers in pool.map(worker, groups):
            for key, value in numbers.items():
                totals[key] = totals.get(key, 0) + value
    tally.landed.metrics = totals
    tally.landed.windows = windows.started
    return tally.landed


def land_whole(
    backend: Backend,
    warehouse: WarehouseResource,
    spec: EntitySpec,
    loaded_at: datetime,
    turn: int = 0,
) -> Landed:
    """Land a reference set whole (one file, replaced); ``turn`` as in ``land_days``."""
    tally = _Tally()
    with backend.metrics.scope() as scoped:
        tables = []
        for table in backend.iter_tables(spec, loaded_at, priority=turn):
            tally.page(table)
            tables.append(table)
    warehouse.write_whole(
        spec.name, pa.concat_tables(tables) if tables else arrow_schema(spec.model).empty_table()
    )
    tally.landed.partitions = 1
    tally.landed.windows = 1
    tally.landed.metrics = scoped.snapshot()
    return tally.landed


@dataclass(frozen=True)
class DaysLanded:
    """Days of an entity just landed, with their records (an entity still landing)."""

    spec: EntitySpec
    records: Mapping[date, int]


@dataclass(frozen=True)
class EntityLanded:
    """An entity is done: what landing it did, or why it failed."""

    spec: EntitySpec
    outcome: Landed | BaseException


Land = Callable[[EntitySpec, Report, int], Landed]
"""Lands one entity: told where to report its days and its turn at the rate limit."""


def land_concurrently(
    specs: Sequence[EntitySpec], land: Land
) -> Iterator[DaysLanded | EntityLanded]:
    """Run ``land`` for every entity at once and yield, in this thread, what they report
    as it happens: the days each has landed so far, then the entity itself when it is
    done (or failed), so that it is recorded while the others are still reading.

    Each entity's turn is its place in ``specs``: the first has the first claim on the
    rate limit and the others use what it leaves, so entities finish one after another
    and the caller records each while the rest are read (Dagster writes an event per
    partition of a range; written all at the end, they were a quarter of a backfill)."""
    if not specs:
        return
    progress: queue.SimpleQueue[DaysLanded | EntityLanded] = queue.SimpleQueue()

    def run(spec: EntitySpec, turn: int) -> None:
        outcome: Landed | BaseException
        try:
            outcome = land(
                spec, lambda records: progress.put(DaysLanded(spec, dict(records))), turn
            )
        except BaseException as exc:  # reported to the caller, which fails the step
            outcome = exc
        progress.put(EntityLanded(spec, outcome))

    with ThreadPoolExecutor(len(specs), thread_name_prefix="st-entity") as pool:
        for turn, spec in enumerate(specs):
            pool.submit(run, spec, turn)
        running = len(specs)
        while running:
            item = progress.get()
            if isinstance(item, EntityLanded):
                running -= 1
            yield item
