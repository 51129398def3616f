"""Typed models for every entity the tenant serves: one model per entity, shared by
assets, write-back, the sandbox's tests and the dbt sources.

Field names follow the official ServiceTitan v2 schemas (``../shared/servicetitan-openapi``):
Python attributes are snake_case, the wire names are the API's camelCase aliases.
Money is ``Decimal`` (the API sends decimal strings for invoices and payments and JSON
numbers elsewhere), timestamps are timezone-aware UTC, statuses are enums, and an
unknown status from a newer server is kept as a plain string instead of failing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel


def _to_utc(value: datetime) -> datetime:
    # A naive timestamp from the API is UTC by contract; never let local time leak in.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(lambda v: v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), return_type=str),
]
"""A timezone-aware UTC timestamp, serialized as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""

Money = Annotated[Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str)]
"""A decimal amount; serialized as a decimal string so no float ever touches money."""


# Status fields are typed ``SomeEnum | str``: pydantic tries the enum first, and an unknown
# value from a newer server stays a plain string instead of failing the sync.


_ENUM_OR_STR = Field(union_mode="left_to_right")


class StModel(BaseModel):
    """Base for every API model: camelCase on the wire, snake_case in Python.

    Extra fields sent by a newer server are ignored rather than fatal, so an API
    upgrade never breaks a sync.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=False,
    )

    def to_api(self) -> dict[str, Any]:
        """The JSON-ready dict with the API's field names."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


# --- enums (values from the official v2 specs) -------------------------------------------


class CustomerType(StrEnum):
    RESIDENTIAL = "Residential"
    COMMERCIAL = "Commercial"


class ContactType(StrEnum):
    PHONE = "Phone"
    EMAIL = "Email"
    FAX = "Fax"
    MOBILE_PHONE = "MobilePhone"


class JobStatus(StrEnum):
    SCHEDULED = "Scheduled"
    DISPATCHED = "Dispatched"
    IN_PROGRESS = "InProgress"
    HOLD = "Hold"
    COMPLETED = "Completed"
    CANCELED = "Canceled"


class AppointmentStatus(StrEnum):
    SCHEDULED = "Scheduled"
    DISPATCHED = "Dispatched"
    WORKING = "Working"
    HOLD = "Hold"
    DONE = "Done"
    CANCELED = "Canceled"


class AssignmentStatus(StrEnum):
    SCHEDULED = "Scheduled"
    DISPATCHED = "Dispatched"
    WORKING = "Working"
    DONE = "Done"


class MembershipStatus(StrEnum):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    EXPIRED = "Expired"
    CANCELED = "Canceled"
    DELETED = "Deleted"


class OpportunityStatus(StrEnum):
    NOT_ATTEMPTED = "NotAttempted"
    UNREACHABLE = "Unreachable"
    CONTACTED = "Contacted"
    WON = "Won"
    DISMISSED = "Dismissed"


class RecurrenceType(StrEnum):
    ONE_TIME = "OneTime"
    MONTHLY = "Monthly"
    EVERY_OTHER_MONTH = "EveryOtherMonth"
    QUARTERLY = "Quarterly"
    BI_ANNUAL = "BiAnnual"
    ANNUAL = "Annual"


class DiscountMode(StrEnum):
    BASIC = "Basic"
    UNITS = "Units"
    CATEGORIES = "Categories"


class InvoiceItemType(StrEnum):
    SERVICE = "Service"
    MATERIAL = "Material"
    EQUIPMENT = "Equipment"
    PRICE_MODIFIER = "PriceModifier"
    UNSPECIFIED = "Unspecified"


class InvoiceSentStatus(StrEnum):
    NOT_SENT = "NotSent"
    SENT = "Sent"
    OPENED = "Opened"


class InvoiceReviewStatus(StrEnum):
    NEEDS_REVIEW = "NeedsReview"
    ON_HOLD = "OnHold"
    REVIEWED = "Reviewed"
    PENDING_APPROVAL = "PendingApproval"
    REJECTED = "Rejected"
    READY_FOR_BILLING = "ReadyForBilling"
    INVOICED = "Invoiced"


