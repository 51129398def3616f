"""Realistic builders of non-core catalog streams (payroll, telecom, marketing, crm leads
and bookings, inventory...), by stream name.

``st_sandbox.catalog.generate`` calls each builder here, in this dict's insertion order and
before the generic streams (so those can reference the builders' ids), stores its records
as the stream's table and fills every spec property a builder left out. A builder returns
records in the official v2 item shape (camelCase, ISO-8601 ``...Z`` timestamps); ids it
gives must be unique ints where the stream is keyed by ``id``.
"""

from __future__ import annotations

from collections.abc import Callable

from st_sandbox.generator.state import GenState, Record

BUILDERS: dict[str, Callable[[GenState], list[Record]]] = {}
