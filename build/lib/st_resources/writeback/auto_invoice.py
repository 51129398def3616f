"""Auto-invoice: completed jobs with a sold estimate and no invoice get an invoice request
built from the estimate's items, the location's tax zone and the discount of the
customer's membership type.

It reads the API through the backend, not the warehouse: a job completed minutes ago
should be billed now, not after the next ingest, and only recently modified jobs are
read (a bounded window), so the cost stays small. The queue's de-duplication (one
invoice request per job) and the server's 409 ``duplicate_invoice`` make a second
pass harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from st_contract.entities import ENTITIES_BY_NAME, EntitySpec
from st_contract.models import (
    Customer,
    Estimate,
    Job,
    Location,
    MembershipSummary,
    MembershipType,
    StModel,
)
from st_resources.backend import Backend
from st_resources.reads import api_timestamp
from st_resources.writeback.payloads import Discount, InvoiceItem, InvoicePayload

IDS_PER_CALL = 50
M = TypeVar("M", bound=StModel)


def membership_discount(
    memberships: Iterable[MembershipSummary], types: dict[int, MembershipType]
) -> Decimal | None:
    """The best percent discount of the customer's active memberships, if any."""
    best = Decimal(0)
    for membership in memberships:
        mtype = types.get(membership.membership_type_id)
        if membership.status == "Active" and mtype is not None and mtype.active:
            best = max(best, mtype.discount)
    return best if best > 0 else None


def build_invoice(
    job: Job,
    estimate: Estimate,
    location: Location | None,
    memberships: Iterable[MembershipSummary],
    types: dict[int, MembershipType],
) -> InvoicePayload:
    """The invoice request for ``job`` from its sold ``estimate``."""
    items = [
        InvoiceItem(
            sku_id=item.sku.id,
            description=item.description or item.sku.display_name or item.sku.name,
            quantity=item.qty,
            unit_price=item.unit_rate,
            taxable=item.taxable,
        )
        for item in estimate.items
        if item.chargeable is not False
    ]
    discount = membership_discount(memberships, types)
    return InvoicePayload(
        job_id=job.id,
        items=items,
        discounts=[Discount(percent=discount)] if discount is not None else [],
        tax_zone_id=location.tax_zone_id if location is not None else None,
        summary=f"From sold estimate {estimate.id}",
    )


def _by_ids(
    backend: Backend, entity: str, model: type[M], ids: set[int], **params: str
) -> dict[int, M]:
    found: dict[int, M] = {}
    ordered = sorted(ids)
    spec: EntitySpec = ENTITIES_BY_NAME[entity]
    for i in range(0, len(ordered), IDS_PER_CALL):
        chunk = ",".join(str(x) for x in ordered[i : i + IDS_PER_CALL])
        for record in backend.iter_records(spec, {"ids": chunk, **params}):
            found[int(record["id"])] = model.model_validate(record)
    return found


def uninvoiced_jobs(backend: Backend, since: datetime) -> Iterator[InvoicePayload]:
    """Invoice requests for the jobs modified since ``since`` that need one."""
    recent = {"modifiedOnOrAfter": api_timestamp(since), "active": "true"}
    jobs = [
        job
        for job in (
            Job.model_validate(r) for r in backend.iter_records(ENTITIES_BY_NAME["jobs"], recent)
        )
        if job.job_status == "Completed" and job.invoice_id is None and job.estimate_ids
    ]
    if not jobs:
        return
    estimates = _by_ids(backend, "estimates", Estimate, {e for j in jobs for e in j.estimate_ids})
    sold = {
        job.id: next(
            (
                estimates[e]
                for e in job.estimate_ids
                if e in estimates and estimates[e].status.name == "Sold"
            ),
            None,
        )
        for job in jobs
    }
    jobs = [j for j in jobs if (estimate := sold[j.id]) is not None and estimate.items]
    locations = _by_ids(backend, "locations", Location, {j.location_id for j in jobs})
    customers = _by_ids(
        backend, "customers", Customer, {j.customer_id for j in jobs}, include="memberships"
    )
    types = {
        t.id: t
        for t in (
            MembershipType.model_validate(r)
            for r in backend.iter_records(ENTITIES_BY_NAME["membership_types"])
        )
    }
    for job in jobs:
        estimate = sold[job.id]
        assert estimate is not None
        customer = customers.get(job.customer_id)
        yield build_invoice(
            job,
            estimate,
            locations.get(job.location_id),
            (customer.memberships or []) if customer is not None else [],
            types,
        )