class EquipmentStatus(StrEnum):
    INSTALLED = "Installed"
    REPLACED = "Replaced"


class EstimateReviewStatus(StrEnum):
    NONE = "None"
    NEEDS_APPROVAL = "NeedsApproval"
    APPROVED = "Approved"
    NOT_APPROVED = "NotApproved"


class EstimateStatusName(StrEnum):
    OPEN = "Open"
    SOLD = "Sold"
    DISMISSED = "Dismissed"


class PaymentType(StrEnum):
    CREDIT_CARD = "Credit Card"
    ACH = "ACH"
    CHECK = "Check"
    CASH = "Cash"


# --- shared value objects --------------------------------------------------------------


class Address(StModel):
    """A postal address (``Crm.V2.Customers.CustomerAddress``)."""

    street: str
    unit: str | None = None
    city: str
    state: str
    zip: str
    country: str = "USA"
    latitude: float | None = None
    longitude: float | None = None


class NamedRef(StModel):
    """A reference to another record by id and display name (``NamedFieldResponse``)."""

    id: int
    name: str | None = None


class JobRef(StModel):
    """The job an invoice belongs to (``Accounting.V2.JobResponse``)."""

    id: int
    number: str | None = None
    type: str | None = None


# --- CRM ---------------------------------------------------------------------------------


class MembershipSummary(StModel):
    """A customer's membership as nested by ``GET /customers?include=memberships``."""

    id: int
    membership_type_id: int
    status: Annotated[MembershipStatus | str, _ENUM_OR_STR]
    to: UtcDatetime | None = None


class Location(StModel):
    """A service location of a customer (``Crm.V2.Locations.LocationResponse``)."""

    id: int
    customer_id: int
    active: bool
    name: str
    address: Address
    tax_zone_id: int | None = None
    zone_id: int | None = None
    tax_exempt: bool = False
    created_on: UtcDatetime
    created_by_id: int | None = None
    modified_on: UtcDatetime


class Customer(StModel):
    """A residential or commercial customer (``Crm.V2.Customers.CustomerResponse``)."""

    id: int
    active: bool
    name: str
    type: Annotated[CustomerType | str, _ENUM_OR_STR]
    address: Address
    balance: Money
    tax_exempt: bool = False
    do_not_mail: bool = False
    do_not_service: bool = False
    merged_to_id: int | None = None
    created_on: UtcDatetime
    created_by_id: int | None = None
    modified_on: UtcDatetime
    # Present only with ``include=locations`` / ``include=memberships``.
    locations: list[Location] | None = None
    memberships: list[MembershipSummary] | None = None


class Contact(StModel):
    """A phone number or e-mail of a customer, optionally tied to one of its locations."""

    id: int
    customer_id: int
    location_id: int | None = None
    type: Annotated[ContactType | str, _ENUM_OR_STR]
    value: str
    memo: str | None = None
    active: bool = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


# --- settings ----------------------------------------------------------------------------


class BusinessUnit(StModel):
    """A business unit: one trade at one branch (``TenantSettings.V2.BusinessUnitResponse``)."""

    id: int
    active: bool
    name: str
    official_name: str | None = None
    trade: str | None = None
    branch: str | None = None
    email: str | None = None
    phone_number: str | None = None
    currency: str | None = "USD"
    address: Address | None = None
    created_on: UtcDatetime
    modified_on: UtcDatetime


class Skill(StModel):
    """A technician skill (``TenantSettings.V2.TechnicianSkillResponse``)."""

    id: int
    name: str | None = None


class Technician(StModel):
    """A field technician (``TenantSettings.V2.TechnicianResponse``).

    ``shift_start``/``shift_end`` are local wall-clock times (``HH:MM:SS``) of the
    technician's daily shift, which utilization reports compare with booked hours.
    """

    id: int
    user_id: int | None = None
    name: str
    business_unit_id: int | None = None
    email: str | None = None
    phone_number: str | None = None
    skills: list[Skill] = Field(default_factory=list)
    shift_start: str | None = None
    shift_end: str | None = None
    hourly_rate: Money = Decimal("0")
    active: bool
    created_on: UtcDatetime
    modified_on: UtcDatetime


