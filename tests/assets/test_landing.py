"""The landing helpers: day-aligned windows and streaming days to the warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from st_assets.ingest.landing import DayWriter, day_groups, windows_for
from st_resources.arrow import arrow_schema, records_to_table
from st_resources.models import Customer

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


def test_windows_grow_with_the_range_up_to_four() -> None:
    assert [windows_for(n) for n in (1, 2, 7, 14, 30, 1096)] == [1, 1, 2, 3, 4, 4]


def test_days_are_written_as_soon_as_a_later_day_starts() -> None:
    sink = Sink()
    writer = DayWriter(_days(5), arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page((1, 0), (2, 0), (3, 1)))
    assert sink.days_written() == [D0]  # day 1 may still get rows from the next page
    writer.add(_page((4, 1), (5, 3)))
    assert sink.days_written() == _days(3)  # day 2 had no rows: written empty
    writer.close()
    assert sink.days_written() == _days(5)
    assert sink.rows() == {
        D0: [1, 2],
        _days(2)[1]: [3, 4],
        _days(3)[2]: [],
        _days(4)[3]: [5],
        _days(5)[4]: [],
    }
    assert sink.merges == []


def test_a_source_out_of_order_is_buffered_and_merged_into_days_already_written() -> None:
    sink = Sink()
    writer = DayWriter(_days(4), arrow_schema(Customer), sink.write, sink.merge)
    writer.add(_page((1, 0), (2, 2)))
    assert sink.days_written() == _days(2)
    writer.add(_page((3, 0), (4, 3)))  # day 0 again: it was written already
    writer.add(_page((5, 1)))
    writer.close()
    rows = sink.rows()
    assert rows[D0] == [1, 3] and rows[_days(2)[1]] == [5]
    assert rows[_days(3)[2]] == [2] and rows[_days(4)[3]] == [4]
    assert sink.merges == [(D0, [3]), (_days(2)[1], [5])]


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
