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

No Dagster here: the ingest assets (``st_assets``) call ``land_concurrently`` with
``land_days`` or ``land_whole`` and record what it yields. The pure helpers (days, the
windows of a range, the writer of a window's days) are in ``st_resources.days``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from st_contract.entities import EntitySpec
from st_resources.arrow import arrow_schema
from st_resources.backend import Backend
from st_resources.days import (
    DayWriter,
    day_bounds,
    day_groups,
    records_left,
    split_day,
    windows_for,
)
from st_resources.warehouse import WarehouseResource, modified_day

PREVIEW_ROWS = 5
# Streams read at once: each holds its month in progress and its connections; the rate
# limit is shared anyway, so more would add memory, not speed.
MAX_STREAMS_AT_ONCE = 12

Report = Callable[[Mapping[date, int]], None]
"""Told the record count of each day just landed (called from a landing thread)."""


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
    if not days:
        return tally.landed

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

    workers = min(len(specs), MAX_STREAMS_AT_ONCE)
    with ThreadPoolExecutor(workers, thread_name_prefix="st-entity") as pool:
        for turn, spec in enumerate(specs):
            pool.submit(run, spec, turn)
        running = len(specs)
        while running:
            item = progress.get()
            if isinstance(item, EntityLanded):
                running -= 1
            yield item
