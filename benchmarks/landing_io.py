"""What landing one entity's backfill costs on disk and in DuckDB, old code against new.

    python -m benchmarks.landing_io --rows 30000 300000 --repeat 3

A three-year backfill is 1,096 daily partitions per entity. The code before the landing-io
change (kept below) wrote one Parquet file per day; the warehouse module now writes one per
month (37 files). For N synthetic rows of one entity (default ``invoices``, the widest
schema: real sandbox records resampled, ``modifiedOn`` spread over 1,096 days) this times,
for both:

- ``split``: ``split_by_day`` of the whole table into its days;
- ``write``: ``write_partitions`` of every day into an empty landing;
- ``views``: ``ensure_views`` of that entity (``raw.<entity>`` in ``warehouse.duckdb``);
- ``connection``: ``landing_connection`` of that entity (what every asset check opens).

Old and new alternate within each repetition; medians of wall seconds (and of this process's
CPU seconds, which other load on a shared machine disturbs less) are printed. 30k rows are
the biggest entities of a 10k-customer tenant, 300k of a 100k one.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from st_contract.entities import ENTITIES_BY_NAME
from st_resources.arrow import records_to_table
from st_resources.warehouse import WarehouseResource, split_by_day
from st_sandbox.generate import generate

HISTORY_DAYS = 1096
FIRST_DAY = date(2023, 6, 1)
STEPS = ("split", "write", "views", "connection")


def synthetic_table(entity: str, rows: int, seed: int = 7) -> tuple[pa.Table, list[date]]:
    """``rows`` records of ``entity`` (a small sandbox tenant's records, resampled) with
    ``modifiedOn`` spread uniformly over ``HISTORY_DAYS`` days; and those days."""
    spec = ENTITIES_BY_NAME[entity]
    data = generate(seed, 1000, datetime(2026, 6, 1, tzinfo=UTC))
    base = records_to_table(spec.model, data.tables[entity])
    rng = random.Random(seed)
    table = base.take(pa.array([rng.randrange(base.num_rows) for _ in range(rows)]))
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    seconds = HISTORY_DAYS * 86400
    stamps = pa.array(
        [start + timedelta(seconds=rng.randrange(seconds)) for _ in range(rows)],
        pa.timestamp("us", tz="UTC"),
    )
    index = table.schema.get_field_index("modifiedOn")
    table = table.set_column(index, table.schema.field(index), stamps)
    return table, [FIRST_DAY + timedelta(days=d) for d in range(HISTORY_DAYS)]


# The code before this change (st_resources/warehouse.py at 1de16b8), for the comparison.


def old_write_parquet_atomic(table: pa.Table, target: Path) -> None:
    """One file: mkdir, mkstemp, write_table with dictionaries, rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="snappy")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def old_split_by_day(table: pa.Table, days: list[date]) -> dict[date, pa.Table]:
    """One sort, then a ``take`` per day."""
    empty = table.slice(0, 0)
    out: dict[date, pa.Table] = dict.fromkeys(days, empty)
    if table.num_rows == 0:
        return out
    day_column = pc.cast(pc.cast(table["modifiedOn"], pa.timestamp("us")), pa.date32())
    order = pc.sort_indices(day_column)
    runs = pc.run_end_encode(day_column.take(order)).chunk(0)
    ends = runs.run_ends.to_pylist()
    starts = [0, *ends[:-1]]
    wanted = set(days)
    for day, start, end in zip(runs.values.to_pylist(), starts, ends, strict=True):
        if day in wanted:
            out[day] = table.take(order.slice(start, end - start))
    return out


def old_write_partitions(
    warehouse: WarehouseResource, entity: str, parts: dict[date, pa.Table]
) -> int:
    """A plain loop of atomic single-file writes."""
    for day, table in parts.items():
        old_write_parquet_atomic(table, _old_day_path(warehouse, entity, day))
    return len(parts)