class JobType(StModel):
    """A job type with the business units and skills it needs (``Jpm.V2.JobTypeResponse``)."""

    id: int
    name: str
    business_unit_ids: list[int] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    priority: str = "Normal"
    duration: int = Field(default=120, description="Default duration in minutes.")
    active: bool = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


class TaxRate(StModel):
    """One rate inside a tax zone (``Accounting.V2.TaxRateResponse``)."""

    tax_name: str | None = None
    tax_rate: Decimal = Field(description="Percent, e.g. 8.25 for 8.25 %.")


class TaxZone(StModel):
    """A tax zone; a location's ``taxZoneId`` selects the sales tax of its invoices."""

    id: int
    name: str | None = None
    rates: list[TaxRate] = Field(default_factory=list)
    active: bool = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


# --- jobs and dispatch -------------------------------------------------------------------


class AppointmentAssignment(StModel):
    """A technician assigned to an appointment (``Dispatch.V2.AppointmentAssignmentResponse``)."""

    id: int
    technician_id: int
    technician_name: str
    assigned_by_id: int | None = None
    assigned_on: UtcDatetime
    status: Annotated[AssignmentStatus | str, _ENUM_OR_STR]
    is_paused: bool = False
    job_id: int
    appointment_id: int
    active: bool = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


class Appointment(StModel):
    """A scheduled visit of a job, with its assignments (``Jpm.V2.AppointmentResponse``)."""

    id: int
    job_id: int
    appointment_number: str | None = None
    start: UtcDatetime
    end: UtcDatetime
    arrival_window_start: UtcDatetime | None = None
    arrival_window_end: UtcDatetime | None = None
    status: Annotated[AppointmentStatus | str, _ENUM_OR_STR]
    special_instructions: str | None = None
    customer_id: int
    unused: bool = False
    is_confirmed: bool = False
    active: bool = True
    # When the first technician arrived (status Working); drives on-time reports.
    arrived_on: UtcDatetime | None = None
    assignments: list[AppointmentAssignment] = Field(default_factory=list)
    created_on: UtcDatetime
    created_by_id: int | None = None
    modified_on: UtcDatetime


class Job(StModel):
    """A job (``Jpm.V2.JobResponse``). ``invoice_id`` is null until the job is invoiced."""

    id: int
    job_number: str
    customer_id: int
    location_id: int
    job_status: Annotated[JobStatus | str, _ENUM_OR_STR]
    completed_on: UtcDatetime | None = None
    business_unit_id: int
    job_type_id: int
    priority: str = "Normal"
    campaign_id: int | None = None
    appointment_count: int = 0
    first_appointment_id: int | None = None
    last_appointment_id: int | None = None
    membership_id: int | None = None
    invoice_id: int | None = None
    total: Money | None = None
    created_from_estimate_id: int | None = None
    estimate_ids: list[int] = Field(default_factory=list)
    summary: str | None = None
    active: bool = True
    created_on: UtcDatetime
    created_by_id: int | None = None
    modified_on: UtcDatetime


# --- accounting --------------------------------------------------------------------------


class InvoiceItem(StModel):
    """A line of an invoice (``Accounting.V2.InvoiceItemResponse``); ``price`` is per unit."""

    id: int
    description: str | None = None
    quantity: Decimal
    price: Money
    total: Money
    type: Annotated[InvoiceItemType | str, _ENUM_OR_STR]
    sku_id: int | None = None
    sku_name: str | None = None
    taxable: bool = True
    order: int = 0
    membership_type_id: int | None = None
    created_on: UtcDatetime
    modified_on: UtcDatetime


class Invoice(StModel):
    """An invoice with its items (``Accounting.V2.InvoiceResponse``).

    Arithmetic: ``sub_total - discount_total + sales_tax = total`` and
    ``balance = total - applied payments``.
    """

    id: int
    reference_number: str | None = None
    invoice_date: UtcDatetime | None = None
    due_date: UtcDatetime | None = None
    sub_total: Money
    discount_total: Money
    sales_tax: Money
    total: Money
    balance: Money
    tax_zone_id: int | None = None
    customer: NamedRef
    location: NamedRef
    business_unit: NamedRef
    job: JobRef | None = None
    membership_id: int | None = None
    sent_status: Annotated[InvoiceSentStatus | str, _ENUM_OR_STR]
    review_status: Annotated[InvoiceReviewStatus | str, _ENUM_OR_STR]
    paid_on: UtcDatetime | None = None
    summary: str | None = None
    items: list[InvoiceItem] = Field(default_factory=list)
    active: bool = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


