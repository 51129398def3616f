"""The landing helpers: day-aligned windows (cut at months for long ranges) and streaming
a window's days to the warehouse a month at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pyarrow as pa
import pytest

from st_contract.entities import ENTITIES_BY_NAME, EntitySpec
from st_contract.models import Customer
from st_resources.arrow import arrow_schema, records_to_table
from st_resources.days import DayWriter, day_groups, day_range, records_left, split_day, windows_for
from st_resources.landing import (
    DaysLanded,
    EntityLanded,
    Landed,
    Report,
    land_concurrently,
    land_days,
)
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_resources.warehouse import WarehouseResource
from st_sandbox.server import SandboxServer
from tests.helpers import read_partition

D0 = date(2026, 1, 1)


def _days(n: int) -> list[date]:
    return [D0 + timedelta(days=i) for i in range(n)]


def _page(*specs: tuple[int, int]) -> pa.Table:
    """Customers ``(id, day offset)``, modified at noon of that day."""
    records = [
        {
            "id": i,
            "name": f"c{i}",
            "active": True,
            "modifiedOn": datetime(D0.year, D0.month, D0.day, 12, tzinfo=UTC)
            + timedelta(days=offset),
        }
        for i, offset in specs
    ]
    return records_to_table(Customer, records)


class Sink:
    """What a ``DayWriter`` hands to the warehouse, in order."""

    def __init__(self) -> None:
        self.writes: list[dict[date, list[int]]] = []
        self.merges: list[tuple[date, list[int]]] = []

    def write(self, parts: dict[date, pa.Table]) -> None:
        self.writes.append({d: t["id"].to_pylist() for d, t in parts.items()})

    def merge(self, day: date, rows: pa.Table) -> None:
        self.merges.append((day, rows["id"].to_pylist()))

    def days_written(self) -> list[date]:
        return [d for w in self.writes for d in w]

    def rows(self) -> dict[date, list[int]]:
        out: dict[date, list[int]] = {}
        for w in self.writes:
            for d, ids in w.items():
                out[d] = ids
        for d, ids in self.merges:
            out[d] = out.get(d, []) + ids
        return out


def test_day_groups_cover_every_day_once_in_order() -> None:
    days = _days(10)
    groups = day_groups(days, 4)
    assert [len(g) for g in groups] == [3, 3, 2, 2]
    assert [d for g in groups for d in g] == days
    assert day_groups(days[:2], 4) == [[days[0]], [days[1]]]
    assert day_groups([], 4) == []


def test_windows_grow_with_the_range_up_to_two() -> None:
    assert [windows_for(n) for n in (1, 2, 7, 14, 30, 1096)] == [1, 1, 2, 2, 2, 2]


def test_long_ranges_are_cut_at_the_first_of_a_month() -> None:
    days = [date(2023, 11, 25) + timedelta(days=i) for i in range(1096)]
    groups = day_groups(days, 4)
    assert [d for g in groups for d in g] == days
    assert all(g[0].day == 1 for g in groups[1:])
    assert max(len(g) for g in groups) - min(len(g) for g in groups) <= 31


def test_a_month_is_written_once_a_page_reaches_a_later_month() -> None:
    sink = Sink()
    days = _days(40)  # January and nine days of February
    jan = [d for d in days if d.month == 1]
    writer = DayWriter(days, arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page((1, 0), (2, 0), (3, 30)))
    assert sink.days_written() == []  # January 31 may still get rows from the next page
    writer.add(_page((4, 30), (5, 32)))
    assert sink.days_written() == jan  # the whole month in one write, empty days included
    writer.close()
    assert sink.days_written() == days
    rows = sink.rows()
    assert rows[D0] == [1, 2] and rows[jan[-1]] == [3, 4] and rows[days[32]] == [5]
    assert sum(len(ids) for ids in rows.values()) == 5
    assert sink.merges == []


def test_a_source_out_of_order_is_buffered_and_merged_into_days_already_written() -> None:
    sink = Sink()
    days = _days(40)
    writer = DayWriter(days, arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page((1, 0), (2, 31)))
    assert sink.days_written() == [d for d in days if d.month == 1]
    writer.add(_page((3, 0), (4, 35)))  # January again: it was written already
    writer.add(_page((5, 1)))
    writer.close()
    rows = sink.rows()
    assert rows[D0] == [1, 3] and rows[days[1]] == [5]
    assert rows[days[31]] == [2] and rows[days[35]] == [4]
    assert sink.merges == [(D0, [3]), (days[1], [5])]


def test_days_within_a_month_may_come_in_any_order() -> None:
    sink = Sink()
    writer = DayWriter(_days(5), arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page((1, 3), (2, 4)))
    writer.add(_page((3, 0)))  # earlier in the month, not yet written: no merge
    writer.close()
    assert sink.merges == []
    assert sink.rows()[D0] == [3]


def test_an_empty_window_writes_every_day_empty() -> None:
    sink = Sink()
    writer = DayWriter(_days(3), arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page())
    writer.close()
    assert sink.rows() == {d: [] for d in _days(3)}


@pytest.mark.parametrize("offset", [-1, 3])
def test_rows_outside_the_window_are_not_written(offset: int) -> None:
    sink = Sink()
    writer = DayWriter(_days(3), arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page((1, offset)))
    writer.close()
    assert all(ids == [] for ids in sink.rows().values())


def test_land_concurrently_reports_days_then_the_entity_and_a_failure_does_not_hang() -> None:
    """Each entity's days come before the entity itself; an entity that raises after
    landing some days is reported with its error, and the others still finish."""
    jobs, invoices = ENTITIES_BY_NAME["jobs"], ENTITIES_BY_NAME["invoices"]

    turns: dict[str, int] = {}

    def land(spec: EntitySpec, report: Report, turn: int) -> Landed:
        turns[spec.name] = turn
        report({D0: 3})
        if spec is invoices:
            raise RuntimeError("page 2 refused")
        report({D0 + timedelta(days=1): 0})
        return Landed(records=3, partitions=2)

    items = list(land_concurrently([jobs, invoices], land))
    for spec in (jobs, invoices):
        mine = [i for i in items if i.spec is spec]
        assert isinstance(mine[-1], EntityLanded)
        assert all(isinstance(i, DaysLanded) for i in mine[:-1])
    days = {
        spec.name: {
            d: n
            for i in items
            if isinstance(i, DaysLanded) and i.spec is spec
            for d, n in i.records.items()
        }
        for spec in (jobs, invoices)
    }
    assert days == {"jobs": {D0: 3, D0 + timedelta(days=1): 0}, "invoices": {D0: 3}}
    outcomes = {i.spec.name: i.outcome for i in items if isinstance(i, EntityLanded)}
    assert isinstance(outcomes["jobs"], Landed) and outcomes["jobs"].records == 3
    assert isinstance(outcomes["invoices"], RuntimeError)
    assert turns == {"jobs": 0, "invoices": 1}


def test_split_day_halves_the_days_left_at_a_month_when_they_span_months() -> None:
    days = day_range("2026-01-01", "2026-01-10")
    assert split_day(date(2026, 1, 2), days) == date(2026, 1, 7)  # 8 left: the 5th of them
    assert split_day(date(2026, 1, 8), days) == date(2026, 1, 10)
    assert split_day(date(2026, 1, 9), days) is None  # one day left: nothing to hand over
    year = day_range("2025-01-01", "2025-12-31")
    assert split_day(date(2025, 1, 15), year) == date(2025, 7, 1)


def test_records_left_extrapolates_the_density_read_so_far() -> None:
    first = date(2026, 1, 1)
    # 100 records over 10 days read, 10 days after the last one: 100 more.
    assert records_left(100, first, date(2026, 1, 10), date(2026, 1, 21)) == 100
    assert records_left(0, first, None, date(2026, 1, 21)) == 0  # before the first page
    assert records_left(100, first, date(2026, 1, 20), date(2026, 1, 21)) == 0


def test_a_writer_gives_up_later_days_and_drops_their_buffered_rows() -> None:
    sink = Sink()
    writer = DayWriter(_days(10), arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page((1, 0), (2, 5), (3, 7)))  # one month in progress: nothing written yet
    writer.stop_before(D0 + timedelta(days=6))
    writer.add(_page((4, 5)))
    writer.close()
    assert sink.days_written() == _days(6)
    assert sink.rows()[D0] == [1] and sink.rows()[D0 + timedelta(days=5)] == [2, 4]
    with pytest.raises(ValueError, match="already written"):
        writer.stop_before(D0 + timedelta(days=2))


def test_windows_of_a_skewed_range_are_split_and_every_record_lands_once(
    sandbox_factory: Callable[..., SandboxServer],
    settings_for: Callable[..., SessionSettings],
    warehouse_dir: Path,
) -> None:
    """Most jobs are recent, so the last of the four windows holds most pages; with a
    latency per page, the threads whose windows are done take its later days over. The
    warehouse then holds every job of the range exactly once. No Dagster: a client and a
    warehouse folder."""
    server = sandbox_factory(latency_ms=15)
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    days = day_range(
        (datetime.now(UTC) - timedelta(days=400)).date().isoformat(),
        datetime.now(UTC).date().isoformat(),
    )
    settings = settings_for(server.base_url, page_size=10, rate_limit=1000)
    with SessionBackend(settings) as backend:
        landed = land_days(backend, warehouse, ENTITIES_BY_NAME["jobs"], days, datetime.now(UTC))

    dump = httpx.get(f"{server.base_url}/_sandbox/dump", params={"entity": "jobs"}).content
    cutoff = days[0].isoformat()
    expected = Counter(
        job["id"]
        for job in (orjson.loads(line) for line in dump.splitlines() if line)
        if job["modifiedOn"] >= cutoff
    )
    landed_ids: Counter[int] = Counter()
    for day in days:
        table = read_partition(warehouse, "jobs", day)
        if table is not None:
            landed_ids.update(table["id"].to_pylist())
    assert landed_ids == expected and max(landed_ids.values()) == 1
    assert landed.records == sum(expected.values())
    assert landed.windows > len(day_groups(days, windows_for(len(days))))