def _old_day_path(warehouse: WarehouseResource, entity: str, day: date) -> Path:
    return warehouse.landing(entity) / f"modified_date={day.isoformat()}" / "data.parquet"


def _old_read_parquet(warehouse: WarehouseResource, entity: str) -> str:
    glob = warehouse.landing(entity) / "**" / "*.parquet"
    return f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"


def old_ensure_views(warehouse: WarehouseResource, entity: str) -> None:
    """``raw.<entity>`` over every file, reading every footer (``union_by_name``)."""
    with duckdb.connect(str(warehouse.database_path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.execute(
            f"CREATE OR REPLACE VIEW raw.{entity} AS SELECT * FROM "
            f"{_old_read_parquet(warehouse, entity)}"
        )


def old_landing_connection(warehouse: WarehouseResource, entity: str) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the entity's view, reading every footer."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW {entity} AS SELECT * FROM {_old_read_parquet(warehouse, entity)}")
    return con


class _Clock:
    """Wall and CPU seconds of consecutive steps."""

    def __init__(self) -> None:
        self.times: dict[str, tuple[float, float]] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, step: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.times[step] = (wall - self._wall, cpu - self._cpu)
        self._wall, self._cpu = wall, cpu


def one_run(
    variant: str, entity: str, table: pa.Table, days: list[date], work: Path
) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each step for ``variant`` (``old`` or ``new``) in a fresh
    warehouse folder; checks that every row in range landed."""
    root = work / variant
    shutil.rmtree(root, ignore_errors=True)
    warehouse = WarehouseResource(warehouse_dir=str(root))
    clock = _Clock()
    if variant == "old":
        parts = old_split_by_day(table, days)
        clock.lap("split")
        old_write_partitions(warehouse, entity, parts)
        clock.lap("write")
        old_ensure_views(warehouse, entity)
        clock.lap("views")
        con = old_landing_connection(warehouse, entity)
        clock.lap("connection")
    else:
        parts = split_by_day(table, days)
        clock.lap("split")
        warehouse.write_partitions(entity, parts)
        clock.lap("write")
        warehouse.ensure_views((ENTITIES_BY_NAME[entity],))
        clock.lap("views")
        con = warehouse.landing_connection(entity)
        clock.lap("connection")
    with con:
        row = con.execute(f"SELECT count(*) FROM {entity}").fetchone()
    in_range = sum(t.num_rows for t in parts.values())
    if row is None or row[0] != in_range:
        raise AssertionError(f"{variant}: {row} rows landed, {in_range} expected")
    return clock.times


def _median(runs: list[dict[str, tuple[float, float]]], step: str, i: int) -> float:
    steps = STEPS if step == "total" else (step,)
    return statistics.median(sum(run[s][i] for s in steps) for run in runs)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.landing_io``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[30_000, 300_000])
    parser.add_argument("--entity", default="invoices", choices=sorted(ENTITIES_BY_NAME))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="landing-io-"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    try:
        for rows in args.rows:
            table, days = synthetic_table(args.entity, rows)
            runs: dict[str, list[dict[str, tuple[float, float]]]] = {"old": [], "new": []}
            for _ in range(args.repeat):
                for variant in ("old", "new"):
                    runs[variant].append(one_run(variant, args.entity, table, days, work))
            print(
                f"\n{args.entity}: {rows:,} rows over {len(days):,} days, "
                f"median of {args.repeat} (wall s / CPU s)"
            )
            print(f"{'step':<11} {'old':>15} {'new':>15} {'old/new wall':>13}")
            for step in (*STEPS, "total"):
                old_w, new_w = _median(runs["old"], step, 0), _median(runs["new"], step, 0)
                old_c, new_c = _median(runs["old"], step, 1), _median(runs["new"], step, 1)
                print(
                    f"{step:<11} {old_w:7.3f} / {old_c:5.2f} {new_w:7.3f} / {new_c:5.2f} "
                    f"{old_w / max(new_w, 1e-9):12.1f}x"
                )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (a shared machine if above 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
