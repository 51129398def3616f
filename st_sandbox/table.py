"""One entity's table: records by id, the (modifiedOn, id) order a page walks, and every
record's JSON cached; plus what a page request asks for (``PageQuery``)."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from st_sandbox.clock import to_us_from_ts

Record = dict[str, Any]


class CursorError(ValueError):
    """A cursor that was forged, altered or reused with other filters."""


@dataclass
class Table:
    """One entity: records by id, the (modifiedOn µs, id) order and cached JSON."""

    records: dict[int, Record]
    order: list[tuple[int, int]]
    mod_us: dict[int, int]
    json_cache: dict[int, bytes]
    next_id: int

    @classmethod
    def build(
        cls,
        rows: list[Record],
        parsed: dict[str, int] | None = None,
        int_id: bool = True,
        stamps: tuple[str, ...] = ("modifiedOn",),
    ) -> Table:
        """Index ``rows``; ``parsed`` caches stamp → µs across the tables of one tenant.

        Catalog streams without an int ``id`` are keyed by their position (an internal
        sequence number, never sent: ``int_id=False``), and ordered by the first of
        ``stamps`` a record has (by key alone when it has none)."""
        ids = [r["id"] for r in rows] if int_id else list(range(1, len(rows) + 1))
        # Generated records come with every stamp's instant known (``TenantData.stamp_us``),
        # and share their stamp strings, so most lookups find a cached hash; the rest are
        # parsed once and cached for the other tables.
        if parsed is None:
            parsed = {}
        mods = []
        for r in rows:
            stamp = r["modifiedOn"] if stamps == ("modifiedOn",) else _first(r, stamps)
            if stamp is None:
                mods.append(0)
                continue
            us = parsed.get(stamp)
            if us is None:
                us = parsed[stamp] = to_us_from_ts(stamp)
            mods.append(us)
        records = dict(zip(ids, rows, strict=True))
        top = max(records, default=0)
        if top < 1 << 32 and min(records, default=0) >= 0:
            # Sorting packed integers is about twice as fast as sorting tuples.
            packed = sorted(us << 32 | rid for us, rid in zip(mods, ids, strict=True))
            order = [(key >> 32, key & 0xFFFFFFFF) for key in packed]
        else:
            order = sorted(zip(mods, ids, strict=True))
        mod_us = dict(zip(ids, mods, strict=True))
        return cls(records, order, mod_us, {}, top + 1)

    def put(self, key: int, record: Record, us: int) -> None:
        """Add or replace the record of ``key``, modified at ``us``, in its place."""
        old = self.mod_us.get(key)
        if old is not None:
            del self.order[bisect.bisect_left(self.order, (old, key))]
        self.records[key] = record
        self.mod_us[key] = us
        bisect.insort(self.order, (us, key))
        self.json_cache.pop(key, None)
        self.next_id = max(self.next_id, key + 1)

    def drop(self, key: int) -> None:
        """Take the record of ``key`` out, if there is one."""
        old = self.mod_us.pop(key, None)
        if old is None:
            return
        del self.order[bisect.bisect_left(self.order, (old, key))]
        del self.records[key]
        self.json_cache.pop(key, None)

    def warm(self) -> None:
        """Cache every record's JSON now (the first reads would otherwise build it)."""
        for record_id in self.records:
            self.json(record_id)

    def json(self, record_id: int) -> bytes:
        """The record's JSON, cached until the record changes."""
        cached = self.json_cache.get(record_id)
        if cached is None:
            cached = orjson.dumps(self.records[record_id])
            self.json_cache[record_id] = cached
        return cached


def _first(record: Record, stamps: tuple[str, ...]) -> str | None:
    """The first of ``stamps`` a record has a value for."""
    for name in stamps:
        value = record.get(name)
        if value is not None:
            return value  # type: ignore[no-any-return]
    return None


@dataclass(frozen=True)
class PageQuery:
    """What a list request asks for, normalized; part of what the cursor signs."""

    entity: str
    modified_on_or_after: int | None
    modified_before: int | None
    active: str  # "true" | "false" | "any"
    business_unit_id: int | None
    ids: tuple[int, ...] | None
    scope: int | None  # bitmask of the user's business units; None = all
    extra: str = ""

    def fingerprint(self) -> str:
        """A short hash of the query, signed into its cursors."""
        raw = repr(
            (
                self.entity,
                self.modified_on_or_after,
                self.modified_before,
                self.active,
                self.business_unit_id,
                self.ids,
                self.scope,
                self.extra,
            )
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]
