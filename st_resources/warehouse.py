"""The warehouse: the Parquet landing and ``warehouse.duckdb`` with a ``raw`` schema of
views over it.

**Landing layout.** A partitioned entity lands one file per month of ``modifiedOn``,
``landing/<entity>/YYYY-MM.parquet``, holding that month's daily partitions: each row
carries its partition day in a ``modified_date`` column, and the file's key-value metadata
lists the days landed into it with when each was landed (so a day landed empty is known as
landed with no rows, and each day keeps its own landing time, not its month's). A reference
set lands whole, as ``landing/<entity>/data.parquet``.

Why months, not a file per day: a three-year backfill of 11 entities is 12k days, and each
file costs about a millisecond of CPU to encode and publish whatever its size, more than
the records in it. A month is 36 files per entity; re-landing one day rewrites its month
(tens of milliseconds) under the month's lock, so concurrent runs of days of one month
never lose each other's rows. Every rewrite goes through a temporary file and a rename:
readers see a month either before or after a write, never half of it.

Only one process may write a DuckDB file, so every writer of ``warehouse.duckdb`` holds
``warehouse_write_lock``; readers that check data (asset checks) query the Parquet files
through an in-memory DuckDB connection and never open the warehouse file.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple, TypeVar

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock
from pydantic import Field

from st_resources.warehouse_views import PARTITION_KEY, WarehouseViews

# Key-value metadata of a month file: {"YYYY-MM-DD": landed-at ISO instant} per landed day.
LANDED_DAYS_KEY = b"servicetitan.landed_days"
# pyarrow releases the GIL while it encodes and writes, so a few threads overlap files.
WRITE_THREADS = min(4, os.cpu_count() or 1)
_tmp_counter = itertools.count()
_K = TypeVar("_K")


class PartitionWriteError(RuntimeError):
    """Writing one daily partition failed; no day of the call was replaced."""

    def __init__(self, entity: str, day: date, cause: BaseException) -> None:
        super().__init__(f"{entity}: writing the partition of {day.isoformat()} failed: {cause}")
        self.entity = entity
        self.day = day


class _Staged(NamedTuple):
    """A file written under a temporary name, waiting to be renamed to ``target``."""

    tmp: str
    target: str


class Month(NamedTuple):
    """One month file read back: its rows (with ``modified_date``) and its landed days."""

    table: pa.Table
    landed: dict[date, datetime]


def encode_parquet(table: pa.Table, metadata: Mapping[bytes, bytes] | None = None) -> pa.Buffer:
    """``table`` (with ``metadata`` added to its schema's) as the bytes of a landing file."""
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    sink = pa.BufferOutputStream()
    # Snappy, not zstd: zstd's per-column setup doubles the CPU of a small file (a day
    # re-landed into a quiet month) for little gain. No dictionary pages: building them costs
    # ~20% of a file's CPU for ~8% fewer bytes. Column statistics stay: rows are in day
    # order, so DuckDB skips row groups when a query filters on ``modified_date``.
    pq.write_table(table, sink, compression="snappy", use_dictionary=False)
    return sink.getvalue()


def _temp_path(target: str) -> str:
    # Never ``*.parquet``: the views' glob would read a file still being written. The pid and
    # a counter make the name unique without mkstemp's random names and retries.
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{os.getpid()}-{next(_tmp_counter)}.tmp")


def _write_temp(data: pa.Buffer, target: str) -> str:
    tmp = _temp_path(target)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def modified_day(table: pa.Table) -> pa.Array:
    """The UTC day of each row's ``modifiedOn`` (the daily partition a row belongs to)."""
    return pc.cast(pc.cast(table["modifiedOn"], pa.timestamp("us")), pa.date32())


def month_of(day: date) -> date:
    """The first day of ``day``'s month (the key of the file that holds the day)."""
    return day.replace(day=1)


def split_by_day(table: pa.Table, days: list[date]) -> dict[date, pa.Table]:
    """Rows of ``table`` per UTC day of ``modifiedOn``; every day of ``days`` gets a table,
    empty ones included (so a re-materialized day whose records moved away is cleared).

    One stable sort and one ``take`` of the rows in range, then a zero-copy slice per day (a
    filter per day would scan the whole range once per day: 1,095 scans for a three-year
    backfill, and a take per day copies every column 1,095 times); rows keep their order
    within a day and rows of days outside ``days`` (or without ``modifiedOn``) are left out.
    """
    empty = table.slice(0, 0)
    out: dict[date, pa.Table] = dict.fromkeys(days, empty)
    if table.num_rows == 0 or not days:
        return out
    day_column = modified_day(table)
    order = pc.sort_indices(day_column)  # stable: equal days keep their order
    runs = pc.run_end_encode(day_column.take(order)).chunk(0)
    ends = runs.run_ends.to_pylist()
    starts = [0, *ends[:-1]]
    wanted = set(days)
    spans = [
        (day, start, end)
        for day, start, end in zip(runs.values.to_pylist(), starts, ends, strict=True)
        if day in wanted
    ]
    if not spans:
        return out
    first, last = spans[0][1], spans[-1][2]
    # One copy of the wanted rows, contiguous per column, so each day is a view into it.
    sorted_rows = table.take(order.slice(first, last - first)).combine_chunks()
    for day, start, end in spans:
        out[day] = sorted_rows.slice(start - first, end - start)
    return out


def with_partition_day(table: pa.Table, day: date) -> pa.Table:
    """``table`` with its partition day as the ``modified_date`` column (replaced if there)."""
    column = pa.repeat(pa.scalar(day, pa.date32()), table.num_rows)
    if PARTITION_KEY in table.column_names:
        return table.set_column(table.schema.get_field_index(PARTITION_KEY), PARTITION_KEY, column)
    return table.append_column(PARTITION_KEY, column)


def _with_partition_days(parts: Mapping[date, pa.Table], days: list[date]) -> pa.Table:
    """The rows of ``days`` of ``parts``, in that order, with their partition day as
    ``modified_date``: one column built for all of them (a column per day and a
    concatenation cost more than the rows in a month of small days)."""
    if not days:
        return pa.table({})
    tables = [parts[day] for day in days]
    rows = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    ends = pa.array(list(itertools.accumulate(t.num_rows for t in tables)), pa.int32())
    column = pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, pa.array(days, pa.date32())))
    if PARTITION_KEY in rows.column_names:
        return rows.set_column(rows.schema.get_field_index(PARTITION_KEY), PARTITION_KEY, column)
    return rows.append_column(PARTITION_KEY, column)


