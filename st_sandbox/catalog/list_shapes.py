"""Streams whose numbered list answers another model than their export: a shaping hook
per stream (``LIST_SHAPES``) that the generic list route (``routes_v2.py``) applies to
the page of stored records it selected, so filters and paging still work on the stored
(export) records and only the items sent differ.

Telecom's ``v2/calls`` answers ``BundleCallModel``s: one per call, the job the call led
to (``jobNumber``, ``projectId``, ``businessUnit``, ``type``) with the call itself in the
``CallModel`` shape under ``leadCall``, built from the same tenant state as the export's
flat ``ExportCallResponse`` of the call. These older models declare no nullability (C#
reference types): where the tenant has no value, a string or object is null (a call that
led to no job, an abandoned call's reason, a caller who is not a customer), a number
``0``, a list ``[]``, as the official API answers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from st_sandbox.store import TenantStore

Record = dict[str, Any]


@dataclass(frozen=True)
class ListShape:
    """How a stream's list items differ from its stored (export) records.

    ``render``: the list items of a page of stored records, in order, read from the
    tenant's tables (called under the store's lock). ``null_references``: the list's
    schema declares no nullability, and a string or object property without a value is
    null, as officially (tests/sandbox/test_catalog_v2.py allows exactly those nulls).
    """

    render: Callable[[TenantStore, list[Record]], list[Record]]
    null_references: bool = False


def _named(ref: Record | None) -> Record | None:
    return None if ref is None else {"id": ref["id"], "name": ref["name"]}


def _business_unit(bu: Record | None) -> Record | None:
    """``Module.Admin.Shared.BusinessUnitModel`` of a business unit."""
    if bu is None:
        return None
    address = bu.get("address") or {}
    tenant = bu.get("tenant")
    return {
        "id": bu["id"],
        "active": bu["active"],
        "name": bu["name"],
        **{
            name: bu.get(name)
            for name in (
                "officialName",
                "email",
                "currency",
                "phoneNumber",
                "invoiceHeader",
                "invoiceMessage",
            )
        },
        "defaultTaxRate": float(bu.get("defaultTaxRate") or 0),
        "authorizationParagraph": bu.get("authorizationParagraph"),
        "acknowledgementParagraph": bu.get("acknowledgementParagraph"),
        "address": {
            name: address.get(name)
            for name in ("street", "unit", "city", "state", "zip", "country")
        },
        **{
            name: bu.get(name)
            for name in (
                "materialSku",
                "quickbooksClass",
                "accountCode",
                "franchiseId",
                "conceptCode",
                "corporateContractNumber",
            )
        },
        "tenant": tenant if isinstance(tenant, dict) else None,
        "modifiedOn": bu["modifiedOn"],
    }


def _campaign(campaign: Record | None) -> Record | None:
    """``Marketing.Core.CampaignModel`` of a campaign."""
    if campaign is None:
        return None
    category = campaign.get("category")
    numbers = campaign.get("campaignPhoneNumbers") or []
    return {
        "id": campaign["id"],
        "name": campaign["name"],
        "modifiedOn": campaign["modifiedOn"],
        "createdOn": campaign["createdOn"],
        "active": campaign["active"],
        "isDefaultCampaign": campaign.get("isDefaultCampaign"),
        "category": None
        if category is None
        else {"id": category["id"], "name": category["name"], "active": category["active"]},
        **{
            name: campaign.get(name)
            for name in ("source", "otherSource", "businessUnit", "medium", "otherMedium")
        },
        "dnis": numbers[0] if numbers else None,
    }


def _customer(
    store: TenantStore,
    customer: Record | None,
    contacts: list[Record],
    memberships: list[Record],
) -> Record | None:
    """``Crm.Contracts.Customers.CustomerModel`` of a customer, with its own contacts
    (not its locations') and memberships."""
    if customer is None:
        return None
    address = customer.get("address") or {}
    street, unit = address.get("street"), address.get("unit")
    types = store.tables["membership_types"].records
    emails = [c["value"] for c in contacts if c["type"] == "Email"]
    balance = customer.get("balance")
    return {
        "id": customer["id"],
        "active": customer["active"],
        "name": customer["name"],
        "email": emails[0] if emails else None,
        "balance": None if balance is None else float(balance),
        "doNotMail": bool(customer.get("doNotMail")),
        "address": {
            "street": street,
            "unit": unit,
            "country": address.get("country"),
            "city": address.get("city"),
            "state": address.get("state"),
            "zip": address.get("zip"),
            "streetAddress": f"{street} {unit}" if street and unit else street,
            "latitude": address.get("latitude"),
            "longitude": address.get("longitude"),
        },
        "importId": customer.get("importId"),
        "doNotService": bool(customer.get("doNotService")),
        "type": customer["type"],
        "contacts": [
            {
                "id": c["id"],
                "type": c["type"],
                "value": c["value"],
                "memo": c.get("memo"),
                "active": c["active"],
                "modifiedOn": c["modifiedOn"],
            }
            for c in contacts
        ],
        "mergedToId": customer.get("mergedToId"),
        "modifiedOn": customer["modifiedOn"],
        "memberships": [
            {
                "id": m["id"],
                "active": m["active"],
                "type": _membership_type(types.get(m["membershipTypeId"])),
                "status": m["status"],
                "from": m.get("from"),
                "to": m.get("to"),
                "locationId": m.get("locationId") or 0,
            }
            for m in memberships
        ],
        "hasActiveMembership": any(m["active"] and m["status"] == "Active" for m in memberships),
        "customFields": [
            {"typeId": f.get("typeId"), "name": f.get("name"), "value": f.get("value")}
            for f in customer.get("customFields") or []
        ],
        "createdOn": customer["createdOn"],
        "createdBy": customer.get("createdById"),
        "phoneSettings": [
            {"phoneNumber": s["phoneNumber"], "doNotText": s["doNotText"]}
            for c in contacts
            if isinstance(s := c.get("phoneSettings"), dict)
        ],
    }


def _membership_type(kind: Record | None) -> Record | None:
    return (
        None if kind is None else {"id": kind["id"], "active": kind["active"], "name": kind["name"]}
    )


def call_bundles(store: TenantStore, calls: list[Record]) -> list[Record]:
    """Telecom's ``BundleCallModel`` of each call: the job it led to (the export's
    ``job``) and the call as a ``CallModel`` under ``leadCall``: ``receivedOn`` is when
    it was received (the export's ``createdOn``), ``callType`` the export's ``type``,
    ``voiceMailUrl`` its ``voiceMailPath``; the sandbox keeps no call ``sid`` or tags."""
    tables = store.tables
    jobs, bus = tables["jobs"].records, tables["business_units"].records
    job_types, reasons = tables["job_types"].records, tables["jbce_call_reasons"].records
    campaigns, customers = tables["marketing_campaigns"].records, tables["customers"].records
    wanted = {c["customer"]["id"] for c in calls if c.get("customer")}
    contacts: dict[int, list[Record]] = {cid: [] for cid in wanted}
    memberships: dict[int, list[Record]] = {cid: [] for cid in wanted}
    if wanted:  # one pass over each table per page
        for contact in tables["contacts"].records.values():
            if contact["customerId"] in wanted and contact.get("locationId") is None:
                contacts[contact["customerId"]].append(contact)
        for membership in tables["memberships"].records.values():
            if membership["customerId"] in wanted:
                memberships[membership["customerId"]].append(membership)
    out = []
    for call in calls:
        job = jobs.get(call["job"]["id"]) if call.get("job") else None
        job_type = job_types.get(job["jobTypeId"]) if job else None
        reason = reasons.get(call["reason"]["id"]) if call.get("reason") else None
        cid = call["customer"]["id"] if call.get("customer") else None
        agent = call.get("agent")
        campaign = campaigns.get(call["campaign"]["id"]) if call.get("campaign") else None
        lead_call = {
            "id": call["id"],
            "receivedOn": call["createdOn"],
            "duration": call["duration"],
            "from": call["from"],
            "to": call["to"],
            "direction": call["direction"],
            "callType": call.get("type"),
            "reason": None
            if reason is None
            else {
                "id": reason["id"],
                "name": reason["name"],
                "lead": reason["isLead"],
                "active": reason["active"],
            },
            "recordingUrl": call.get("recordingUrl"),
            "voiceMailUrl": call.get("voiceMailPath"),
            "createdBy": _named(call.get("createdBy")),
            "customer": None
            if cid is None
            else _customer(store, customers.get(cid), contacts[cid], memberships[cid]),
            "campaign": _campaign(campaign),
            "modifiedOn": call["modifiedOn"],
            "agent": None
            if agent is None
            else {"id": agent["id"], "name": agent["name"], "externalId": agent.get("externalId")},
            "sid": None,
            "tags": [],
            "createdOn": call["createdOn"],
            "active": call["active"],
        }
        out.append(
            {
                "id": call["id"],
                "jobNumber": job["jobNumber"] if job else None,
                "projectId": (job.get("projectId") or 0) if job else 0,
                "businessUnit": _business_unit(bus.get(job["businessUnitId"]) if job else None),
                "type": None
                if job_type is None
                else {
                    "id": job_type["id"],
                    "name": job_type["name"],
                    "modifiedOn": job_type["modifiedOn"],
                },
                "leadCall": lead_call,
            }
        )
    return out


LIST_SHAPES: dict[str, ListShape] = {
    "telecom_calls": ListShape(call_bundles, null_references=True),
}
"""The streams whose numbered list items are not their stored records, by stream."""
