{{ config(meta={'dagster': {'ref': {'name': 'fct_invoices'}}}) }}
-- (Attached to fct_invoices in Dagster: a singular test on several models needs a home.)
-- Invoice arithmetic: an invoice's subtotal is the sum of its lines.
select invoices.invoice_id, invoices.sub_total, coalesce(sum(items.total), 0) as lines_total
from {{ ref('fct_invoices') }} as invoices
left join {{ ref('fct_invoice_items') }} as items on items.invoice_id = invoices.invoice_id
group by invoices.invoice_id, invoices.sub_total
having invoices.sub_total <> coalesce(sum(items.total), 0)