class PaymentApplication(StModel):
    """The part of a payment applied to one invoice (``PaymentAppliedResponse``)."""

    applied_amount: Money
    applied_id: int
    applied_to: int = Field(description="The invoice id.")
    applied_on: UtcDatetime | None = None
    applied_by: str | None = None


class Payment(StModel):
    """A customer payment (``Accounting.V2.DetailedPaymentResponse``)."""

    id: int
    type: Annotated[PaymentType | str, _ENUM_OR_STR] | None = None
    type_id: int | None = None
    reference_number: str | None = None
    auth_code: str | None = None
    check_number: str | None = None
    memo: str | None = None
    date: UtcDatetime | None = None
    total: Money
    unapplied_amount: Money = Decimal("0")
    customer: NamedRef
    business_unit: NamedRef | None = None
    applied_to: list[PaymentApplication] = Field(default_factory=list)
    active: bool = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


# --- memberships -------------------------------------------------------------------------


class MembershipType(StModel):
    """A membership plan and the discount it gives (``Memberships.V2.MembershipTypeResponse``)."""

    id: int
    name: str
    display_name: str | None = None
    active: bool
    discount_mode: Annotated[DiscountMode | str, _ENUM_OR_STR]
    discount: Decimal = Field(description="Percent off invoice items, e.g. 10 for 10 %.")
    billing_frequency: Annotated[RecurrenceType | str, _ENUM_OR_STR] | None = None
    price: Money | None = None
    created_on: UtcDatetime
    modified_on: UtcDatetime


class Membership(StModel):
    """A customer's membership (``Memberships.V2.CustomerMembershipResponse``)."""

    id: int
    customer_id: int
    location_id: int | None = None
    business_unit_id: int
    membership_type_id: int
    status: Annotated[MembershipStatus | str, _ENUM_OR_STR]
    follow_up_status: Annotated[OpportunityStatus | str, _ENUM_OR_STR]
    from_: UtcDatetime | None = Field(default=None, alias="from")
    to: UtcDatetime | None = None
    next_scheduled_bill_date: UtcDatetime | None = None
    billing_frequency: Annotated[RecurrenceType | str, _ENUM_OR_STR]
    cancellation_date: UtcDatetime | None = None
    follow_up_on: UtcDatetime | None = None
    duration: int | None = Field(default=None, description="Months.")
    initial_deferred_revenue: Money = Decimal("0")
    active: bool
    created_on: UtcDatetime
    modified_on: UtcDatetime


class RecurringServiceEvent(StModel):
    """A planned visit owed by a membership (``LocationRecurringServiceEventResponse``)."""

    id: int
    location_recurring_service_id: int
    location_recurring_service_name: str | None = None
    membership_id: int | None = None
    membership_name: str | None = None
    location_id: int | None = None
    status: Annotated[OpportunityStatus | str, _ENUM_OR_STR]
    date: UtcDatetime
    job_id: int | None = None
    active: bool = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


# --- equipment and pricebook -------------------------------------------------------------


class InstalledEquipment(StModel):
    """Equipment installed at a location (``EquipmentSystems.V2.InstalledEquipmentResponse``)."""

    id: int
    active: bool
    equipment_id: int | None = None
    location_id: int
    customer_id: int
    name: str
    installed_on: UtcDatetime | None = None
    serial_number: str
    manufacturer: str
    model: str
    cost: Money
    status: Annotated[EquipmentStatus | str, _ENUM_OR_STR]
    memo: str = ""
    manufacturer_warranty_start: UtcDatetime | None = None
    manufacturer_warranty_end: UtcDatetime | None = None
    service_provider_warranty_start: UtcDatetime | None = None
    service_provider_warranty_end: UtcDatetime | None = None
    created_on: UtcDatetime
    modified_on: UtcDatetime


