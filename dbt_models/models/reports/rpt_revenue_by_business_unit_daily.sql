-- Revenue (subtotal less discounts, without sales tax) per business unit per UTC day of
-- the invoice date.
select
    invoices.invoice_date as revenue_date,
    invoices.business_unit_id,
    business_units.business_unit_name,
    count(*) as invoice_count,
    sum(invoices.revenue) as revenue,
    sum(invoices.sales_tax) as sales_tax,
    sum(invoices.total) as billed_total
from {{ ref('fct_invoices') }} as invoices
left join {{ ref('stg_business_units') }} as business_units
    on business_units.business_unit_id = invoices.business_unit_id
where invoices.is_active and invoices.invoice_date is not null
group by all
