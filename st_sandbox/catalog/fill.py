"""Realistic values for a spec field, by its type, enum and name.

The generator fills a few dozen whole records ("variants") per stream with these, then
copies a variant for each record and sets what must differ per record (id, dates,
references): filling every field of every record would cost most of the generation
time at 100k customers, and a variant's values are as realistic as a fresh draw.
Records share a variant's nested objects, which nothing mutates in place.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from st_contract.catalog import Node
from st_sandbox import names

WORDS = [
    "Standard",
    "Premium",
    "Basic",
    "Annual",
    "Priority",
    "Residential",
    "Commercial",
    "Service",
    "Install",
    "Repair",
    "Maintenance",
    "Emergency",
    "Seasonal",
    "Filter",
    "Duct",
    "Water",
    "Heater",
    "Furnace",
    "Plumbing",
    "Electrical",
    "Inspection",
    "Warranty",
    "Tune-up",
    "Upgrade",
    "Replacement",
    "Diagnostic",
]
STATUSES = ("Active", "Pending", "Completed", "Open", "Closed")


@dataclass
class Context:
    """What filling needs besides the node: the random stream, the clock, the time span
    and the ids of the tables a reference may point at."""

    rng: random.Random
    ts: Callable[[int], str]
    start_us: int
    anchor_us: int
    ids: Callable[[str], list[int]]
    resolve: Callable[[str], str | None]

    def past_us(self) -> int:
        """A past instant, denser towards the anchor (a growing business)."""
        span = self.anchor_us - self.start_us
        return self.start_us + int(self.rng.random() ** 0.7 * span)


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _string(ctx: Context, name: str) -> str:
    rng = ctx.rng
    low = name.lower()
    if "email" in low:
        return f"{rng.choice(names.FIRST_NAMES).lower()}{rng.randrange(1, 999)}@example.com"
    if "phone" in low or low.endswith("fax"):
        return f"555{rng.randrange(1000000, 9999999)}"
    if "url" in low or "link" in low:
        return f"https://example.com/{rng.choice(WORDS).lower()}/{rng.randrange(1, 99999)}"
    if low in ("firstname",):
        return rng.choice(names.FIRST_NAMES)
    if low in ("lastname",):
        return rng.choice(names.LAST_NAMES)
    if "name" in low:
        return _words(rng, 2)
    if "color" in low:
        return f"#{rng.randrange(0, 0xFFFFFF):06x}"
    if low in ("street", "address1", "streetaddress"):
        return f"{rng.randrange(10, 9999)} {rng.choice(names.STREETS)}"
    if low == "city":
        return rng.choice(names.BRANCHES)[1]
    if low == "state":
        return rng.choice(names.BRANCHES)[2]
    if low in ("zip", "zipcode", "postalcode"):
        return f"{rng.randrange(10000, 99999)}"
    if low == "country":
        return "USA"
    if any(w in low for w in ("description", "summary", "note", "text", "comment", "memo")):
        return f"{_words(rng, 4)} for the customer"
    if "date" in low or low.endswith("edon"):
        return ctx.ts(ctx.past_us())[:10]
    if "status" in low or low.endswith("type") or low.endswith("state"):
        return rng.choice(STATUSES)
    if "code" in low or "number" in low or low.endswith("id") or low.endswith("key"):
        return f"{rng.choice(WORDS)[:3].upper()}-{rng.randrange(1000, 99999)}"
    if any(w in low for w in ("description", "summary", "note", "text", "comment", "memo")):
        return f"{_words(rng, 4)} for the customer"
    return _words(rng, 1)


def _int(ctx: Context, name: str) -> int:
    rng = ctx.rng
    low = name.lower()
    if "hour" in low:
        return rng.randrange(6, 20)
    if "minute" in low or "duration" in low or "seconds" in low:
        return rng.randrange(5, 240)
    if "year" in low:
        return rng.randrange(2015, 2026)
    if any(w in low for w in ("count", "quantity", "order", "priority", "level", "days")):
        return rng.randrange(0, 12)
    return rng.randrange(1, 1000)


def _number(ctx: Context, name: str) -> float:
    rng = ctx.rng
    low = name.lower()
    if "latitude" in low:
        return round(30 + rng.random() * 15, 6)
    if "longitude" in low:
        return round(-120 + rng.random() * 40, 6)
    if "percent" in low or "rate" in low or "markup" in low:
        return round(rng.random() * 40, 2)
    if "quantity" in low or "hours" in low:
        return float(rng.randrange(1, 40))
    return round(5 + rng.random() * 1995, 2)


def value(ctx: Context, name: str, node: Node, depth: int = 0) -> Any:
    """A realistic value of field ``name`` of type ``node`` (None only for a reference
    the tenant has nothing to point at)."""
    rng = ctx.rng
    kind = node["type"]
    enum = node.get("enum")
    if enum:  # the specs' enums do not list null, even where the field is nullable
        return rng.choice(enum)
    # No random nulls: the catalog marks a field nullable when the spec does not require
    # it, and many such fields' schemas still refuse null (a bool "verificationStatus").
    if kind == "int64":
        target = ctx.resolve(name)
        if target is not None:
            pool = ctx.ids(target)
            return rng.choice(pool) if pool else (None if node.get("nullable") else 1)
        return _int(ctx, name)
    if kind in ("decimal", "float64"):
        return _number(ctx, name)
    if kind == "string":
        return _string(ctx, name)
    if kind == "bool":
        return rng.random() < (0.9 if name in ("active", "isActive") else 0.5)
    if kind == "timestamp":
        return ctx.ts(ctx.past_us())
    if kind == "date":
        return ctx.ts(ctx.past_us())[:10]
    if kind == "json":
        return {"source": rng.choice(WORDS).lower()}
    if kind == "struct":
        return {f["name"]: value(ctx, f["name"], f, depth + 1) for f in node["fields"]}
    if kind == "list":
        item = node["items"]
        if item["type"] == "json":
            return []  # items of several possible shapes (anyOf): none rather than a guess
        if item["type"] == "int64" and "enum" not in item:
            target = ctx.resolve(name[:-1] if name.endswith("s") else name)
            pool = ctx.ids(target) if target else []
            if target is not None:
                return rng.sample(pool, min(len(pool), rng.randrange(0, 3)))
        count = rng.randrange(0, 4) if depth < 2 else rng.randrange(0, 2)
        item_name = name[:-1] if name.endswith("s") else name
        return [value(ctx, item_name, {**item, "nullable": False}, depth + 1) for _ in range(count)]
    return None


def record(ctx: Context, nodes: list[Node]) -> dict[str, Any]:
    """One whole record of the fields ``nodes``: every property present."""
    return {f["name"]: value(ctx, f["name"], f) for f in nodes}
