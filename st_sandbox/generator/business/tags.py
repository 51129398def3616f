"""Tags, custom fields and external data on customers, locations and jobs, and the type
streams that define them (``settings_tag_types``, ``crm_customers_custom_fields``,
``crm_locations_custom_fields``, ``jpm_jobs_custom_fields``).

The types are fixed tables, so the ids the core records carry are the ids the type
streams define whatever order the streams are built in. ``decorate_core`` runs at the end
of the core jobs build (the customers' memberships are known then) on about half a
million records at 100k customers: values come from small pools of shared lists, one
draw per record, and from a side random stream so the core records do not change.
"""

from __future__ import annotations

from st_sandbox.clock import US_PER_DAY
from st_sandbox.generator.business.common import side_rng
from st_sandbox.generator.state import DrawRandom, GenState, Record

# (id, name, color, code, importance): the tags a service company puts on its records.
TAG_TYPES: tuple[tuple[int, str, str, str, str | None], ...] = (
    (1, "VIP", "#D4AF37", "VIP", "High"),
    (2, "Member", "#2E7D32", "MBR", "Medium"),
    (3, "Commercial", "#1565C0", "COM", None),
    (4, "Do not call", "#C62828", "DNC", "High"),
    (5, "Warranty", "#6A1B9A", "WTY", "Medium"),
    (6, "Callback", "#EF6C00", "CB", "High"),
    (7, "Dog on site", "#795548", "DOG", None),
    (8, "New construction", "#00838F", "NEWC", None),
)
TAG_ID = {name: tid for tid, name, *_ in TAG_TYPES}

# Custom field types per entity: (id, name, dataType, options, values a tenant enters).
FieldType = tuple[int, str, str, tuple[str, ...], tuple[str, ...]]
CUSTOMER_FIELDS: tuple[FieldType, ...] = (
    (1, "Preferred contact time", "Dropdown", ("Morning", "Afternoon", "Evening"), ()),
    (2, "Referral source", "Dropdown", ("Neighbor", "Google", "Yelp", "Facebook", "Mailer"), ()),
    (3, "Preferred technician", "Text", (), ("Any", "Same as last visit", "Senior tech")),
    (4, "Billing notes", "Text", (), ("Net 30", "Email invoices only", "Card on file")),
)
LOCATION_FIELDS: tuple[FieldType, ...] = (
    (1, "Gate code", "Text", (), ()),  # digits, drawn
    (2, "Pets", "Dropdown", ("None", "Dog", "Cat", "Dog and cat"), ()),
    (3, "Parking", "Dropdown", ("Driveway", "Street", "Garage", "Loading dock"), ()),
    (4, "Equipment location", "Dropdown", ("Attic", "Basement", "Garage", "Roof", "Closet"), ()),
)
JOB_FIELDS: tuple[FieldType, ...] = (
    (1, "Permit number", "Text", (), ()),  # drawn
    (2, "Warranty claim", "Dropdown", ("Yes", "No"), ()),
    (3, "Access instructions", "Text", (), ("Call on arrival", "Key in lockbox", "Side door")),
    (4, "Estimated hours", "Numeric", (), ("1", "1.5", "2", "3", "4")),
)
# How many distinct custom-field lists each entity draws from: enough variety for a
# dashboard, few enough that the lists are shared objects (records never mutate them).
POOL = 512
EMPTY: list[Record] = []


def _value(rng: DrawRandom, ftype: FieldType) -> str:
    _fid, name, _kind, options, values = ftype
    if options:
        return rng.choice(options)
    if values:
        return rng.choice(values)
    if name == "Gate code":
        return f"#{rng.randrange(1000, 9999)}"
    return f"P-{rng.randrange(20000, 99999)}"  # a permit number


def _pool(rng: DrawRandom, types: tuple[FieldType, ...]) -> list[list[Record]]:
    """``POOL`` non-empty custom-field lists: one to three of the types, in type order."""
    pool: list[list[Record]] = []
    for _ in range(POOL):
        chosen = sorted(rng.sample(range(len(types)), rng.randrange(1, 4)))
        pool.append(
            [
                {"typeId": types[i][0], "name": types[i][1], "value": _value(rng, types[i])}
                for i in chosen
            ]
        )
    return pool


