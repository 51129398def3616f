"""Landing entities from the API into the warehouse: several entities at once, each range
read as day-aligned windows whose days are written a month at a time, as soon as the
month is complete.

Why streaming: a backfill of every entity at once would otherwise hold the whole tenant in
memory. The API returns a window's records ordered by ``modifiedOn``, so once a page
reaches a later month, the earlier months of that window are complete and can be written
(the warehouse keeps a file per month, so each is written once); only the month in
progress stays in memory per window. A source that does not keep that order (detected per
page) is buffered instead and nothing is lost.

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
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from st_assets.ingest.partitions import day_bounds
from st_resources.arrow import arrow_schema
from st_resources.client import ServiceTitanClient
from st_resources.entities import EntitySpec
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


@dataclass
class Landed:
    """What landing one entity did (the asset's metadata)."""

    records: int = 0
    partitions: int = 0
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
    client: ServiceTitanClient,
    warehouse: WarehouseResource,
    spec: EntitySpec,
    days: Sequence[date],
    loaded_at: datetime,
    report: Report | None = None,
) -> Landed:
    """Land the daily partitions ``days`` of ``spec``: day-aligned windows read
    concurrently, each day written once complete and then told to ``report``."""
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

    def window(group: list[date]) -> dict[str, float]:
        start, end = day_bounds(group)
        writer = DayWriter(group, schema, write, merge)
        with client.metrics.scope() as scoped:
            for table in client.iter_window_tables(
                spec.path, start, end, spec.model, loaded_at, windows=1
            ):
                tally.page(table)
                writer.add(table)
            writer.close()
        return scoped.snapshot()

    groups = day_groups(days, windows_for(len(days)))
    totals: dict[str, float] = {}
    with ThreadPoolExecutor(len(groups), thread_name_prefix=f"st-{spec.name}") as pool:
        for numbers in pool.map(window, groups):
            for key, value in numbers.items():
                totals[key] = totals.get(key, 0) + value
    tally.landed.metrics = totals
    return tally.landed


def land_whole(
    client: ServiceTitanClient,
    warehouse: WarehouseResource,
    spec: EntitySpec,
    loaded_at: datetime,
) -> Landed:
    """Land a reference set whole (one file, replaced)."""
    tally = _Tally()
    with client.metrics.scope() as scoped:
        tables = []
        for table in client.iter_tables(spec.path, spec.model, loaded_at):
            tally.page(table)
            tables.append(table)
    warehouse.write_whole(
        spec.name, pa.concat_tables(tables) if tables else arrow_schema(spec.model).empty_table()
    )
    tally.landed.partitions = 1
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


def land_concurrently(
    specs: Sequence[EntitySpec], land: Callable[[EntitySpec, Report], Landed]
) -> Iterator[DaysLanded | EntityLanded]:
    """Run ``land`` for every entity at once and yield, in this thread, what they report
    as it happens: the days each has landed so far, then the entity itself when it is
    done (or failed), so that it is recorded while the others are still reading."""
    if not specs:
        return
    progress: queue.SimpleQueue[DaysLanded | EntityLanded] = queue.SimpleQueue()

    def run(spec: EntitySpec) -> None:
        outcome: Landed | BaseException
        try:
            outcome = land(spec, lambda records: progress.put(DaysLanded(spec, dict(records))))
        except BaseException as exc:  # reported to the caller, which fails the step
            outcome = exc
        progress.put(EntityLanded(spec, outcome))

    with ThreadPoolExecutor(len(specs), thread_name_prefix="st-entity") as pool:
        for spec in specs:
            pool.submit(run, spec)
        running = len(specs)
        while running:
            item = progress.get()
            if isinstance(item, EntityLanded):
                running -= 1
            yield item
