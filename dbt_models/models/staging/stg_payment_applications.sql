-- One row per invoice a payment's newest version is applied to.
with payments as {{ latest_version('payments') }}

select
    a."appliedId" as application_id,
    payments.id as payment_id,
    a."appliedTo" as invoice_id,
    {{ money('a."appliedAmount"') }} as applied_amount,
    {{ utc('a."appliedOn"') }} as applied_at,
    a."appliedBy" as applied_by,
    payments.active as is_active
from payments, unnest(payments."appliedTo") as t(a)