class PricebookCategory(StModel):
    """A pricebook category (``Pricebook.V2.CategoryResponse``)."""

    id: int
    name: str
    active: bool = True
    parent_id: int | None = None
    category_type: str = Field(description="Services or Materials.")
    business_unit_ids: list[int] = Field(default_factory=list)
    created_on: UtcDatetime
    modified_on: UtcDatetime


class Warranty(StModel):
    """A warranty term (``Pricebook.V2.SkuWarrantyResponse``); duration in months."""

    duration: int = 0
    description: str | None = None


class PricebookService(StModel):
    """A service SKU (``Pricebook.V2.ServiceResponse``)."""

    id: int
    code: str
    display_name: str | None = None
    description: str = ""
    categories: list[NamedRef] = Field(default_factory=list)
    price: Money
    member_price: Money
    add_on_price: Money = Decimal("0")
    cost: Money = Decimal("0")
    taxable: bool = False
    hours: Decimal = Decimal("0")
    business_unit_id: int | None = None
    active: bool
    created_on: UtcDatetime
    modified_on: UtcDatetime


class PricebookMaterial(StModel):
    """A material SKU (``Pricebook.V2.MaterialResponse``)."""

    id: int
    code: str
    display_name: str | None = None
    description: str = ""
    categories: list[int] = Field(default_factory=list)
    price: Money
    member_price: Money
    cost: Money
    unit_of_measure: str | None = None
    taxable: bool | None = True
    active: bool
    created_on: UtcDatetime
    modified_on: UtcDatetime


class PricebookEquipment(StModel):
    """An equipment SKU (``Pricebook.V2.EquipmentResponse``)."""

    id: int
    code: str
    display_name: str | None = None
    description: str = ""
    categories: list[int] = Field(default_factory=list)
    price: Money
    member_price: Money
    cost: Money
    manufacturer: str | None = None
    model: str | None = None
    manufacturer_warranty: Warranty = Field(default_factory=Warranty)
    taxable: bool = True
    active: bool
    created_on: UtcDatetime
    modified_on: UtcDatetime


# --- sales -------------------------------------------------------------------------------


class EstimateStatus(StModel):
    """``Estimates.V2.EstimateStatusModel``: value 0 Open, 1 Sold, 2 Dismissed."""

    value: int
    name: Annotated[EstimateStatusName | str, _ENUM_OR_STR]


class EstimateSku(StModel):
    """The SKU of an estimate item (``Estimates.V2.SkuModel``)."""

    id: int
    name: str
    display_name: str | None = None
    type: Annotated[InvoiceItemType | str, _ENUM_OR_STR]


class EstimateItem(StModel):
    """A line of an estimate (``Estimates.V2.EstimateItemResponse``)."""

    id: int
    sku: EstimateSku
    description: str = ""
    qty: Decimal
    unit_rate: Money
    total: Money
    taxable: bool = True
    membership_type_id: int | None = None
    chargeable: bool | None = True
    created_on: UtcDatetime
    modified_on: UtcDatetime


class Estimate(StModel):
    """An estimate (``Estimates.V2.EstimateResponse``); Sold ones become invoice items."""

    id: int
    job_id: int | None = None
    location_id: int | None = None
    customer_id: int | None = None
    name: str | None = None
    job_number: str | None = None
    status: EstimateStatus
    review_status: Annotated[EstimateReviewStatus | str, _ENUM_OR_STR]
    summary: str | None = None
    sold_on: UtcDatetime | None = None
    sold_by: int | None = None
    items: list[EstimateItem] = Field(default_factory=list)
    subtotal: Money
    tax: Money
    business_unit_id: int | None = None
    business_unit_name: str | None = None
    active: bool
    created_on: UtcDatetime
    modified_on: UtcDatetime


# --- change feed -------------------------------------------------------------------------


class Event(StModel):
    """One entry of the change feed ``GET /events``."""

    id: int
    type: str = Field(description="e.g. job.status_changed, invoice.paid")
    entity: str = Field(description="The entity name, e.g. jobs, invoices")
    entity_id: int
    occurred_on: UtcDatetime
    data: dict[str, Any] = Field(default_factory=dict)
