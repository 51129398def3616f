"""The landing's write path and its views: ``write_partitions`` replaces days atomically and
names the day that failed, and the views read one schema cheaply and an evolved schema by
name (old files without a new column read as NULL). Real files in a temporary folder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from st_resources import warehouse as warehouse_module
from st_resources.warehouse import PartitionWriteError, WarehouseResource, split_by_day

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
    # Day 0 gains a row, day 1 loses its rows (they moved to another day), the rest stay.
    second = {DAYS[0]: _rows([1, 2, 3], DAYS[0]), DAYS[1]: _rows([], DAYS[1])}
    assert warehouse.write_partitions("jobs", second) == 2
    per_day = "SELECT modified_date, count(*) FROM jobs GROUP BY 1 ORDER BY 1"
    assert _counts(warehouse, per_day) == [(DAYS[0], 3), (DAYS[2], 2), (DAYS[3], 2)]
    assert warehouse.partition_path("jobs", DAYS[1]).exists()  # today_is_fresh looks for it
    assert pq.read_table(warehouse.partition_path("jobs", DAYS[1])).num_rows == 0
    assert _leftovers(warehouse) == []
    assert not warehouse.schemas_differ("jobs")


def test_write_partitions_failing_part_way_names_the_day_and_replaces_no_day(
    tmp_path: Path,
) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    warehouse.write_partitions("jobs", {day: _rows([1], day) for day in DAYS})
    # A sparse union has no Parquet type: encoding that day fails after others were staged.
    unwritable = _rows([7], DAYS[2]).append_column(
        "odd", pa.UnionArray.from_sparse(pa.array([0], pa.int8()), [pa.array([1])])
    )
    parts = {DAYS[0]: _rows([5, 6], DAYS[0]), DAYS[2]: unwritable, DAYS[3]: _rows([8], DAYS[3])}
    with pytest.raises(PartitionWriteError, match="2024-01-03") as failure:
        warehouse.write_partitions("jobs", parts)
    assert failure.value.day == DAYS[2]
    assert _counts(warehouse, "SELECT count(*) FROM jobs") == [(4,)]  # every day still old
    assert _leftovers(warehouse) == []
    assert not warehouse.schemas_differ("jobs")


def test_view_over_an_evolved_schema_reads_old_files_with_nulls(tmp_path: Path) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    warehouse.write_partitions("jobs", {day: _rows([i], day) for i, day in enumerate(DAYS[:3])})
    assert warehouse.ensure_views() == ["jobs"]
    assert not warehouse.schemas_differ("jobs")
    # A release adds a field: only the day re-landed since carries it.
    newer = _rows([9], DAYS[3], priority=pa.array(["High"]))
    warehouse.write_partitions("jobs", {DAYS[3]: newer})
    assert warehouse.schemas_differ("jobs")
    warehouse.ensure_views()
    sql = "SELECT id, priority FROM {} ORDER BY id"
    want = [(0, None), (1, None), (2, None), (9, "High")]
    with duckdb.connect(str(warehouse.database_path)) as con:
        assert con.execute(sql.format("raw.jobs")).fetchall() == want
    assert _counts(warehouse, sql.format("jobs")) == want
    # Every old day re-landed in the new schema: one schema again, read without unions.
    warehouse.write_partitions(
        "jobs", {day: _rows([i], day, priority=pa.array(["Low"])) for i, day in enumerate(DAYS)}
    )
    assert not warehouse.schemas_differ("jobs")
    assert _counts(warehouse, "SELECT count(priority) FROM jobs") == [(4,)]


def test_a_landing_from_before_schema_counts_is_adopted_by_ensure_views(tmp_path: Path) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    for day in DAYS[:2]:  # written the old way: no counts beside the files
        path = warehouse.partition_path("jobs", day)
        path.parent.mkdir(parents=True)
        pq.write_table(_rows([1], day), path)
    assert warehouse.schemas_differ("jobs")  # unknown: read by name
    warehouse.ensure_views()
    assert not warehouse.schemas_differ("jobs")
    # The writer's fingerprint of a table matches the one read back from its file.
    warehouse.write_partitions("jobs", {DAYS[2]: _rows([3], DAYS[2])})
    assert not warehouse.schemas_differ("jobs")
    assert _counts(warehouse, "SELECT count(*) FROM jobs") == [(3,)]


def test_temp_file_of_a_write_in_flight_is_not_read_by_the_views(tmp_path: Path) -> None:
    """Bug: temporary files were named ``.tmp-*.parquet`` and the views' ``**/*.parquet``
    glob read them, so a reader during a write (or after a crash) saw rows twice."""
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    warehouse.write_partition("jobs", DAYS[0], _rows([1, 2], DAYS[0]))
    in_flight = warehouse_module._temp_path(warehouse.partition_path("jobs", DAYS[0]))
    pq.write_table(_rows([1, 2], DAYS[0]), in_flight)
    assert _counts(warehouse, "SELECT count(*) FROM jobs") == [(2,)]


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