def landed_days(metadata: Mapping[bytes, bytes] | None) -> dict[date, datetime]:
    """The landed days recorded in a month file's key-value ``metadata``."""
    raw = json.loads((metadata or {}).get(LANDED_DAYS_KEY, b"{}"))
    return {date.fromisoformat(day): datetime.fromisoformat(at) for day, at in raw.items()}


def read_month(path: str | Path) -> Month | None:
    """The month file at ``path`` (None if there is none)."""
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        return None
    metadata = dict(table.schema.metadata or {})
    landed = landed_days(metadata)
    metadata.pop(LANDED_DAYS_KEY, None)
    return Month(table.replace_schema_metadata(metadata or None), landed)


def encode_month(month: Month) -> pa.Buffer:
    """``month`` as the bytes of its file, its landed days in the footer."""
    landed = {d.isoformat(): at.isoformat() for d, at in sorted(month.landed.items())}
    return encode_parquet(month.table, {LANDED_DAYS_KEY: json.dumps(landed).encode()})


def merge_month(
    old: Month | None,
    parts: Mapping[date, pa.Table],
    landed_at: Mapping[date, datetime],
    append: bool = False,
) -> Month:
    """The month ``old`` with the days of ``parts`` replaced (or, with ``append``, added to);
    rows stay in day order and keep their order within a day. A new column of a later
    release reads as null in the rows landed before it."""
    days = sorted(parts)
    landed = dict(old.landed) if old else {}
    for day in days:
        landed[day] = landed_at[day]
    kept = old.table if old is not None else None
    if kept is not None and not append and kept.num_rows:
        replaced = pc.is_in(kept[PARTITION_KEY], value_set=pa.array(days, pa.date32()))
        kept = kept.filter(pc.invert(replaced))
    pieces = [_with_partition_days(parts, [day for day in days if parts[day].num_rows])]
    pieces = [t for t in pieces if t.num_rows]
    if kept is not None and (kept.num_rows or not pieces):
        pieces.insert(0, kept)
    if not pieces:  # every day of a new month empty: the file keeps the schema
        pieces = [with_partition_day(parts[days[0]], days[0])]
    table = pa.concat_tables(pieces, promote_options="default") if len(pieces) > 1 else pieces[0]
    if kept is not None and kept.num_rows and len(pieces) > 1:
        table = table.take(pc.sort_indices(table[PARTITION_KEY]))  # stable
    return Month(table, landed)


def _culprit(parts: Mapping[date, pa.Table]) -> date:
    """The day of ``parts`` whose rows cannot be written (the first, if each can alone)."""
    for day in sorted(parts):
        try:
            encode_parquet(with_partition_day(parts[day], day))
        except Exception:
            return day
    return min(parts)


