"""The landing's write path and its views: ``write_partitions`` replaces days of their month
files atomically, keeps the month's other days and names the day that failed; concurrent
writers of one month lose nothing; the views read an evolved schema by name (old months
without a new column read as NULL). Real files in a temporary folder."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from st_resources import warehouse as warehouse_module
from st_resources.warehouse import (
    LANDED_DAYS_KEY,
    PARTITION_KEY,
    PartitionWriteError,
    WarehouseResource,
    split_by_day,
)
from tests.helpers import landed_at, read_partition

DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(4)]


def _rows(ids: list[int], day: date, **extra: list[object]) -> pa.Table:
    stamp = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    columns: dict[str, pa.Array | list[object]] = {
        "id": pa.array(ids, pa.int64()),
        "modifiedOn": pa.array([stamp] * len(ids), pa.timestamp("us", tz="UTC")),
    }
    columns.update(extra)
    return pa.table(columns)


def _counts(warehouse: WarehouseResource, sql: str) -> list[tuple[object, ...]]:
    with warehouse.landing_connection("jobs") as con:
        return con.execute(sql).fetchall()


def _leftovers(warehouse: WarehouseResource) -> list[Path]:
    return [p for p in warehouse.landing("jobs").rglob("*") if p.name.endswith(".tmp")]


def test_write_partitions_replaces_days_whole_and_an_emptied_day_reads_empty(
    tmp_path: Path,
) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    first = {day: _rows([i * 10 + 1, i * 10 + 2], day) for i, day in enumerate(DAYS)}
    assert warehouse.write_partitions("jobs", first) == 4
    landed_first = landed_at(warehouse, "jobs", DAYS[2])
    # Day 0 gains a row, day 1 loses its rows (they moved to another day), the rest stay.
    second = {DAYS[0]: _rows([1, 2, 3], DAYS[0]), DAYS[1]: _rows([], DAYS[1])}
    assert warehouse.write_partitions("jobs", second) == 2
    per_day = "SELECT modified_date, count(*) FROM jobs GROUP BY 1 ORDER BY 1"
    assert _counts(warehouse, per_day) == [(DAYS[0], 3), (DAYS[2], 2), (DAYS[3], 2)]
    emptied = read_partition(warehouse, "jobs", DAYS[1])
    assert emptied is not None and emptied.num_rows == 0  # landed, with no rows
    assert read_partition(warehouse, "jobs", date(2024, 1, 9)) is None  # never landed
    # Each day keeps its own landing time, not its month file's.
    assert landed_at(warehouse, "jobs", DAYS[2]) == landed_first
    assert landed_at(warehouse, "jobs", DAYS[1]) > landed_first  # type: ignore[operator]
    assert [p.name for p in warehouse.landing("jobs").iterdir()] == ["2024-01.parquet"]
    assert _leftovers(warehouse) == []


def test_days_of_two_months_are_written_into_each_months_file(tmp_path: Path) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    days = [date(2024, 1, 31), date(2024, 2, 1)]
    warehouse.write_partitions("jobs", {day: _rows([i], day) for i, day in enumerate(days)})
    assert sorted(p.name for p in warehouse.landing("jobs").iterdir()) == [
        "2024-01.parquet",
        "2024-02.parquet",
    ]
    for i, day in enumerate(days):
        rows = read_partition(warehouse, "jobs", day)
        assert rows is not None and rows["id"].to_pylist() == [i]
        assert PARTITION_KEY not in rows.column_names


def test_write_partitions_failing_part_way_names_the_day_and_replaces_no_day(
    tmp_path: Path,
) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    days = [*DAYS, date(2024, 2, 1)]
    warehouse.write_partitions("jobs", {day: _rows([1], day) for day in days})
    # A sparse union has no Parquet type: encoding that day's month fails after the other
    # month was staged.
    unwritable = _rows([7], DAYS[2]).append_column(
        "odd", pa.UnionArray.from_sparse(pa.array([0], pa.int8()), [pa.array([1])])
    )
    parts = {DAYS[0]: _rows([5, 6], DAYS[0]), DAYS[2]: unwritable, days[4]: _rows([8], days[4])}
    with pytest.raises(PartitionWriteError, match="2024-01-03") as failure:
        warehouse.write_partitions("jobs", parts)
    assert failure.value.day == DAYS[2]
    assert _counts(warehouse, "SELECT count(*) FROM jobs") == [(5,)]  # every day still old
    assert _leftovers(warehouse) == []


def test_concurrent_writers_of_one_month_keep_each_others_days(tmp_path: Path) -> None:
    """Each writer rewrites the whole month: without the month's lock, the last rename
    would drop the days the others wrote."""
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    days = [date(2024, 3, 1) + timedelta(days=i) for i in range(12)]
    start = threading.Barrier(len(days))

    def land(i: int, day: date) -> None:
        start.wait()
        warehouse.write_partitions("jobs", {day: _rows([i], day)})

    threads = [threading.Thread(target=land, args=(i, d)) for i, d in enumerate(days)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _counts(warehouse, "SELECT count(*) FROM jobs") == [(12,)]
    assert all(landed_at(warehouse, "jobs", day) is not None for day in days)


def test_add_rows_keeps_the_days_rows_and_adds_the_late_ones(tmp_path: Path) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    warehouse.write_partitions("jobs", {day: _rows([i], day) for i, day in enumerate(DAYS)})
    warehouse.add_rows("jobs", DAYS[1], _rows([9], DAYS[1]))
    rows = read_partition(warehouse, "jobs", DAYS[1])
    assert rows is not None and rows["id"].to_pylist() == [1, 9]
    # The month stays in day order, so filters on modified_date skip row groups.
    assert _counts(warehouse, "SELECT id FROM jobs") == [(0,), (1,), (9,), (2,), (3,)]


def test_view_over_an_evolved_schema_reads_old_months_with_nulls(tmp_path: Path) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    warehouse.write_partitions("jobs", {day: _rows([i], day) for i, day in enumerate(DAYS[:3])})
    assert warehouse.ensure_views() == ["jobs"]
    # A release adds a field: only the month landed since carries it.
    february = date(2024, 2, 1)
    warehouse.write_partitions(
        "jobs", {february: _rows([9], february, priority=pa.array(["High"]))}
    )
    warehouse.ensure_views()
    sql = "SELECT id, priority FROM {} ORDER BY id"
    want = [(0, None), (1, None), (2, None), (9, "High")]
    with duckdb.connect(str(warehouse.database_path)) as con:
        assert con.execute(sql.format("raw.jobs")).fetchall() == want
    assert _counts(warehouse, sql.format("jobs")) == want
    # A day of the old month re-landed in the new schema: its month file gains the column,
    # the month's other days read it as NULL.
    warehouse.write_partitions("jobs", {DAYS[0]: _rows([0], DAYS[0], priority=pa.array(["Low"]))})
    assert _counts(warehouse, sql.format("jobs")) == [(0, "Low"), (1, None), (2, None), (9, "High")]


def test_temp_file_of_a_write_in_flight_is_not_read_by_the_views(tmp_path: Path) -> None:
    """Bug: temporary files were named ``.tmp-*.parquet`` and the views' ``*.parquet``
    glob read them, so a reader during a write (or after a crash) saw rows twice."""
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    warehouse.write_partitions("jobs", {DAYS[0]: _rows([1, 2], DAYS[0])})
    month = warehouse.month_path("jobs", DAYS[0])
    in_flight = warehouse_module._temp_path(str(month))
    pq.write_table(pq.read_table(month), in_flight)
    assert _counts(warehouse, "SELECT count(*) FROM jobs") == [(2,)]


def test_month_file_footer_lists_the_landed_days(tmp_path: Path) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    assert warehouse.write_partitions("jobs", {DAYS[0]: _rows([1], DAYS[0])}) == 1
    metadata = pq.read_schema(warehouse.month_path("jobs", DAYS[0])).metadata
    assert list(json.loads(metadata[LANDED_DAYS_KEY])) == ["2024-01-01"]


def test_split_by_day_keeps_row_order_gives_empty_days_and_ignores_days_not_asked() -> None:
    days = [date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 4)]  # 2024-01-02 not asked
    stamps = [
        datetime(2024, 1, d, h, tzinfo=UTC) for d, h in [(3, 9), (1, 5), (2, 1), (3, 1), (5, 0)]
    ]
    table = pa.table(
        {"id": [30, 10, 20, 31, 50], "modifiedOn": pa.array(stamps, pa.timestamp("us", tz="UTC"))}
    )
    got = split_by_day(table, days)
    assert list(got) == days
    assert {d: t["id"].to_pylist() for d, t in got.items()} == {
        days[0]: [10],
        days[1]: [30, 31],  # input order, not time order, within a day
        days[2]: [],
    }
    assert all(t.schema == table.schema for t in got.values())
