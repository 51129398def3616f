-- One row per invoice line, with the invoice's customer, business unit and date.
select
    items.invoice_item_id,
    items.invoice_id,
    invoices.customer_id,
    invoices.business_unit_id,
    invoices.invoice_date,
    items.line_order,
    items.item_type,
    items.sku_id,
    items.sku_name,
    items.description,
    items.quantity,
    items.unit_price,
    items.total,
    items.is_taxable,
    items.membership_type_id
from {{ ref('stg_invoice_items') }} as items
inner join {{ ref('fct_invoices') }} as invoices on invoices.invoice_id = items.invoice_id
