-- One row per line of an invoice's newest version.
with invoices as {{ latest_version('invoices') }}

select
    i.id as invoice_item_id,
    invoices.id as invoice_id,
    i.description,
    cast(i.quantity as decimal(18, 4)) as quantity,
    {{ money('i.price') }} as unit_price,
    {{ money('i.total') }} as total,
    i.type as item_type,
    i."skuId" as sku_id,
    i."skuName" as sku_name,
    i.taxable as is_taxable,
    i."order" as line_order,
    i."membershipTypeId" as membership_type_id
from invoices, unnest(invoices.items) as t(i)
