"""Realistic builders of the non-core streams, by area: payroll and timesheets,
marketing, calls, leads and bookings, inventory, tags and custom-field types; and the
streams the core routes serve, whose records are the core's (``served.py``).

``BUILDERS`` maps a stream to the function returning its records in the official v2
item shape; the generator calls them in insertion order after the core builders, on the
same ``GenState``. An area's streams are built together on the first call (common.area),
from a random stream of the area's own (common.side_rng) that leaves the generation's
stream, and so the core records, as they were. Properties a builder leaves out are filled by the generic filler.
"""

from __future__ import annotations

from st_sandbox.generator.business import inventory, marketing, payroll, served, tags, telecom
from st_sandbox.generator.business.common import Builder

BUILDERS: dict[str, Builder] = {
    "settings_tag_types": tags.build_tag_types,
    "crm_customers_custom_fields": tags.build_customer_field_types,
    "crm_locations_custom_fields": tags.build_location_field_types,
    "jpm_jobs_custom_fields": tags.build_job_field_types,
    **marketing.BUILDERS,
    **telecom.BUILDERS,
    **payroll.BUILDERS,
    **inventory.BUILDERS,
    **served.BUILDERS,
}
