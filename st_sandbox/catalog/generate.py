"""Records of every non-core catalog stream, in the official v2 item shape, generated after
the core builders over the same tenant (``st_sandbox.generate`` calls ``build_catalog``).

First the realistic builders of ``st_sandbox.generator.business.BUILDERS`` (in their
insertion order), whose records get any spec property they left out; then every other
stream, generically from its spec fields (``fill.py``), each after the streams it refers
to (``refs.generation_order``). Every record carries every property its spec lists;
references point at records that exist; ``createdOn``/``modifiedOn`` fall in the history,
denser towards the anchor, never after it.

Each stream draws from its own random stream, seeded from one draw of the tenant's, so the
data is deterministic from the seed and a stream's records do not change when another
stream's builder does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from st_contract.catalog import STREAMS_BY_NAME, Node, fields
from st_sandbox.catalog import fill
from st_sandbox.catalog.refs import (
    PER_CUSTOMER,
    anchor,
    generation_order,
    is_transactional,
    references,
    resolve,
)
from st_sandbox.catalog.streams import SERVED, layout
from st_sandbox.clock import to_us_from_ts
from st_sandbox.generator.business import BUILDERS
from st_sandbox.generator.state import DrawRandom, GenState, Record

VARIANTS = 40  # whole records filled per stream; each record copies one
SERVED_NAMES = frozenset(s.name for s in SERVED)


class CatalogBuilder:
    """Builds the catalog streams' tables into ``g.tables``."""

    def __init__(self, g: GenState) -> None:
        self.g = g
        # One draw from the tenant's stream seeds every catalog stream's own stream.
        self.base = g.rng.getrandbits(64)
        self._ids: dict[str, list[int]] = {}

    def ids(self, table: str) -> list[int]:
        """The ids of a table built so far (empty if it is not built yet)."""
        cached = self._ids.get(table)
        if cached is None:
            rows = self.g.tables.get(table)
            if rows is None:
                return []
            cached = self._ids[table] = [r["id"] for r in rows if isinstance(r.get("id"), int)]
        return cached

    def context(self, name: str) -> fill.Context:
        """The fill context of one stream, with its own random stream."""
        g = self.g
        rng = DrawRandom(f"{self.base}:{name}")
        return fill.Context(
            rng, g.ts, g.start_us, g.anchor_us, self.ids, lambda f: resolve(name, f)
        )

    def size(self, name: str, ctx: fill.Context) -> int:
        """How many records a stream gets: a few to a few dozen for reference sets, a
        modest ratio of what it hangs off for transactional streams."""
        stream = STREAMS_BY_NAME[name]
        if stream.read == "unpaged" and stream.items_key == "":
            return 1  # one settings object
        hang = anchor(name) if is_transactional(name) else None
        if hang is not None:
            return max(3, int(len(self.g.tables.get(hang[1], ())) * hang[2]))
        if is_transactional(name):
            return max(5, int(self.g.n_customers * PER_CUSTOMER))
        if name.endswith("custom_fields"):
            return ctx.rng.randrange(2, 9)
        return ctx.rng.randrange(3, 31)

    def build(self) -> None:
        """Every non-core stream: the business builders first, then the generic ones."""
        for name, builder in BUILDERS.items():
            if name in SERVED_NAMES:
                self.complete(name, builder(self.g))
        rest = [s.name for s in SERVED if s.name not in BUILDERS]
        for name in generation_order(rest):
            self.generic(name)

    def complete(self, name: str, rows: list[Record]) -> None:
        """Store a business builder's records, filling every property it left out."""
        nodes = fields(name)
        names = [node["name"] for node in nodes]
        every = frozenset(names)
        variants: list[Record] = []  # filled on first need: most builders leave nothing out
        if layout(name).int_id:
            next_id = 1 + max((r["id"] for r in rows if isinstance(r.get("id"), int)), default=0)
            for row in rows:
                if not isinstance(row.get("id"), int):
                    row["id"] = next_id
                    next_id += 1
        for i, row in enumerate(rows):
            if row.keys() >= every:
                continue
            if not variants:
                ctx = self.context(name)
                variants = [fill.record(ctx, nodes) for _ in range(min(len(rows), VARIANTS))]
            variant = variants[i % len(variants)]
            for key in names:
                if key not in row:
                    row[key] = variant[key]
        self.g.tables[name] = rows

    def generic(self, name: str) -> None:
        """A stream's records from its spec fields."""
        g = self.g
        ctx = self.context(name)
        rng = ctx.rng
        nodes = fields(name)
        top = {f["name"]: f for f in nodes}
        n = self.size(name, ctx)
        variants = [fill.record(ctx, nodes) for _ in range(min(n, VARIANTS))]
        refs = self._ref_pools(name)
        hang = anchor(name) if is_transactional(name) else None
        parents: list[Record] = g.tables[hang[1]] if hang else []
        # Fields a record takes from the record it hangs off, so they agree with it.
        inherit = (
            [f for f in ("customerId", "locationId", "businessUnitId", "jobId") if f in top]
            if parents
            else []
        )
        lay = layout(name)
        stamps = [f for f in ("createdOn", "modifiedOn") if f in top]
        moments = [
            f
            for f, node in top.items()
            if node["type"] in ("timestamp", "date") and not node["nullable"] and f not in stamps
        ]
        string_id = "id" in top and not lay.int_id
        tag = "".join(part[:1] for part in name.split("_")).upper()
        ts, lo0, hi = g.ts, g.start_us, g.anchor_us
        seen = g.clock.seen or {}
        rows: list[Record] = []
        for i in range(n):
            rec = dict(variants[rng.randrange(len(variants))])
            lo = lo0
            if parents:
                parent = rng.choice(parents)
                for f in inherit:
                    if f in parent:
                        rec[f] = parent[f]
                if hang is not None:
                    rec[hang[0]] = parent["id"]
                created = parent.get("createdOn")
                if created:
                    lo = seen.get(created) or to_us_from_ts(created)
            for f, pool in refs:
                if f in inherit or (hang is not None and f == hang[0]):
                    continue
                if isinstance(rec.get(f), list):
                    rec[f] = [rng.choice(pool)] if pool else []
                elif rec.get(f) is not None or not top[f]["nullable"]:
                    rec[f] = rng.choice(pool)
            created_us = lo + int(rng.random() ** 0.7 * max(hi - lo, 0))
            modified_us = created_us + int(rng.random() ** 4 * (hi - created_us))
            if stamps:
                rec["createdOn" if "createdOn" in top else "modifiedOn"] = ts(created_us)
                if "modifiedOn" in top:
                    rec["modifiedOn"] = ts(modified_us)
            if moments:
                moment = ts(created_us)
                for f in moments:
                    rec[f] = moment if top[f]["type"] == "timestamp" else moment[:10]
            if lay.int_id:
                rec["id"] = i + 1
            elif string_id:
                rec["id"] = f"{tag}-{i + 1:07d}"
            rows.append(rec)
        g.tables[name] = rows

    def _ref_pools(self, name: str) -> list[tuple[str, list[int]]]:
        """Each top-level reference of a stream with the ids it may take (non-empty)."""
        pools = []
        for field, table in references(name).items():
            pool = self.ids(table)
            if pool:
                pools.append((field, pool))
        return pools


def build_catalog(g: GenState) -> None:
    """Generate every non-core catalog stream into ``g.tables``."""
    CatalogBuilder(g).build()


def missing_properties(name: str, record: dict[str, Any]) -> list[str]:
    """The spec properties of a stream a record lacks, nested ones as ``a.b`` paths."""
    return _missing(fields(name), record, "")


def _missing(nodes: list[Node], record: dict[str, Any], path: str) -> list[str]:
    out = []
    for node in nodes:
        key = node["name"]
        if key not in record:
            out.append(path + key)
            continue
        inner = record[key]
        if node["type"] == "struct" and isinstance(inner, dict):
            out += _missing(node["fields"], inner, f"{path}{key}.")
        elif node["type"] == "list" and node["items"]["type"] == "struct":
            for item in inner or []:
                out += _missing(node["items"]["fields"], item, f"{path}{key}[].")
    return out


Builder = Callable[[GenState], list[Record]]
