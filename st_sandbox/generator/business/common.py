"""What the business builders share: a random stream of their own per area, the records
of one area built once per generation, and the API's JSON numbers for money."""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Callable

from st_sandbox.clock import to_us_from_ts
from st_sandbox.generator.state import DrawRandom, GenState, Record

Tables = dict[str, list[Record]]
# One area's streams per generation: BUILDERS returns one stream per call, but an area's
# streams are drawn together (a timesheet's pay item needs its payroll), so the first call
# builds them all. Weak keys: a finished generation's plans go with its GenState.
_AREAS: weakref.WeakKeyDictionary[GenState, dict[str, Tables]] = weakref.WeakKeyDictionary()


def area(g: GenState, name: str, build: Callable[[GenState], Tables]) -> Tables:
    """The streams of area ``name`` of this generation, built on first use."""
    per_state = _AREAS.setdefault(g, {})
    if name not in per_state:
        per_state[name] = build(g)
    return per_state[name]


def side_rng(g: GenState, label: str) -> DrawRandom:
    """A random stream for one area, seeded from the generation's stream without drawing
    from it: the core records stay exactly as they were before the business areas existed,
    and one area's draws never shift another's. ``hash`` of a tuple of ints is the same in
    every process (only str hashing is salted), ``crc32`` names the area."""
    return DrawRandom((hash(g.rng.getstate()) << 32) ^ zlib.crc32(label.encode()))


def stamp_us(g: GenState, stamp: str) -> int:
    """Epoch µs of a timestamp string the generation formatted (parsed if it did not)."""
    seen = g.clock.seen
    if seen is not None:
        us = seen.get(stamp)
        if us is not None:
            return us
    return to_us_from_ts(stamp)


def num(cents: int) -> float:
    """Cents as the API's JSON number for money (``12.5`` for 1250)."""
    return cents / 100


POSTAL_FIELDS = ("street", "unit", "city", "state", "zip", "country")


def postal(address: Record) -> Record:
    """A core address (which also carries ``latitude``/``longitude``) as the catalog
    streams' address model: street, unit, city, state, zip and country only (their specs
    allow no other property), in a record of its own."""
    return {k: address.get(k) for k in POSTAL_FIELDS}


def ref(record: Record, name_key: str = "name") -> Record:
    """The ``{id, name}`` reference to a record."""
    return {"id": record["id"], "name": record[name_key]}


Builder = Callable[[GenState], list[Record]]


def streams_of(
    name: str, build: Callable[[GenState], Tables], streams: tuple[str, ...]
) -> dict[str, Builder]:
    """Registry entries for the streams of one area, each returning its part of the
    area's records (built together on the first call)."""

    def entry(stream: str) -> Builder:
        def builder(g: GenState) -> list[Record]:
            return area(g, name, build)[stream]

        builder.__doc__ = f"The ``{stream}`` records (built with the {name} area)."
        builder.__name__ = f"build_{stream}"
        return builder

    return {stream: entry(stream) for stream in streams}
