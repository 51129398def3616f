"""Catalog streams the core routes already serve (``catalog.streams.CORE_ROUTED``): their
records are the core's own, not generated ones, so the session route, the dump and the
official paths answer the same records.

- ``dispatch_appointment_assignments``: the assignments of the core appointments, the very
  records ``v2/dispatch.py`` lists and exports (the same dicts, nested in the appointments;
  the store keeps the table in step with every write: ``TenantStore._sync_views``).
- ``reporting_report_categories``: the categories of the sandbox's reports
  (``st_sandbox/reports.py``), as ``v2/reporting.py`` serves them.
"""

from __future__ import annotations

from collections.abc import Iterable

from st_sandbox.generator.state import GenState, Record
from st_sandbox.reports import category_records


def nested_records(parents: Iterable[Record], field: str) -> list[Record]:
    """The records nested under ``field`` of every parent, in the parents' order."""
    return [child for parent in parents for child in parent[field]]


def build_appointment_assignments(g: GenState) -> list[Record]:
    """The core appointments' assignments (the same dicts)."""
    return nested_records(g.tables["appointments"], "assignments")


def build_report_categories(g: GenState) -> list[Record]:
    """The report categories, as the Reporting API's routes list them."""
    return category_records()


BUILDERS = {
    "dispatch_appointment_assignments": build_appointment_assignments,
    "reporting_report_categories": build_report_categories,
}