def decorate_core(g: GenState) -> None:
    """Custom fields on about half the customers, locations and jobs, tags where they
    follow from the record (commercial, member) or by chance (VIP, warranty, callback), and external ids
    from a former system on a few percent of customers."""
    rng = side_rng(g, "tags")
    rand = rng.random
    tag_lists: dict[tuple[int, ...], list[int]] = {}  # shared lists, one per combination

    def tags(*ids: int) -> list[int]:
        return tag_lists.setdefault(ids, list(ids))

    pool = _pool(rng, CUSTOMER_FIELDS)
    members = g.cust_membership
    vip, member, commercial, dnc = (
        TAG_ID["VIP"],
        TAG_ID["Member"],
        TAG_ID["Commercial"],
        TAG_ID["Do not call"],
    )
    for cust in g.tables["customers"]:
        r = rand()
        cust["customFields"] = pool[int(r * 2 * POOL)] if r < 0.5 else EMPTY
        ids: tuple[int, ...] = ()
        if rand() < 0.04:
            ids += (vip,)
        if cust["id"] in members:
            ids += (member,)
        if cust["type"] == "Commercial":
            ids += (commercial,)
        if rand() < 0.02:
            ids += (dnc,)
        cust["tagTypeIds"] = tags(*ids)
        # Customers migrated from the former CRM keep its id.
        cust["externalData"] = (
            [{"key": "legacyCrmId", "value": f"LC-{cust['id'] + 40000}"}]
            if rand() < 0.03
            else EMPTY
        )
    pool = _pool(rng, LOCATION_FIELDS)
    dog, newc = TAG_ID["Dog on site"], TAG_ID["New construction"]
    for loc in g.tables["locations"]:
        r = rand()
        loc["customFields"] = pool[int(r * 2 * POOL)] if r < 0.5 else EMPTY
        r = rand()
        loc["tagTypeIds"] = tags(dog) if r < 0.06 else (tags(newc) if r < 0.08 else tags())
        loc["externalData"] = EMPTY
    pool = _pool(rng, JOB_FIELDS)
    warranty, callback = TAG_ID["Warranty"], TAG_ID["Callback"]
    for job in g.tables["jobs"]:
        r = rand()
        job["customFields"] = pool[int(r * 2 * POOL)] if r < 0.45 else EMPTY
        r = rand()
        job["tagTypeIds"] = tags(warranty) if r < 0.05 else (tags(callback) if r < 0.09 else tags())
        job["externalData"] = EMPTY


def _types(g: GenState, types: tuple[FieldType, ...]) -> list[Record]:
    created = g.ts(g.start_us - 20 * US_PER_DAY)
    return [
        {
            "id": fid,
            "name": name,
            "dataType": kind,
            "dataTypeOptions": list(options),
            "createdOn": created,
            "modifiedOn": created,
        }
        for fid, name, kind, options, _values in types
    ]


def build_tag_types(g: GenState) -> list[Record]:
    """``settings_tag_types``: the tags ``decorate_core`` puts on records."""
    created = g.ts(g.start_us - 20 * US_PER_DAY)
    return [
        {
            "id": tid,
            "name": name,
            "color": color,
            "code": code,
            "importance": importance,
            "isConversionOpportunity": name in ("VIP", "Warranty"),
            "allowToUseOnTimesheetActivity": name == "Callback",
            "isVisibleOnDispatchBoard": importance is not None,
            "active": True,
            "createdOn": created,
            "modifiedOn": created,
        }
        for tid, name, color, code, importance in TAG_TYPES
    ]


def build_customer_field_types(g: GenState) -> list[Record]:
    """``crm_customers_custom_fields``."""
    return _types(g, CUSTOMER_FIELDS)


def build_location_field_types(g: GenState) -> list[Record]:
    """``crm_locations_custom_fields``."""
    return _types(g, LOCATION_FIELDS)


def build_job_field_types(g: GenState) -> list[Record]:
    """``jpm_jobs_custom_fields``."""
    return _types(g, JOB_FIELDS)
