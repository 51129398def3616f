"""The warehouse: Parquet landing (atomic, one file per daily partition) and
``warehouse.duckdb`` with a ``raw`` schema of views over it.

Only one process may write a DuckDB file, so every writer of ``warehouse.duckdb`` holds
``warehouse_write_lock``; readers that check data (asset checks) query the Parquet files
through an in-memory DuckDB connection and never open the warehouse file.

``landing/.schemas/<entity>.json`` records how many of an entity's files carry each
schema (a fingerprint per distinct Arrow schema). Views read the files with
``union_by_name = false`` while there is a single schema, which lets DuckDB bind the view
from one file's footer instead of opening all 1,096 of a three-year backfill, and fall back
to ``union_by_name = true`` once files differ (a model gained a field between releases and
old days still lack it). Writers update it under ``<entity>.lock`` before a file appears.
It sits outside the entity's folder, which holds nothing but its partitions.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock
from pydantic import Field

from st_resources.entities import ENTITIES, ENTITIES_BY_NAME, EntitySpec

PARTITION_KEY = "modified_date"
# pyarrow releases the GIL while it encodes and writes, so a few threads overlap files.
WRITE_THREADS = min(4, os.cpu_count() or 1)
_tmp_counter = itertools.count()


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
    fingerprint: str


@contextmanager
def warehouse_write_lock(warehouse_dir: str | Path, timeout: float = 600) -> Iterator[None]:
    """Hold the lock every writer of ``warehouse.duckdb`` takes (views, dbt)."""
    path = Path(warehouse_dir)
    path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path / ".warehouse.lock"), timeout=timeout):
        yield


def schema_fingerprint(schema: pa.Schema) -> str:
    """A short stable id of the column names, types and nullability of ``schema``; two files
    with the same fingerprint can be read by DuckDB without ``union_by_name``. Metadata (the
    pandas or Arrow blobs a writer adds) does not count."""
    bare = pa.schema([pa.field(f.name, f.type, f.nullable) for f in schema])
    return hashlib.sha256(bare.serialize().to_pybytes()).hexdigest()[:16]


def encode_parquet(table: pa.Table) -> pa.Buffer:
    """``table`` as the bytes of a landing Parquet file."""
    sink = pa.BufferOutputStream()
    # Snappy, not zstd: a backfill writes one small file per entity and day (12k for three
    # years) and zstd's per-column setup doubles the CPU of each. No dictionary pages: a day
    # holds tens to hundreds of rows, too few to repeat much, and building the dictionaries
    # costs ~20% of a file's CPU for ~8% fewer bytes. Column statistics stay: DuckDB skips
    # files with them when a query filters.
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


def write_parquet_atomic(table: pa.Table, target: Path) -> None:
    """Write ``table`` to ``target`` through a temporary file in the same folder and a rename,
    so readers never see half a file and a rewrite replaces the file whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(encode_parquet(table), str(target))
    try:
        os.replace(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise


def modified_day(table: pa.Table) -> pa.Array:
    """The UTC day of each row's ``modifiedOn`` (the daily partition a row belongs to)."""
    return pc.cast(pc.cast(table["modifiedOn"], pa.timestamp("us")), pa.date32())


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


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The landing folder and ``warehouse.duckdb`` (``ST_WAREHOUSE_DIR``)."""

    warehouse_dir: str = Field(description="Folder of landing/ and warehouse.duckdb")

    @property
    def root(self) -> Path:
        return Path(self.warehouse_dir).expanduser().resolve()

    @property
    def database_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    def landing(self, entity: str) -> Path:
        """The landing folder of an entity."""
        return self.root / "landing" / entity

    def partition_path(self, entity: str, day: date) -> Path:
        return self.landing(entity) / f"{PARTITION_KEY}={day.isoformat()}" / "data.parquet"

    def write_partition(self, entity: str, day: date, table: pa.Table) -> Path:
        """Replace one daily partition of an entity."""
        self.write_partitions(entity, {day: table})
        return self.partition_path(entity, day)

    def write_partitions(self, entity: str, parts: Mapping[date, pa.Table]) -> int:
        """Replace several daily partitions of an entity; returns how many were written.

        Every file is encoded and written under a temporary name first (a few at a time, in
        threads), then all are renamed into place: a failure while writing raises
        ``PartitionWriteError`` naming the day and replaces no day; each rename swaps one
        whole file, so a reader sees every day either old or new, never half written. An
        empty day is written as an empty file (its records moved to another day), from bytes
        encoded once per schema and call."""
        if not parts:
            return 0
        landing = self.landing(entity)
        landing.mkdir(parents=True, exist_ok=True)
        # One listing instead of a mkdir attempt per day: a re-landing finds every folder.
        existing = set(os.listdir(landing))
        for day in parts:
            folder = f"{PARTITION_KEY}={day.isoformat()}"
            if folder not in existing:
                (landing / folder).mkdir(exist_ok=True)
        # Per distinct schema: its fingerprint and, if a day is empty, the empty file's bytes.
        # Schema.equals compares cached fingerprints, much cheaper than hashing a schema.
        known: list[tuple[pa.Schema, str, list[pa.Buffer]]] = []
        for table in parts.values():
            entry = next((k for k in known if table.schema.equals(k[0])), None)
            if entry is None:
                entry = (table.schema, schema_fingerprint(table.schema), [])
                known.append(entry)
            if table.num_rows == 0 and not entry[2]:
                entry[2].append(encode_parquet(table))

        def write_one(day: date, table: pa.Table) -> _Staged:
            # Plain strings: pathlib (and ``root``'s resolve) cost ~10% of a small file.
            target = f"{landing}{os.sep}{PARTITION_KEY}={day.isoformat()}{os.sep}data.parquet"
            _, fp, empty = next(k for k in known if table.schema.equals(k[0]))
            try:
                data = empty[0] if table.num_rows == 0 else encode_parquet(table)
                return _Staged(_write_temp(data, target), target, fp)
            except Exception as exc:
                raise PartitionWriteError(entity, day, exc) from exc

        staged: list[_Staged] = []
        try:
            if len(parts) == 1 or WRITE_THREADS == 1:
                staged.extend(write_one(day, table) for day, table in parts.items())
            else:
                self._write_in_threads(parts, write_one, staged)
        except BaseException:
            for file in staged:
                _unlink(file.tmp)
            raise
        self._publish(entity, staged)
        return len(staged)

    @staticmethod
    def _write_in_threads(
        parts: Mapping[date, pa.Table],
        write_one: Callable[[date, pa.Table], _Staged],
        staged: list[_Staged],
    ) -> None:
        """Run ``write_one`` over ``parts`` in a few threads and append what each staged to
        ``staged``, also when one fails or the run is interrupted (so the caller removes
        them); the first failure cancels the days not started yet and is raised once the
        running ones are done."""
        failure: BaseException | None = None
        with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(parts))) as pool:
            futures = [pool.submit(write_one, day, table) for day, table in parts.items()]
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

    def write_whole(self, entity: str, table: pa.Table) -> Path:
        """Replace an unpartitioned entity."""
        path = self.landing(entity) / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _write_temp(encode_parquet(table), str(path))
        self._publish(entity, [_Staged(tmp, str(path), schema_fingerprint(table.schema))])
        return path

    def _publish(self, entity: str, files: list[_Staged]) -> None:
        """Rename staged files into place under the entity's lock, keeping its schema counts
        true: they name every new schema before its first file appears (so a reader never
        takes a mixed landing for a uniform one) and drop the replaced files' schemas after
        the renames (so a landing rewritten whole in a new schema reads uniform again)."""
        try:
            with self._schema_lock(entity):
                counts = self._schema_counts(entity)
                if counts is None:  # files landed before the counts existed
                    counts = self._scan_schemas(entity)
                replaced: Counter[str] = Counter()
                for file in files:
                    if os.path.exists(file.target):
                        replaced[self._file_schema(file.target, counts)] += 1
                added = Counter(file.fingerprint for file in files)
                if not set(added) <= set(counts):
                    self._save_schema_counts(entity, counts + added)
                for file in files:
                    try:
                        os.replace(file.tmp, file.target)
                    except OSError as exc:
                        # Days before this one are new already: count what is there now.
                        self._save_schema_counts(entity, self._scan_schemas(entity))
                        raise OSError(f"{entity}: replacing {file.target} failed: {exc}") from exc
                final = counts + added
                final.subtract(replaced)
                self._save_schema_counts(entity, +final)
        except BaseException:
            for file in files:
                _unlink(file.tmp)
            raise

    @staticmethod
    def _file_schema(path: str, counts: Counter[str]) -> str:
        # While the landing has one schema, every file has it: no footer to read.
        if len(counts) == 1:
            return next(iter(counts))
        return schema_fingerprint(pq.read_schema(path))

    def _schemas_path(self, entity: str) -> Path:
        return self.root / "landing" / ".schemas" / f"{entity}.json"

    def _schema_lock(self, entity: str) -> FileLock:
        """The lock of an entity's writers (and of the one-time count of an old landing)."""
        folder = self.root / "landing" / ".schemas"
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f"{entity}.lock"), timeout=600)

    def _schema_counts(self, entity: str) -> Counter[str] | None:
        """Files per schema fingerprint of an entity, or None if never recorded."""
        try:
            raw = json.loads(self._schemas_path(entity).read_text())
        except FileNotFoundError:
            return None
        return Counter({str(k): int(v) for k, v in raw["files_per_schema"].items()})

    def _save_schema_counts(self, entity: str, counts: Counter[str]) -> None:
        path = self._schemas_path(entity)
        tmp = _temp_path(str(path))
        Path(tmp).write_text(json.dumps({"files_per_schema": dict(sorted(counts.items()))}))
        os.replace(tmp, path)

    def _scan_schemas(self, entity: str) -> Counter[str]:
        """Count the schemas of an entity's files by reading every footer."""
        return Counter(
            schema_fingerprint(pq.read_schema(path))
            for path in self.landing(entity).rglob("*.parquet")
        )

    def schemas_differ(self, entity: str) -> bool:
        """Whether the entity's files differ in schema (or nobody recorded it), so DuckDB
        must read every footer and line columns up by name."""
        counts = self._schema_counts(entity)
        return counts is None or len(+counts) != 1

    def _adopt(self, entity: str) -> None:
        # A landing written before the schema counts existed: count it once, under the
        # writers' lock so no write slips between the scan and the save.
        with self._schema_lock(entity):
            if self._schema_counts(entity) is None:
                self._save_schema_counts(entity, self._scan_schemas(entity))

    def glob(self, entity: str) -> str:
        return str(self.landing(entity) / "**" / "*.parquet")

    def _read_parquet(self, entity: str) -> str:
        union = "true" if self.schemas_differ(entity) else "false"
        return (
            f"read_parquet('{self.glob(entity)}', hive_partitioning = true, "
            f"union_by_name = {union})"
        )

    def _landed(self, entity: str) -> bool:
        return any(self.landing(entity).rglob("*.parquet"))

    def ensure_views(self, specs: tuple[EntitySpec, ...] = ENTITIES) -> list[str]:
        """Create or refresh the ``raw.<entity>`` views of every landed entity.

        A view is bound to the schemas of the files when it is created: a write that brings
        a new schema must be followed by this call (the assets do it after every write)."""
        created = []
        with warehouse_write_lock(self.root), duckdb.connect(str(self.database_path)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            for spec in specs:
                if not self._landed(spec.name):
                    continue
                if self._schema_counts(spec.name) is None:
                    self._adopt(spec.name)
                con.execute(
                    f"CREATE OR REPLACE VIEW raw.{spec.name} AS SELECT * FROM "
                    f"{self._read_parquet(spec.name)}"
                )
                created.append(spec.name)
        return created

    def landing_connection(self, *entities: str) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per landed entity of ``entities``
        (every entity if none is named); it never locks. A view reads one file's footer
        while the entity's files share a schema, every file's once they differ."""
        con = duckdb.connect()
        for spec in [ENTITIES_BY_NAME[e] for e in entities] if entities else ENTITIES:
            if self._landed(spec.name):
                con.execute(
                    f"CREATE VIEW {spec.name} AS SELECT * FROM {self._read_parquet(spec.name)}"
                )
        return con
