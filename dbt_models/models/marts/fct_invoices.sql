-- One row per invoice. Revenue is what the business earned: subtotal less discounts,
-- without the sales tax it collects for the state.
with invoices as (
    select * from {{ ref('stg_invoices') }}
),

applied as (
    select invoice_id, sum(applied_amount) as applied_amount, count(*) as payment_count
    from {{ ref('stg_payment_applications') }}
    where is_active
    group by invoice_id
)

select
    invoices.invoice_id,
    invoices.reference_number,
    invoices.customer_id,
    invoices.location_id,
    invoices.business_unit_id,
    invoices.job_id,
    invoices.membership_id,
    invoices.invoiced_at,
    cast(invoices.invoiced_at as date) as invoice_date,
    invoices.due_at,
    invoices.sub_total,
    invoices.discount_total,
    invoices.sales_tax,
    invoices.total,
    invoices.sub_total - invoices.discount_total as revenue,
    coalesce(applied.applied_amount, 0) as applied_amount,
    coalesce(applied.payment_count, 0) as payment_count,
    invoices.balance,
    invoices.balance <> 0 as is_open,
    case
        when invoices.balance <> 0 and invoices.due_at is not null
            then greatest(date_diff('day', cast(invoices.due_at as date), current_date), 0)
    end as days_past_due,
    invoices.sent_status,
    invoices.review_status,
    invoices.paid_at,
    invoices.is_active,
    invoices.created_at,
    invoices.modified_at
from invoices
left join applied on applied.invoice_id = invoices.invoice_id
