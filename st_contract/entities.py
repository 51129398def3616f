"""The registry of streams the product lands: one ``EntitySpec`` per catalog stream
(``st_contract.catalog``, generated from the official specs), naming its session API
path, its landing model and how the warehouse partitions it. Assets, the sandbox's
tests, dbt sources and the benchmarks all iterate this one list.

The 20 core entities (``CORE_ENTITIES``) have hand-written models in
``st_contract.models``: the session API's normalized contract, with money as
``Decimal`` and statuses as enums. Their landing model adds every field their spec
defines that the core model does not name, so every field lands.
"""

from __future__ import annotations

from dataclasses import dataclass

from st_contract import models as m
from st_contract.catalog import STREAMS, Stream, landing_model

CORE_MODELS: dict[str, type[m.StModel]] = {
    "business_units": m.BusinessUnit,
    "technicians": m.Technician,
    "job_types": m.JobType,
    "tax_zones": m.TaxZone,
    "membership_types": m.MembershipType,
    "pricebook_categories": m.PricebookCategory,
    "pricebook_services": m.PricebookService,
    "pricebook_materials": m.PricebookMaterial,
    "pricebook_equipment": m.PricebookEquipment,
    "customers": m.Customer,
    "locations": m.Location,
    "contacts": m.Contact,
    "jobs": m.Job,
    "appointments": m.Appointment,
    "estimates": m.Estimate,
    "invoices": m.Invoice,
    "payments": m.Payment,
    "memberships": m.Membership,
    "recurring_service_events": m.RecurringServiceEvent,
    "installed_equipment": m.InstalledEquipment,
}
"""The core entities' hand-written models, by stream name."""


@dataclass(frozen=True)
class EntitySpec:
    """How one stream is read from the API and stored in the warehouse.

    ``name`` is the landing folder and the ``raw.<name>`` view; ``path`` is the session
    API's list endpoint (``GET {path}`` and ``GET {path}/{id}``); ``partitioned`` says
    whether the warehouse lands it in partitions of ``modifiedOn`` (streams with a
    modification cursor) or whole; ``stream`` is its catalog entry (official paths,
    key, cursor, module).
    """

    name: str
    path: str
    partitioned: bool
    stream: Stream

    @property
    def model(self) -> type[m.StModel]:
        """The model its records land with (every field its spec defines)."""
        return landing_model(self.name)

    @property
    def core(self) -> type[m.StModel] | None:
        """Its hand-written model, for the core entities."""
        return CORE_MODELS.get(self.name)

    @property
    def module(self) -> str:
        """The official API module it belongs to (``crm``, ``payroll``...)."""
        return self.stream.module


def _spec(stream: Stream) -> EntitySpec:
    return EntitySpec(stream.name, stream.session_path, stream.partitioned, stream)


STREAM_SPECS: tuple[EntitySpec, ...] = tuple(_spec(s) for s in STREAMS)
"""Every stream of the catalog."""
SPECS_BY_NAME: dict[str, EntitySpec] = {spec.name: spec for spec in STREAM_SPECS}
ENTITIES: tuple[EntitySpec, ...] = tuple(SPECS_BY_NAME[name] for name in CORE_MODELS)
"""The core entities (hand-written models; the session API's original contract)."""
ENTITIES_BY_NAME: dict[str, EntitySpec] = {spec.name: spec for spec in ENTITIES}
