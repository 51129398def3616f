-- One row per payment, with what it settles.
with applied as (
    select
        payment_id,
        sum(applied_amount) as applied_amount,
        count(distinct invoice_id) as invoice_count,
        list(invoice_id order by invoice_id) as invoice_ids
    from {{ ref('stg_payment_applications') }}
    group by payment_id
)

select
    payments.payment_id,
    payments.customer_id,
    payments.business_unit_id,
    payments.payment_type,
    payments.reference_number,
    payments.paid_at,
    cast(payments.paid_at as date) as payment_date,
    payments.total,
    coalesce(applied.applied_amount, 0) as applied_amount,
    payments.unapplied_amount,
    coalesce(applied.invoice_count, 0) as invoice_count,
    applied.invoice_ids,
    payments.is_active,
    payments.created_at,
    payments.modified_at
from {{ ref('stg_payments') }} as payments
left join applied on applied.payment_id = payments.payment_id