def _in_threads(items: Sequence[_K], stage: Callable[[_K], _Staged], staged: list[_Staged]) -> None:
    """Run ``stage`` over ``items`` in a few threads and append what each staged to
    ``staged``, also when one fails or the run is interrupted (so the caller removes
    them); the first failure cancels the items not started yet and is raised once the
    running ones are done."""
    if len(items) == 1 or WRITE_THREADS == 1:
        for item in items:
            staged.append(stage(item))
        return
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(items))) as pool:
        futures = [pool.submit(stage, item) for item in items]
        try:
            for future in futures:
                future.result()
        except BaseException as exc:
            failure = exc
            for future in futures:
                future.cancel()
    # The pool has shut down: every future has finished or was cancelled.
    for future in futures:
        if not future.cancelled() and future.exception() is None:
            staged.append(future.result())
    if failure is not None:
        raise failure


def _publish(staged: list[_Staged]) -> None:
    """Rename staged files into place; on a failure remove the temporary files left."""
    try:
        for file in staged:
            os.replace(file.tmp, file.target)
    except BaseException:
        for file in staged:
            _unlink(file.tmp)
        raise


class WarehouseResource(WarehouseViews, dg.ConfigurableResource):  # type: ignore[type-arg]
    """The landing folder and ``warehouse.duckdb`` (``ST_WAREHOUSE_DIR``)."""

    warehouse_dir: str = Field(description="Folder of landing/ and warehouse.duckdb")

    @property
    def root(self) -> Path:
        return Path(self.warehouse_dir).expanduser().resolve()

    def month_path(self, entity: str, day: date) -> Path:
        """The file holding the daily partition ``day`` of an entity (its month's)."""
        return self.landing(entity) / f"{day:%Y-%m}.parquet"

    def write_partitions(self, entity: str, parts: Mapping[date, pa.Table]) -> int:
        """Replace several daily partitions of an entity; returns how many were written.

        Each month the days fall in is rewritten once, under its lock, with the other days
        it holds kept: every month is encoded to a temporary file first (a few at a time, in
        threads), then all are renamed into place. A failure raises ``PartitionWriteError``
        naming the day and replaces no day; each rename swaps one whole month, so a reader
        sees every day either old or new. An empty day is recorded as landed with no rows
        (its records moved to another day)."""
        return self._write(entity, parts)

    def add_rows(self, entity: str, day: date, rows: pa.Table) -> None:
        """Add ``rows`` to a daily partition already landed, keeping its rows (records a
        source returned out of ``modifiedOn`` order, after their day was written)."""
        self._write(entity, {day: rows}, append=True)

    def _write(
        self,
        entity: str,
        parts: Mapping[date, pa.Table],
        append: bool = False,
    ) -> int:
        if not parts:
            return 0
        now = datetime.now(UTC)
        stamps = dict.fromkeys(parts, now)
        months: dict[date, dict[date, pa.Table]] = {}
        for day in sorted(parts):
            months.setdefault(month_of(day), {})[day] = parts[day]
        landing = self.landing(entity)
        landing.mkdir(parents=True, exist_ok=True)

        def stage(month: date) -> _Staged:
            # Plain strings: pathlib costs a measurable share of a small file.
            target = f"{landing}{os.sep}{month:%Y-%m}.parquet"
            days = months[month]
            try:
                data = encode_month(merge_month(read_month(target), days, stamps, append))
                return _Staged(_write_temp(data, target), target)
            except Exception as exc:
                raise PartitionWriteError(entity, _culprit(days), exc) from exc

        with ExitStack() as locks:
            for month in months:  # sorted: two writers never wait on each other in a cycle
                locks.enter_context(self._month_lock(entity, month))
            staged: list[_Staged] = []
            try:
                _in_threads(list(months), stage, staged)
            except BaseException:
                for file in staged:
                    _unlink(file.tmp)
                raise
            _publish(staged)
        return len(parts)

    def write_whole(self, entity: str, table: pa.Table) -> Path:
        """Replace an unpartitioned entity."""
        path = self.landing(entity) / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        _publish([_Staged(_write_temp(encode_parquet(table), str(path)), str(path))])
        return path

    def _locks(self) -> Path:
        folder = self.root / "landing" / ".locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _month_lock(self, entity: str, month: date) -> FileLock:
        """The lock of one month file's writers (a rewrite reads the month first)."""
        return FileLock(str(self._locks() / f"{entity}.{month:%Y-%m}.lock"), timeout=600)
