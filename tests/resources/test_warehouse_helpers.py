"""Warehouse helpers on the backfill's hot path: ``split_by_day`` (one sort and a slice
per day give what a filter per day gives) and ``landing_connection`` for named entities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from st_resources.warehouse import WarehouseResource, split_by_day


def _filter_per_day(table: pa.Table, days: list[date]) -> dict[date, pa.Table]:
    day_column = pc.cast(pc.cast(table["modifiedOn"], pa.timestamp("us")), pa.date32())
    return {d: table.filter(pc.equal(day_column, pa.scalar(d, pa.date32()))) for d in days}


def test_split_by_day_matches_a_filter_per_day_keeping_row_order_nulls_and_strays_out() -> None:
    base = datetime(2024, 1, 1, 23, 59, tzinfo=UTC)
    stamps = [base + timedelta(hours=(i * 37) % 200) for i in range(300)]
    stamps[5] = None  # type: ignore[call-overload]
    table = pa.table(
        {"id": list(range(300)), "modifiedOn": pa.array(stamps, pa.timestamp("us", tz="UTC"))}
    )
    table = pa.concat_tables([table.slice(0, 120), table.slice(120)])  # two chunks
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(-1, 6)]  # strays after
    got = split_by_day(table, days)
    want = _filter_per_day(table, days)
    assert list(got) == days
    for day in days:
        assert got[day].equals(want[day]), day
    assert got[date(2023, 12, 31)].num_rows == 0
    assert got[date(2023, 12, 31)].schema == table.schema
    assert sum(t.num_rows for t in got.values()) < 299  # days past the range are left out


def test_split_by_day_of_no_rows_gives_every_day_an_empty_table() -> None:
    table = pa.table({"modifiedOn": pa.array([], pa.timestamp("us", tz="UTC"))})
    got = split_by_day(table, [date(2024, 1, 1), date(2024, 1, 2)])
    assert [t.num_rows for t in got.values()] == [0, 0]


def test_landing_connection_of_named_entities_has_only_their_views(tmp_path: Path) -> None:
    warehouse = WarehouseResource(warehouse_dir=str(tmp_path))
    for entity in ("customers", "jobs", "invoices"):
        table = pa.table({"id": [1, 2], "modifiedOn": pa.array([None, None], pa.timestamp("us"))})
        warehouse.write_partitions(entity, {date(2024, 1, 1): table})
    tables = "SELECT table_name FROM information_schema.tables ORDER BY 1"
    with warehouse.landing_connection("jobs", "payments") as con:  # payments: not landed
        assert con.execute(tables).fetchall() == [("jobs",)]
        assert con.execute("SELECT count(*) FROM jobs").fetchone() == (2,)
    with warehouse.landing_connection() as con:
        assert [r[0] for r in con.execute(tables).fetchall()] == ["customers", "invoices", "jobs"]
