"""The registry of entities the tenant serves: one row per entity, naming its API path,
its model and how the warehouse partitions it. Assets, the sandbox's tests, dbt sources
and the benchmarks all iterate this one list, so adding an entity is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from st_contract import models as m


@dataclass(frozen=True)
class EntitySpec:
    """How one entity is read from the API and stored in the warehouse.

    ``name`` is the landing folder and the ``raw.<name>`` view; ``path`` is the session
    API's list endpoint (``GET {path}`` and ``GET {path}/{id}``); ``partitioned`` says
    whether the warehouse lands it in daily partitions of ``modifiedOn`` (the entities
    that grow with the business) or whole (small reference sets).
    """

    name: str
    path: str
    model: type[m.StModel]
    partitioned: bool


ENTITIES: tuple[EntitySpec, ...] = (
    EntitySpec("business_units", "/business-units", m.BusinessUnit, partitioned=False),
    EntitySpec("technicians", "/technicians", m.Technician, partitioned=False),
    EntitySpec("job_types", "/job-types", m.JobType, partitioned=False),
    EntitySpec("tax_zones", "/tax-zones", m.TaxZone, partitioned=False),
    EntitySpec("membership_types", "/membership-types", m.MembershipType, partitioned=False),
    EntitySpec(
        "pricebook_categories", "/pricebook/categories", m.PricebookCategory, partitioned=False
    ),
    EntitySpec("pricebook_services", "/pricebook/services", m.PricebookService, partitioned=False),
    EntitySpec(
        "pricebook_materials", "/pricebook/materials", m.PricebookMaterial, partitioned=False
    ),
    EntitySpec(
        "pricebook_equipment", "/pricebook/equipment", m.PricebookEquipment, partitioned=False
    ),
    EntitySpec("customers", "/customers", m.Customer, partitioned=True),
    EntitySpec("locations", "/locations", m.Location, partitioned=True),
    EntitySpec("contacts", "/contacts", m.Contact, partitioned=True),
    EntitySpec("jobs", "/jobs", m.Job, partitioned=True),
    EntitySpec("appointments", "/appointments", m.Appointment, partitioned=True),
    EntitySpec("estimates", "/estimates", m.Estimate, partitioned=True),
    EntitySpec("invoices", "/invoices", m.Invoice, partitioned=True),
    EntitySpec("payments", "/payments", m.Payment, partitioned=True),
    EntitySpec("memberships", "/memberships", m.Membership, partitioned=True),
    EntitySpec(
        "recurring_service_events",
        "/recurring-service-events",
        m.RecurringServiceEvent,
        partitioned=True,
    ),
    EntitySpec("installed_equipment", "/equipment", m.InstalledEquipment, partitioned=True),
)

ENTITIES_BY_NAME: dict[str, EntitySpec] = {spec.name: spec for spec in ENTITIES}
