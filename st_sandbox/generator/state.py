"""What the builders of one generation share: the random stream, the clock, the tables
built so far and the lookups later builders need (a customer's locations, a business
unit's technicians, the technicians' booked slots...)."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from st_sandbox import names
from st_sandbox.clock import US_PER_DAY, Clock, to_us
from st_sandbox.money import to_cents

Record = dict[str, Any]
ADMIN_USER_ID = 1
# Appointment slots in UTC hours (start, length): two-hour visits, four a day per technician.
SLOTS: tuple[tuple[int, int], ...] = ((14, 2), (16, 2), (18, 2), (20, 2))
# The free slots of each busy-bitmask, so finding one is a lookup.
_FREE_SLOTS = [
    tuple(s for s in range(len(SLOTS)) if not mask >> s & 1) for mask in range(1 << len(SLOTS))
]
# A pricebook item as the job builder draws it: (id, name, price in cents, taxable).
Sku = tuple[int, str, int, bool]


class DrawRandom(random.Random):
    """``random.Random`` with a lean ``randrange(lo, hi)``: CPython's draws
    ``lo + _randbelow(hi - lo)`` after argument checks that cost more than the draw, and
    the generator makes 1.8M such draws at 100k customers. The numbers are the same."""

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        """A random int in ``[start, stop)``, as ``random.Random.randrange`` draws it."""
        if stop is None or step != 1 or stop <= start:
            return super().randrange(start, stop, step)
        return start + self._randbelow(stop - start)  # type: ignore[attr-defined,no-any-return]


def money(value: Decimal) -> str:
    """A decimal amount as the API's two-decimal string."""
    return format(to_cents(value), "f")


class GenState:
    """The random stream, the clock and the cross-references of one generation."""

    def __init__(self, seed: int, customers: int, anchor: datetime, history_days: int) -> None:
        if not 1 <= customers <= 1_000_000:
            raise ValueError("customers must be between 1 and 1,000,000")
        self.seed = seed
        self.rng = DrawRandom(seed)
        self.n_customers = customers
        self.anchor = anchor.astimezone(UTC)
        self.anchor_us = to_us(self.anchor)
        self.start_us = self.anchor_us - history_days * US_PER_DAY
        self.clock = Clock(record=True)
        # Called for every timestamp of every record, and two calls in three repeat an
        # instant already formatted (a record's createdOn in its items, hour-aligned
        # appointment windows): a C-level memo skips the formatting and lets those records
        # share one string object, which also saves memory.
        self.ts: Callable[[int], str] = functools.lru_cache(maxsize=None)(self.clock.fmt)
        self.tables: dict[str, list[Record]] = {}
        self.busy: dict[tuple[int, int], int] = {}  # (technician, day) -> bitmask of slots
        # Reference sets (st_sandbox/generator/reference.py, pricebook.py).
        self.tax_rates: dict[int, Decimal] = {}
        self.bu_trade: dict[int, str] = {}
        self.bu_ids: list[int] = []
        self.job_types_by_trade: dict[str, list[tuple[int, str, str]]] = {}
        self.techs_by_bu: dict[int, list[int]] = {}
        self.tech_names: dict[int, str] = {}
        self.mtype_discount: dict[int, tuple[int, int]] = {}
        self.skus: dict[str, list[Sku]] = {}
        self.equipment_skus: list[tuple[int, str, str, str, int]] = []
        # Customers and memberships (customers.py, memberships.py).
        self.cust_locations: dict[int, list[int]] = {}
        self.location_zone: dict[int, int] = {}
        self.cust_created: dict[int, int] = {}
        self.cust_active: dict[int, bool] = {}
        self.cust_name: dict[int, str] = {}
        self.loc_name: dict[int, str] = {}
        self.cust_membership: dict[int, tuple[int, int]] = {}  # customer -> (membership, type)
        self.cust_balance: dict[int, int] = {}  # cents, from the invoices (jobs.py)

    def past_us(self, lo_us: int | None = None, recent_bias: bool = True) -> int:
        """A random instant between ``lo_us`` (default: the start of history) and the anchor,
        denser towards the present the way a growing business is."""
        lo = self.start_us if lo_us is None else lo_us
        span = self.anchor_us - lo
        if span <= 0:
            return self.anchor_us
        u = self.rng.random()
        if recent_bias:
            u = u**0.7
        return lo + int(u * span)

    def address(self, city: str | None = None, state: str | None = None) -> Record:
        """A street address in ``city`` (default: a random branch's area)."""
        rng = self.rng
        if city is None or state is None:
            _, city, state = rng.choice(names.BRANCHES)
            city = rng.choice(names.CITIES.get(city, [city]))
        return {
            "street": f"{rng.randrange(10, 9999)} {rng.choice(names.STREETS)}",
            "unit": None,
            "city": city,
            "state": state,
            "zip": f"{rng.randrange(10000, 99999)}",
            "country": "USA",
            "latitude": round(30 + rng.random() * 15, 6),
            "longitude": round(-120 + rng.random() * 40, 6),
        }

    def find_slot(self, bu: int, day: int, want: int) -> tuple[int, list[int]] | None:
        """A free slot on ``day`` and ``want`` technicians of ``bu`` free in it."""
        techs = self.techs_by_bu[bu]
        choice = self.rng.choice
        busy = self.busy
        for _ in range(4):
            first = choice(techs)
            key = (first, day)
            mask = busy.get(key, 0)
            free = _FREE_SLOTS[mask]
            if not free:
                continue
            slot = choice(free)
            bit = 1 << slot
            busy[key] = mask | bit
            chosen = [first]
            if want > 1:
                for other in techs:
                    if other != first:
                        other_key = (other, day)
                        other_mask = busy.get(other_key, 0)
                        if not other_mask & bit:
                            busy[other_key] = other_mask | bit
                            chosen.append(other)
                            break
            return slot, chosen
        return None
